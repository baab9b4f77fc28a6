"""The docs say what the code does: the hook table of docs/plugins.md lists every hook of
gateway/hookspecs.py with its parameters, in the same order, whether it is answered
directly and which providers it sees; every hook has an example there that registers
against its specification. (The page's tutorial is run by tests/test_tutorial.py.)"""

from __future__ import annotations

import inspect
import re
import types
from pathlib import Path

import pytest

from gateway import hookspecs
from gateway.hooks import make_plugin_manager

DOCS = Path(__file__).resolve().parents[1] / "docs"
ROW = re.compile(r"^\| `(\w+)\(([^)]*)\)` \|")
EXAMPLE = re.compile(r'^```python hook="(\w+)"\n(.*?)^```', re.M | re.S)


def specs() -> dict[str, list[str]]:
    found = {}
    for name, value in vars(hookspecs).items():
        if callable(value) and hasattr(value, "identity_gateway_spec"):
            found[name] = list(inspect.signature(value).parameters)
    return found


def rows() -> dict[str, list[str]]:
    """Each hook's row of the table: its cells after the first."""
    found = {}
    for line in (DOCS / "plugins.md").read_text().splitlines():
        match = ROW.match(line)
        if match:
            found[match.group(1)] = [cell.strip() for cell in line.split("|")[2:-1]]
    return found


def documented() -> dict[str, list[str]]:
    out = {}
    for line in (DOCS / "plugins.md").read_text().splitlines():
        match = ROW.match(line)
        if match:
            out[match.group(1)] = [p.strip() for p in match.group(2).split(",") if p.strip()]
    return out


def test_every_hook_is_documented_with_its_parameters():
    assert specs(), "no hook specs found"
    assert documented() == specs()


def test_every_direct_hook_says_so_in_the_table():
    """A hook answered at once (not awaited) says "startup" or "directly" where it is
    called."""
    direct = {name for name in specs() if getattr(getattr(hookspecs, name), "direct", False)}
    marked = {name for name, cells in rows().items()
              if "startup" in cells[0] or "directly" in cells[0]}
    assert marked == direct


def test_the_table_says_which_providers_each_hook_sees():
    for name, params in specs().items():
        spec = getattr(hookspecs, name)
        wanted = "own providers" if getattr(spec, "scoped", False) else \
            "every provider" if "provider" in params else "—"
        assert rows()[name][1] == wanted, name


def examples() -> dict[str, str]:
    found: dict[str, str] = {}
    for name, code in EXAMPLE.findall((DOCS / "plugins.md").read_text()):
        assert name not in found, f"two examples of {name}"
        found[name] = code
    return found


def test_every_hook_has_an_example():
    assert sorted(examples()) == sorted(specs())


@pytest.mark.parametrize("hook", sorted(specs()))
def test_each_example_registers_against_its_hook(hook):
    """Run as a module of a plugin named acme: pluggy checks its parameters against the
    specification, the gateway its style (direct, scope)."""
    module = types.ModuleType(f"example_{hook}")
    exec(compile(examples()[hook], f"docs/plugins.md ({hook})", "exec"), module.__dict__)
    implementation = getattr(module, hook)
    assert hasattr(implementation, "identity_gateway_impl"), f"{hook} is not a @hookimpl"
    pm = make_plugin_manager(extra={"acme": module})
    assert [impl.function for impl in getattr(pm.hook, hook).get_hookimpls()] \
        == [implementation]
