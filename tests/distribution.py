"""A plugin distribution as a third party has it, outside this repository: its own tests,
a strict type check against the gateway as installed (a site-packages folder holding the
gateway package, py.typed and all, not this checkout on the path), and a real install.

The installed gateway is a throwaway interpreter environment (`python -m venv
--without-pip`, a few milliseconds) whose site-packages holds a link to the gateway package
and a .pth naming the test interpreter's own site-packages for the libraries: nothing is
installed into the test environment."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def installed_gateway(folder: Path) -> Path:
    """An interpreter (its path) on whose site-packages the gateway is installed."""
    python = folder / "bin" / "python"
    if python.exists():
        return python
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True,
                   timeout=120)
    site = Path(subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True, timeout=60).stdout.strip())
    (site / "gateway").symlink_to(ROOT / "gateway", target_is_directory=True)
    (site / "test_libraries.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python


def run(argv: list[str], cwd: Path, timeout: float = 300,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})
    return done


def own_tests(dist: Path, python: str = sys.executable) -> subprocess.CompletedProcess[str]:
    """The distribution's tests, run as its author runs them (`pytest` in its folder)."""
    return run([python, "-m", "pytest", "-q", "-p", "no:cacheprovider"], dist)


def strict_types(dist: Path, python: Path, cache: Path) -> subprocess.CompletedProcess[str]:
    """mypy as the distribution's pyproject sets it (strict), finding the gateway where
    `python` has it installed."""
    return run([sys.executable, "-m", "mypy", "--python-executable", str(python),
                "--cache-dir", str(cache)], dist)


def lint(dist: Path) -> subprocess.CompletedProcess[str]:
    """The gateway's own lint rules (pyproject.toml), whatever ruff configuration the
    machine has."""
    return run([sys.executable, "-m", "ruff", "check", "--isolated", "--no-cache",
                "--select", "E,F,W,I,B,UP,ASYNC", "--target-version", "py311",
                "--line-length", "99", "."], dist)


def outcome(done: subprocess.CompletedProcess[str]) -> str:
    return f"exit {done.returncode}\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
