"""docs/plugins.md's tutorial, run: its `plugin new` command, then every block that names a
file written into the new distribution (the first block of a file replaces the generated
one, later ones are appended), then the distribution's own tests, its strict type check
against the installed gateway, and the linter. The page cannot drift from the code."""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path

from distribution import installed_gateway, lint, outcome, own_tests, strict_types

from gateway.testing import cli

PAGE = Path(__file__).resolve().parents[1] / "docs" / "plugins.md"
BLOCK = re.compile(r'^```\w+ title="([^"]+)"\n(.*?)^```', re.M | re.S)


def tutorial() -> str:
    text = PAGE.read_text()
    start = text.index("## Tutorial:")
    return text[start:text.index("\n## ", start + 1)]


def build(folder: Path) -> Path:
    """The tutorial's distribution, made as the page says."""
    command = re.search(r"^identity-gateway (plugin new .+)$", tutorial(), re.M)
    assert command, "the tutorial starts from `identity-gateway plugin new`"
    dist = folder / "dist"
    made = cli(*shlex.split(command.group(1)), "--directory", str(dist), config=None)
    assert made.returncode == 0, made.stderr
    written: set[str] = set()
    for name, code in BLOCK.findall(tutorial()):
        path = dist / name
        assert path.resolve().is_relative_to(dist.resolve()), name
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a" if name in written else "w") as out:
            out.write(code)
        written.add(name)
    assert written, "the tutorial has blocks that name their file"
    return dist


def test_the_tutorial_builds_a_plugin_that_passes_its_tests_and_strict_types(tmp_path):
    dist = build(tmp_path)
    tests = own_tests(dist)
    assert tests.returncode == 0 and "3 passed" in tests.stdout, outcome(tests)
    site = installed_gateway(tmp_path / "installed-gateway")
    typed = strict_types(dist, site, tmp_path / "mypy-cache")
    assert typed.returncode == 0, outcome(typed)
    linted = lint(dist)
    assert linted.returncode == 0, outcome(linted)


def test_a_broken_step_fails_the_tutorial(tmp_path, monkeypatch):
    """The check can fail: a tutorial whose manager step is lost leaves a test failing."""
    page = tutorial()
    step = page.index("### 3.")
    broken = page[:step] + page[page.index("### 4.", step):]
    monkeypatch.setattr(sys.modules[__name__], "tutorial", lambda: broken)
    tests = own_tests(build(tmp_path))
    assert tests.returncode != 0, outcome(tests)
