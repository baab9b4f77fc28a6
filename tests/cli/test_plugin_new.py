"""`identity-gateway plugin new NAME [--idp]`: the distribution it writes passes its own
tests, a strict type check against the installed gateway and the linter, unchanged; once
installed, its entry point is found, the config enables it and `serve` runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from distribution import installed_gateway, lint, outcome, own_tests, strict_types
from serving import LINE, free_port, launch, read_lines, stop, wait_ready

from gateway.testing import cli, scim_user


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return installed_gateway(tmp_path_factory.getbasetemp() / "installed-gateway")


def new_plugin(tmp_path: Path, *args: str) -> Path:
    dist = tmp_path / "dist"
    made = cli("plugin", "new", *args, "--directory", str(dist), config=None)
    assert made.returncode == 0, made.stderr
    return dist


@pytest.mark.parametrize("kind", ["--idp", "policy"])
def test_a_new_plugin_passes_its_tests_strict_types_and_lint(tmp_path, site, kind):
    dist = new_plugin(tmp_path, "acme", *([kind] if kind.startswith("--") else []))
    package = dist / "identity_gateway_acme"
    assert (package / "py.typed").exists() and (dist / "README.md").exists()
    pyproject = (dist / "pyproject.toml").read_text()
    assert "[build-system]" in pyproject
    assert '[project.entry-points."identity_gateway.plugins"]\nacme = "identity_gateway_acme"' \
        in pyproject
    tests = own_tests(dist)
    assert tests.returncode == 0 and " passed" in tests.stdout, outcome(tests)
    typed = strict_types(dist, site, tmp_path.parent / "mypy-cache")
    assert typed.returncode == 0, outcome(typed)
    linted = lint(dist)
    assert linted.returncode == 0, outcome(linted)


def test_names_and_folders_it_refuses(tmp_path):
    bad = cli("plugin", "new", "Acme-IdP", "--directory", str(tmp_path / "x"), config=None)
    assert bad.returncode == 2 and "lower-case letters" in bad.stderr
    assert not (tmp_path / "x").exists()
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    taken = cli("plugin", "new", "acme", "--directory", str(tmp_path / "taken"), config=None)
    assert taken.returncode == 2 and "not empty" in taken.stderr
    assert [p.name for p in (tmp_path / "taken").iterdir()] == ["notes.txt"]


def test_installed_it_is_found_enabled_by_config_and_served(tmp_path, site):
    dist = new_plugin(tmp_path, "acme", "--idp")
    pip = subprocess.run([sys.executable, "-m", "pip", "--python", str(site),
                          "install", "-q", "--disable-pip-version-check", "--no-deps", "-e",
                          str(dist)], capture_output=True, text=True, timeout=600)
    assert pip.returncode == 0, pip.stderr
    config = tmp_path / "gateway.toml"
    config.write_text('[plugins]\nenabled = ["acme"]\n')
    gateway = [str(site), "-m", "gateway.cli.main"]
    listed = subprocess.run([*gateway, "plugins", "--config", str(config)],
                            capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0, listed.stderr
    assert "acme\t0.1.0\tconsole_pages, normalize_request, validate_resource" in listed.stdout
    port = free_port()
    proc = launch(["serve", "--migrate", "--host", "127.0.0.1", "--port", str(port),
                   "--database", str(tmp_path / "gw.db"), "--config", str(config),
                   "--log-level", "warning"], command=gateway)
    try:
        first = dict(line.split(": ", 1) for line in read_lines(proc, 5))
        base = LINE.match(f"SCIM base URL: {first['SCIM base URL']}").group(1)
        root = base.split("/scim/")[0]
        wait_ready(base)
        admin = {"Authorization": f"Bearer {first['Admin token']}"}
        with httpx.Client(timeout=30) as http:
            made = http.post(f"{root}/admin/v1/providers", headers=admin,
                             json={"name": "acme", "plugin": "acme"})
            assert made.status_code == 201, made.text
            acme = {"Authorization": f"Bearer {made.json()['credentials']['Bearer token']}"}
            body = scim_user("ada@example.com", active="False", externalId="1")
            user = http.post(f"{root}/scim/v2/{made.json()['id']}/Users", headers=acme,
                             json=body)
            assert user.status_code == 201 and user.json()["active"] is False, user.text
            plain = {"Authorization": f"Bearer {first['Bearer token']}"}
            other = http.post(f"{base}/Users", headers=plain, json=body)
            assert other.status_code == 400, other.text  # no dialect for another provider
    finally:
        stop(proc)
