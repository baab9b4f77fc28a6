"""Replays an IdP request trace (the format of shared/idp-traces/README.md) over HTTP.

One trace is a list of steps; each sends a request to the provider's SCIM base URL and
checks the response against a subset expectation. Captured values are substituted as
``{{name}}`` in later paths, bodies, headers, expectations and capture names.

On top of the shared format (all optional, so a shared trace replays unchanged):

- top level: ``source`` (where the requests come from: repository, path, commit or URL),
  ``chosen`` (what the trace fills in where its source leaves a value open), ``left_out``;
  in a step, ``from`` (the step or request of the source) -- documentation only;
- ``headers`` in a step: request headers to send instead of the provider's (a null value
  drops the header: ``{"Authorization": null}`` sends none);
- ``form`` instead of ``body``: an ``application/x-www-form-urlencoded`` body;
- ``only``: the credential kinds the step runs with (``["oauth"]`` for a token request);
- ``repeat``: send the step that many times, ``{{n}}`` counting from 1;
- ``expect.headers``: response headers, each expected value a case-insensitive substring of
  the one received; ``expect.within_ms``: the response arrives within that many ms;
  ``expect.at``: dotted paths into the response body (``Resources.0.id``) and the value
  each must match, for assertions about one position of a list;
- matchers in ``expect.json`` and ``expect.at`` besides ``"__absent__"``: ``"__empty__"``
  (absent, or null, "", [] or {}: what a client reads as "no value"), ``"__present__"`` (any
  value but null), ``"__nonempty__"`` (not null, "", [] or {}), ``"__number__"`` (an
  integer), ``{"__range__": [low, high]}`` (a number between them, inclusive).

Before the first step, ``{{credential}}`` holds the credential kind and, for an OAuth
client, ``{{client_id}}`` and ``{{client_secret}}`` hold its credentials.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import httpx

ABSENT = "__absent__"
EMPTY = "__empty__"
PRESENT = "__present__"
NONEMPTY = "__nonempty__"
NUMBER = "__number__"
RANGE = "__range__"
_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")


def load(path: Path) -> dict:
    return json.loads(path.read_text())


def substitute(value: Any, captured: dict) -> Any:
    if isinstance(value, str):
        while True:  # inner placeholders first: {{user_{{n}}}} is {{user_3}} is the id
            done = _PLACEHOLDER.sub(lambda m: str(captured[m.group(1)]), value)
            if done == value:
                return done
            value = done
    if isinstance(value, list):
        return [substitute(v, captured) for v in value]
    if isinstance(value, dict):
        return {k: substitute(v, captured) for k, v in value.items()}
    return value


def encode(path: str) -> str:
    """A trace's unencoded path and query, encoded as a client would send it."""
    base, _, query = path.partition("?")
    if not query:
        return quote(base)
    params = [part.partition("=")[::2] for part in query.split("&") if part]
    return quote(base) + "?" + urlencode(params, quote_via=quote)


def find(obj: dict, key: str) -> tuple[bool, Any]:
    lowered = key.lower()
    for k, v in obj.items():
        if k.lower() == lowered:
            return True, v
    return False, None


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def matcher(expected: Any, actual: Any, where: str) -> str | None:
    """The special expectations other than __absent__ (which needs the key's presence)."""
    if expected == EMPTY:
        if actual is None or actual in ("", [], {}):
            return None
        return f"{where}: expected no value, got {actual!r}"
    if expected == PRESENT:
        return None if actual is not None else f"{where}: expected a value, got null"
    if expected == NONEMPTY:
        if actual is None or actual in ("", [], {}):
            return f"{where}: expected a non-empty value, got {actual!r}"
        return None
    if expected == NUMBER:
        if isinstance(actual, int) and not isinstance(actual, bool):
            return None
        return f"{where}: expected an integer, got {actual!r}"
    low, high = expected[RANGE]
    if _is_number(actual) and low <= actual <= high:
        return None
    return f"{where}: expected a number in [{low}, {high}], got {actual!r}"


def is_matcher(expected: Any) -> bool:
    if isinstance(expected, str):
        return expected in (EMPTY, PRESENT, NONEMPTY, NUMBER)
    return isinstance(expected, dict) and list(expected) == [RANGE]


def mismatch(expected: Any, actual: Any, where: str = "$") -> str | None:
    """None when actual contains expected (README's subset rules), else where it differs."""
    if is_matcher(expected):
        return matcher(expected, actual, where)
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return f"{where}: expected an object, got {actual!r}"
        for key, want in expected.items():
            present, got = find(actual, key)
            if want == ABSENT:
                if present:
                    return f"{where}.{key}: expected absent, got {got!r}"
                continue
            if want == EMPTY and not present:
                continue
            if not present:
                return f"{where}.{key}: missing"
            problem = mismatch(want, got, f"{where}.{key}")
            if problem:
                return problem
        return None
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return f"{where}: expected a list, got {actual!r}"
        for i, want in enumerate(expected):
            if all(mismatch(want, got) for got in actual):
                return f"{where}[{i}]: no element matches {want!r} in {actual!r}"
        return None
    if expected != actual or type(expected) is not type(actual):
        return f"{where}: expected {expected!r}, got {actual!r}"
    return None


def dig(body: Any, dotted: str) -> Any:
    """The value at a dotted path (list positions as numbers); None where there is none."""
    for part in dotted.split("."):
        if isinstance(body, list):
            body = body[int(part)] if part.isdigit() and int(part) < len(body) else None
        elif isinstance(body, dict):
            body = find(body, part)[1]
        else:
            return None
    return body


def run(client: httpx.Client, base: str, headers: dict, trace: dict, kind: str = "",
        credentials: dict | None = None) -> None:
    """Every step of the trace, in order; an AssertionError names the failing step."""
    captured: dict = {"credential": kind, **(credentials or {})}
    for number, step in enumerate(trace["steps"], 1):
        if "only" in step and kind not in step["only"]:
            continue
        for n in range(1, step.get("repeat", 1) + 1):
            captured["n"] = n
            label = f"{trace['name']} step {number} ({step['note']})"
            if "repeat" in step:
                label += f" #{n}"
            send(client, base, headers, step, captured, label)


def send(client: httpx.Client, base: str, headers: dict, step: dict, captured: dict,
         label: str) -> None:
    url = base + encode(substitute(step["path"], captured))
    sent = dict(headers)
    for name, value in substitute(step.get("headers") or {}, captured).items():
        for old in [k for k in sent if k.lower() == name.lower()]:
            del sent[old]
        if value is not None:
            sent[name] = value
    content = None
    if "body" in step:
        content = json.dumps(substitute(step["body"], captured)).encode()
        sent["Content-Type"] = step.get("content_type", "application/scim+json")
    elif "form" in step:
        content = urlencode(substitute(step["form"], captured)).encode()
        sent["Content-Type"] = "application/x-www-form-urlencoded"
    response = client.request(step["method"], url, headers=sent, content=content)
    expect = substitute(step["expect"], captured)
    statuses = expect["status"] if isinstance(expect["status"], list) else [expect["status"]]
    assert response.status_code in statuses, \
        f"{label}: status {response.status_code}, expected {statuses}: {response.text}"
    for name, want in (expect.get("headers") or {}).items():
        got = response.headers.get(name)
        assert got is not None and want.lower() in got.lower(), \
            f"{label}: header {name} is {got!r}, expected it to contain {want!r}"
    if "within_ms" in expect:
        took = response.elapsed.total_seconds() * 1000
        assert took <= expect["within_ms"], \
            f"{label}: answered in {took:.0f} ms, expected at most {expect['within_ms']} ms"
    body = response.json() if response.content else None
    if "json" in expect:
        problem = mismatch(expect["json"], body)
        assert problem is None, f"{label}: {problem}\nresponse: {response.text}"
    for dotted, want in (expect.get("at") or {}).items():
        problem = mismatch(want, dig(body, dotted), dotted)
        assert problem is None, f"{label}: {problem}\nresponse: {response.text}"
    for name, dotted in (step.get("capture") or {}).items():
        name = substitute(name, captured)
        captured[name] = dig(body, dotted)
        assert captured[name] is not None, f"{label}: nothing at '{dotted}' to capture"
