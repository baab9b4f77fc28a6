"""The docs say what the code does: the hook table of docs/plugins.md lists every hook of
gateway/hookspecs.py with its parameters, in the same order."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from gateway import hookspecs

DOCS = Path(__file__).resolve().parents[1] / "docs"
ROW = re.compile(r"^\| `(\w+)\(([^)]*)\)` \|")


def specs() -> dict[str, list[str]]:
    found = {}
    for name, value in vars(hookspecs).items():
        if callable(value) and hasattr(value, "identity_gateway_spec"):
            found[name] = list(inspect.signature(value).parameters)
    return found


def documented() -> dict[str, list[str]]:
    rows = {}
    for line in (DOCS / "plugins.md").read_text().splitlines():
        match = ROW.match(line)
        if match:
            params = [p.strip() for p in match.group(2).split(",") if p.strip()]
            rows[match.group(1)] = params
    return rows


def test_every_hook_is_documented_with_its_parameters():
    assert specs(), "no hook specs found"
    assert documented() == specs()


def test_every_direct_hook_says_so_in_the_table():
    """A hook answered at once (not awaited) says "startup" or "directly" where it is
    called."""
    direct = {name for name in specs() if getattr(getattr(hookspecs, name), "direct", False)}
    marked = set()
    for line in (DOCS / "plugins.md").read_text().splitlines():
        match = ROW.match(line)
        if match and ("startup" in line.split("|")[2] or "directly" in line.split("|")[2]):
            marked.add(match.group(1))
    assert marked == direct
