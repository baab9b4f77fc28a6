// identity-gateway console: copy buttons, confirmations, live updates. The pages work
// without it; this only saves clicks and reloads.
(function () {
  "use strict";

  // One polite status line (base.html, #announce) for what changes without a page load, so
  // that a screen reader says it too.
  function announce(text) {
    var line = document.getElementById("announce");
    if (line) line.textContent = text;
  }

  function copy(button) {
    var target = document.getElementById(button.getAttribute("data-copy"));
    if (!target) return;
    var text = target.textContent;
    var done = function () {
      var before = button.textContent;
      button.textContent = "Copied";
      announce("Copied to the clipboard");
      setTimeout(function () { button.textContent = before; }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { select(target); });
    } else {
      select(target);
      try { document.execCommand("copy"); done(); } catch (e) { /* selected for the user */ }
    }
  }

  function select(node) {
    var range = document.createRange();
    range.selectNodeContents(node);
    var sel = window.getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (button) { event.preventDefault(); copy(button); }
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) event.preventDefault();
  });

  // "Add provisioning provider": offer only the chosen IdP's credential types.
  function idpForm(form) {
    var select = form.querySelector("select[name=kind]");
    function update() {
      var chosen = form.querySelector("input[name=idp]:checked");
      var idp = chosen ? chosen.value : "";
      var first = null;
      Array.prototype.forEach.call(select.querySelectorAll("optgroup"), function (group) {
        var mine = group.getAttribute("data-idp") === idp;
        group.hidden = !mine;
        group.disabled = !mine;
        if (mine && !first) first = group.querySelector("option");
      });
      var current = select.options[select.selectedIndex];
      if (!current || current.parentNode.disabled) { if (first) first.selected = true; }
    }
    form.addEventListener("change", function (event) {
      if (event.target.name === "idp") update();
    });
    update();
  }
  Array.prototype.forEach.call(document.querySelectorAll("[data-idp-form]"), idpForm);

  // A choice that shows only its own fields: <select data-reveal="FORM-ID">, whose form's
  // elements with data-shows="VALUE" are shown (and sent) only for their value. Without
  // script its "Show its fields" button (data-reveal-button) reloads the page with the choice.
  function reveal(select) {
    var form = document.getElementById(select.getAttribute("data-reveal"));
    if (!form) return;
    var value = form.querySelector("[data-reveal-value='" + select.id + "']");
    function update() {
      Array.prototype.forEach.call(form.querySelectorAll("[data-shows]"), function (group) {
        var mine = group.getAttribute("data-shows") === select.value;
        group.hidden = !mine;
        group.disabled = !mine;
      });
      if (value) value.value = select.value;
    }
    Array.prototype.forEach.call(form.querySelectorAll("[data-reveal-button]"), function (b) {
      b.hidden = true;
    });
    select.addEventListener("change", update);
    update();
  }
  Array.prototype.forEach.call(document.querySelectorAll("select[data-reveal]"), reveal);

  // Times (render.py's `when`): the server writes the moment in UTC and how long ago it
  // was; here the moment is said in the browser's own time zone, and "3 minutes ago" kept
  // true while the page stays open.
  var UNITS = [["year", 365 * 86400], ["month", 30 * 86400], ["day", 86400],
               ["hour", 3600], ["minute", 60]];
  function relative(then) {
    var seconds = (Date.now() - then) / 1000;
    if (Math.abs(seconds) < 60) return "just now";
    for (var i = 0; i < UNITS.length; i++) {
      var count = Math.floor(Math.abs(seconds) / UNITS[i][1]);
      if (count) {
        var text = count + " " + UNITS[i][0] + (count === 1 ? "" : "s");
        return seconds > 0 ? text + " ago" : "in " + text;
      }
    }
    return "just now";
  }
  var local = null;
  try {
    local = new Intl.DateTimeFormat("en-CA", {
      year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
      second: "2-digit", hourCycle: "h23", timeZoneName: "short"});
  } catch (e) { /* an old browser: the times stay in UTC */ }
  function absolute(then) {
    var part = {};
    local.formatToParts(then).forEach(function (p) { part[p.type] = p.value; });
    return part.year + "-" + part.month + "-" + part.day + " " + part.hour + ":" +
      part.minute + ":" + part.second + " " + part.timeZoneName;
  }
  function write(node, text) {
    if (node && node.textContent !== text) node.textContent = text;
  }
  // `later`: the refresh while the page stays open, which leaves live regions alone (a
  // screen reader would say each minute that passes).
  function times(root, later) {
    Array.prototype.forEach.call(root.querySelectorAll("time[data-when]"), function (node) {
      var then = new Date(node.getAttribute("datetime"));
      if (isNaN(then.getTime())) return;
      if (later && node.closest("[aria-live], [role=status]")) return;
      if (local) write(node.querySelector(".when-at"), absolute(then));
      write(node.querySelector(".when-ago"), "(" + relative(then) + ")");
    });
  }
  times(document);
  setInterval(function () { times(document, true); }, 30000);

  // Elements with data-poll="URL" ask URL for JSON every few seconds:
  //   {"html": "...", "state": "...", "done": bool} replaces the element's content,
  //   {"rows": "...", "after": N} prepends rows to the element's <tbody> (the sync log; a
  //   row with the data-batch of one shown replaces it),
  //   {"every": ms} sets the delay before the next request.
  // Content that did not change is left alone: a live region would say it again, and a
  // reader would lose their place. Both sides go through the browser's own serializer.
  function same(node, html) {
    var parsed = document.createElement("template");
    parsed.innerHTML = html;
    // A time counts by its moment: the words around it are rewritten here (see times).
    var squeeze = function (text) {
      return text.replace(/<time([^>]*)>[\s\S]*?<\/time>/g, "<time$1></time>")
        .replace(/ open=""/g, "").replace(/\s+/g, " ").replace(/> </g, "><").trim();
    };
    return squeeze(parsed.innerHTML) === squeeze(node.innerHTML);
  }

  // New content keeps what the reader opened (a <details> with an id) open.
  function replace(node, html) {
    var open = Array.prototype.map.call(node.querySelectorAll("details[open][id]"),
                                        function (d) { return d.id; });
    node.innerHTML = html;
    times(node);
    open.forEach(function (id) {
      var found = document.getElementById(id);
      if (found) found.open = true;
    });
  }

  function poll(node) {
    var url = node.getAttribute("data-poll");
    var every = parseInt(node.getAttribute("data-every") || "2000", 10);
    function tick() {
      var sep = url.indexOf("?") < 0 ? "?" : "&";
      var after = node.getAttribute("data-after");
      fetch(url + (after !== null ? sep + "after=" + encodeURIComponent(after) : ""),
            {credentials: "same-origin", headers: {"Accept": "application/json"}})
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) {
          if (!data) return;
          if (data.html !== undefined && !same(node, data.html)) replace(node, data.html);
          if (data.state !== undefined) node.setAttribute("data-state", data.state);
          if (data.rows) {
            var body = node.querySelector("tbody");
            var holder = document.createElement("tbody");
            holder.innerHTML = data.rows;
            var added = holder.children.length;
            times(holder);
            var rows = Array.prototype.slice.call(holder.children);
            while (holder.lastElementChild) body.insertBefore(holder.lastElementChild, body.firstElementChild);
            // A batch that grew comes again as one row: it takes the place of the one shown.
            rows.forEach(function (row) {
              var batch = row.getAttribute("data-batch");
              if (!batch) return;
              Array.prototype.forEach.call(body.querySelectorAll("tr[data-batch]"), function (other) {
                if (rows.indexOf(other) < 0 && other.getAttribute("data-batch") === batch) other.remove();
              });
            });
            if (added) announce(added === 1 ? "1 new entry" : added + " new entries");
          }
          if (data.after !== undefined) node.setAttribute("data-after", data.after);
          if (data.every) every = data.every;
          if (!data.done) setTimeout(tick, every);
        }, function () { setTimeout(tick, every * 2); });
    }
    setTimeout(tick, every);
  }
  Array.prototype.forEach.call(document.querySelectorAll("[data-poll]"), poll);
})();

// Long-running forms (data-busy): say what is happening and keep it from being sent twice.
document.addEventListener("submit", function (event) {
  var form = event.target;
  var busy = form.getAttribute("data-busy");
  if (!busy || event.defaultPrevented) return;
  var button = form.querySelector("button[type=submit]");
  if (button) { button.disabled = true; button.textContent = busy; }
});
