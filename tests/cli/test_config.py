"""A configuration the gateway cannot run with ends startup with one clear line and a
non-zero exit, never a traceback; on a fresh database nothing fails after the one-time
secrets were printed."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import pytest
from serving import EXE, free_port, launch, read_lines, stop


def run(*args: str, cwd: Path | None = None, env: dict | None = None,
        config: str | None = None) -> subprocess.CompletedProcess:
    argv = [str(EXE), *args]
    if config is not None:
        argv += ["--config", config]
    full_env = {k: v for k, v in os.environ.items()
                if k not in ("DATABASE", "PORT", "HOST", "GATEWAY_BASE_URL",
                             "IDENTITY_GATEWAY_CONFIG")}
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd=cwd,
                          env={**full_env, **(env or {})})


def one_line_error(done: subprocess.CompletedProcess, *words: str) -> str:
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    for word in words:
        assert word in lines[0], (word, lines[0])
    assert "token" not in done.stdout.lower(), done.stdout  # no secret was printed
    return lines[0]


SSO = ("[console.sso]\nissuer = 'https://idp.example.com'\nclient_id = 'gw'\n"
       "client_secret = 's3cret'\n")


@pytest.mark.parametrize("toml,words", [
    ("[gateway]\nprot = 8080\n", ["unknown key 'prot' in [gateway]", "did you mean 'port'"]),
    ("[gateway]\nport = 0\n", ["[gateway] port", ">= 1"]),
    ("[gateway]\nport = 'eighty'\n", ["[gateway] port", "int"]),
    ("[gateway]\nsync_log_retention = 'forever'\n",
     ["[gateway] sync_log_retention", "'forever' is not a duration"]),
    ("[gateway]\nbase_url = 'ftp://scim.example.com'\n",
     ["[gateway] base_url", "not an http or https URL"]),
    ("[gateway]\nwebhook_allow_networks = ['10.0.0.1/8']\n",
     ["[gateway] webhook_allow_networks", "'10.0.0.1/8' is not a CIDR network"]),
    ("[gateway]\ndatabase = 'mysql://db.internal/gw'\n",
     ["[gateway] database", "unsupported database URL scheme 'mysql://'"]),
    ("[org_maping]\nroles = []\n", ["unknown section [org_maping]", "did you mean 'org_mapping'"]),
    ("[plugins]\nenable = ['okta']\n", ["unknown key 'enable' in [plugins]",
                                        "did you mean 'enabled'"]),
    ("[plugins]\nenabled = ['okta', 'nosuch']\n", ["plugin 'nosuch'", "not installed"]),
    ("[plugins]\nenabled = ['org_mapping']\n[org_mapping]\nroles = [{description = 'x'}]\n",
     ["plugin 'org_mapping'", "[org_mapping] roles"]),
    ("[gateway\nport = 1\n", ["not valid TOML"]),
    ("[console]\nsoo = {}\n", ["unknown key 'soo' in [console]", "did you mean 'sso'"]),
    (SSO + "admin_value = ['g']\n", ["unknown key 'admin_value' in [console.sso]",
                                     "did you mean 'admin_values'"]),
    ("[console.sso]\nissuer = 'https://idp.example.com'\n",
     ["[console.sso] client_id: is missing"]),
    (SSO.replace("https:", "http:") + "admin_values = ['g']\n",
     ["[console.sso] issuer", "is not https"]),
    (SSO.replace("client_secret = 's3cret'\n", "") + "admin_values = ['g']\n",
     ["[console.sso] client_secret: is missing", "IDENTITY_GATEWAY_SSO_CLIENT_SECRET"]),
    (SSO, ["[console.sso] admin_values", "nobody could sign in"]),
    (SSO + "admin_values = ['g']\nonly = true\n", ["[console.sso] break_glass", "is empty"]),
])
def test_a_bad_config_file_stops_serve_before_anything_is_printed(tmp_path, toml, words):
    """And `identity-gateway plugins` refuses it with the same line: what it lists is what
    serve would run."""
    config = tmp_path / "gateway.toml"
    config.write_text(toml)
    flags = [] if "port =" in toml else ["--port", str(free_port())]
    flags += [] if "database =" in toml else ["--database", str(tmp_path / "gw.db")]
    done = run("serve", *flags, config=str(config), cwd=tmp_path)
    line = one_line_error(done, *words)
    assert one_line_error(run("plugins", config=str(config), cwd=tmp_path), *words) == line
    if "sections" not in line and "TOML" not in line and "installed" not in line \
            and "roles" not in line:
        assert str(config) in line  # the file is named
    assert not (tmp_path / "gw.db").exists()
    assert not (tmp_path / "mysql:").exists()


def test_a_missing_or_unreadable_config_file(tmp_path):
    one_line_error(run("provider", "list", config=str(tmp_path / "nope.toml")),
                   "nope.toml", "does not exist")
    one_line_error(run("provider", "list", config=str(tmp_path)), "is a directory")


def test_environment_overrides_are_checked_and_named(tmp_path):
    done = run("serve", "--database", str(tmp_path / "gw.db"), config=os.devnull,
               env={"PORT": "eighty"})
    one_line_error(done, "environment variable PORT")
    done = run("serve", "--port", str(free_port()), config=os.devnull,
               env={"DATABASE": "mysql://x/y"})
    one_line_error(done, "environment variable DATABASE", "unsupported database URL")


def test_an_unreachable_postgresql_is_one_line(tmp_path):
    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    done = run("serve", "--database", f"postgresql://gw:secret@127.0.0.1:{port}/gw",
               "--port", str(free_port()), config=os.devnull)
    line = one_line_error(done, f"cannot connect to PostgreSQL at 127.0.0.1:{port}/gw")
    assert "secret" not in line  # the URL's password is not repeated


def test_a_taken_port_fails_before_the_first_start_prints_secrets(tmp_path):
    database = tmp_path / "gw.db"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run("serve", "--migrate", "--database", str(database), "--port", str(port),
                   config=os.devnull)
    one_line_error(done, f"cannot listen on 127.0.0.1:{port}")
    # The next start is still the first: its secrets were never shown.
    proc = launch(["serve", "--migrate", "--database", str(database), "--port",
                   str(free_port()), "--config", os.devnull, "--log-level", "warning"])
    try:
        lines = read_lines(proc, 3)
        assert lines[1].startswith("Bearer token: ") and lines[2].startswith("Admin token: ")
    finally:
        stop(proc)


def test_listening_everywhere_without_a_public_url_warns(tmp_path):
    proc = launch(["serve", "--migrate", "--database", str(tmp_path / "gw.db"), "--host",
                   "0.0.0.0", "--port", str(free_port()), "--config", os.devnull,
                   "--log-level", "warning"])
    try:
        lines = read_lines(proc, 4)
        warning = next(line for line in lines if "warning" in line)
        assert "0.0.0.0" in warning and "GATEWAY_BASE_URL" in warning
        assert any(line.startswith("SCIM base URL: http://0.0.0.0:") for line in lines)
    finally:
        stop(proc)
    quiet = launch(["serve", "--database", str(tmp_path / "gw.db"), "--host", "0.0.0.0",
                    "--port", str(free_port()), "--config", os.devnull,
                    "--log-level", "warning"], env={"GATEWAY_BASE_URL": "https://scim.example"})
    try:
        lines = read_lines(quiet, 2)
        assert lines[0].startswith("SCIM base URL: https://scim.example/scim/v2/")
        assert not any("warning" in line for line in lines)
    finally:
        stop(quiet)


def test_commands_say_which_database_and_create_none_unasked(tmp_path):
    done = run("provider", "list", cwd=tmp_path)
    assert done.returncode == 2
    assert "no config file" in done.stderr and "var/gateway.db" in done.stderr
    assert "no database at var/gateway.db" in done.stderr and "--create" in done.stderr
    assert not (tmp_path / "var").exists()
    created = run("provider", "list", "--create", cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    assert (tmp_path / "var" / "gateway.db").exists()
    assert "no providers yet" in created.stderr
