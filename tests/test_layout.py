"""The shape of the code a newcomer relies on: the layer order docs/architecture.md draws,
no import cycles in the core, plugins that import only the public surface, and a core that
never names a plugin.

The import graph is read from the source (the `import` statements that run, so not those
under `if TYPE_CHECKING:`, which only feed the type checker): a cycle here is one Python
would meet at run time, whichever module is imported first.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from gateway.testing import assert_public_imports, runtime_imports

ROOT = Path(__file__).resolve().parents[1]
CORE = ROOT / "gateway"
PLUGINS = sorted(p for p in (ROOT / "plugins").glob("*/identity_gateway_*")
                 if p.is_dir() and p.suffix != ".egg-info")
PLUGIN_NAMES = ("entra", "okta", "legal_hold", "org_mapping")
ARCHITECTURE = ROOT / "docs" / "architecture.md"


def module_name(path: Path, base: Path) -> str:
    parts = list(path.relative_to(base).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def core_graph() -> dict[str, set[str]]:
    modules = {module_name(p, ROOT): p for p in CORE.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for _, target, names in runtime_imports(ast.parse(path.read_text())):
            if not target.startswith("gateway"):
                continue
            hits = [f"{target}.{n}" for n in names if f"{target}.{n}" in modules] or [target]
            for hit in hits:
                # Importing a.b.c runs the packages a and a.b first.
                parts = hit.split(".")
                for i in range(1, len(parts) + 1):
                    prefix = ".".join(parts[:i])
                    if prefix in modules and prefix != name and not name.startswith(prefix + "."):
                        graph[name].add(prefix)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def walk(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = walk(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = walk(node)
            if cycle:
                return cycle
    return None


def test_the_core_has_no_import_cycle():
    graph = core_graph()
    assert len(graph) > 50 and graph["gateway.core"], "the graph was read"
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


def test_the_cycle_check_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_imports_inside_functions_say_why():
    """A function-level import hides a dependency; each one left carries `# lazy: why`."""
    unexplained = []
    for path in CORE.rglob("*.py"):
        source = path.read_text()
        lines = source.splitlines()
        for stmt, target, _ in runtime_imports(ast.parse(source)):
            if stmt.col_offset == 0:
                continue
            if "lazy:" not in lines[stmt.lineno - 1] and "lazy:" not in lines[stmt.lineno - 2]:
                unexplained.append(f"{path.relative_to(ROOT)}:{stmt.lineno} {target}")
    assert unexplained == []


def layers() -> list[list[str]]:
    """The numbered list under "Layers, from the bottom" in docs/architecture.md: each
    layer's modules and packages, as module names (`scim/` -> gateway.scim)."""
    text = ARCHITECTURE.read_text()
    section = text[text.index("Layers, from the bottom"):]
    found = []
    for line in section.splitlines()[2:]:
        if not re.match(r"\d+\. ", line):
            if found and not line.startswith("   "):
                break
            continue
        names = re.findall(r"`([\w.]+)/?`", line.split(":")[0])
        found.append([f"gateway.{name}" for name in names])
    return found


def layer_of(module: str, order: list[list[str]]) -> int | None:
    if module == "gateway":
        return 0
    for number, members in enumerate(order):
        if any(module == m or module.startswith(m + ".") for m in members):
            return number
    return None


def test_every_import_follows_the_layer_order():
    order = layers()
    assert len(order) >= 8 and ["gateway.core"] in order, order
    graph = core_graph()
    unplaced = sorted(m for m in graph if layer_of(m, order) is None)
    assert unplaced == [], "modules docs/architecture.md places in no layer"
    upward = [f"{module} (layer {layer_of(module, order)}) imports {target} "
              f"(layer {layer_of(target, order)})"
              for module, targets in sorted(graph.items()) for target in sorted(targets)
              if (layer_of(target, order) or 0) > (layer_of(module, order) or 0)]
    assert upward == []


def test_the_layer_check_finds_an_upward_import():
    order = [["gateway.errors"], ["gateway.events"], ["gateway.accounts"]]
    assert layer_of("gateway.events.payload", order) == 1
    assert layer_of("gateway.accounts.lifecycle", order) == 2
    assert layer_of("gateway.nowhere", order) is None


@pytest.mark.parametrize("package", PLUGINS, ids=lambda p: p.name)
def test_bundled_plugins_import_only_the_public_surface(package):
    assert_public_imports(package)


def test_the_public_surface_exports_what_it_imports():
    import gateway.plugin as surface

    exported = set(surface.__all__)
    imported = {name for name in vars(surface) if not name.startswith("_")
                and name not in ("annotations",)}
    assert exported == imported


def code_words(tree: ast.AST) -> list[tuple[int, str]]:
    """Names, attributes and string constants of the code, docstrings left out."""
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef,
                                       ast.ClassDef))
                  and node.body and isinstance(node.body[0], ast.Expr)
                  and isinstance(node.body[0].value, ast.Constant)}
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                and id(node) not in docstrings:
            out.append((node.lineno, node.value))
        elif isinstance(node, ast.Name):
            out.append((node.lineno, node.id))
        elif isinstance(node, ast.Attribute):
            out.append((node.lineno, node.attr))
    return out


# The fields the bundled plugins add to the admin's user view. `organization` and `roles`
# are also attributes of SCIM's own schemas (RFC 7643), which gateway/scim/ defines.
PLUGIN_FIELDS = ("legal_hold", "organization", "roles", "watchlist")
# Core words that hold a plugin field's name: the console's single sign-on setting
# `roles_claim` (the ID token claim whose values give a console role).
CORE_WORDS = ("roles_claim",)


def test_the_core_never_names_a_plugin_or_its_fields():
    """Plugin names and their fields appear only in plugins (the hooks are the only door)."""
    named = []
    for path in CORE.rglob("*.py"):
        words = PLUGIN_NAMES if path.parent.name == "scim" else PLUGIN_NAMES + PLUGIN_FIELDS
        for line, text in code_words(ast.parse(path.read_text())):
            lowered = text.lower()
            for core_word in CORE_WORDS:
                lowered = lowered.replace(core_word, "")
            if any(word in lowered for word in words):
                named.append(f"{path.relative_to(ROOT)}:{line}: {text}")
    assert named == []
