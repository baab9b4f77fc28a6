"""Replays an IdP request trace (the format of shared/idp-traces/README.md) over HTTP.

One trace is a list of steps; each sends a request to the provider's SCIM base URL and
checks the response against a subset expectation. Captured values are substituted as
``{{name}}`` in later paths, bodies and expectations.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import httpx

ABSENT = "__absent__"
_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")


def load(path: Path) -> dict:
    return json.loads(path.read_text())


def substitute(value: Any, captured: dict) -> Any:
    if isinstance(value, str):
        return _PLACEHOLDER.sub(lambda m: str(captured[m.group(1)]), value)
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


def mismatch(expected: Any, actual: Any, where: str = "$") -> str | None:
    """None when actual contains expected (README's subset rules), else where it differs."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return f"{where}: expected an object, got {actual!r}"
        for key, want in expected.items():
            present, got = find(actual, key)
            if want == ABSENT:
                if present:
                    return f"{where}.{key}: expected absent, got {got!r}"
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
    for part in dotted.split("."):
        body = body[int(part)] if isinstance(body, list) else find(body, part)[1]
    return body


def run(client: httpx.Client, base: str, headers: dict, trace: dict) -> None:
    """Every step of the trace, in order; an AssertionError names the failing step."""
    captured: dict = {}
    for number, step in enumerate(trace["steps"], 1):
        label = f"{trace['name']} step {number} ({step['note']})"
        url = base + encode(substitute(step["path"], captured))
        sent = dict(headers)
        content = None
        if "body" in step:
            content = json.dumps(substitute(step["body"], captured)).encode()
            sent["Content-Type"] = step.get("content_type", "application/scim+json")
        response = client.request(step["method"], url, headers=sent, content=content)
        expect = substitute(step["expect"], captured)
        statuses = expect["status"] if isinstance(expect["status"], list) else [expect["status"]]
        assert response.status_code in statuses, \
            f"{label}: status {response.status_code}, expected {statuses}: {response.text}"
        body = response.json() if response.content else None
        if "json" in expect:
            problem = mismatch(expect["json"], body)
            assert problem is None, f"{label}: {problem}\nresponse: {response.text}"
        for name, dotted in (step.get("capture") or {}).items():
            captured[name] = dig(body, dotted)
            assert captured[name] is not None, f"{label}: nothing at '{dotted}' to capture"
