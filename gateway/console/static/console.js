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
    var squeeze = function (text) {
      return text.replace(/ open=""/g, "").replace(/\s+/g, " ").replace(/> </g, "><").trim();
    };
    return squeeze(parsed.innerHTML) === squeeze(node.innerHTML);
  }

  // New content keeps what the reader opened (a <details> with an id) open.
  function replace(node, html) {
    var open = Array.prototype.map.call(node.querySelectorAll("details[open][id]"),
                                        function (d) { return d.id; });
    node.innerHTML = html;
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
