"""The command line as an admin meets it: names or ids for providers, suggestions for
typos, header rows, empty results that say so, help on every option, a version, and
quiet ends when the reader of a pipe goes away."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
from pathlib import Path

import anyio
import pytest
from serving import EXE

from gateway import __version__
from gateway.cli.main import parser
from gateway.testing import cli, running, scim_user

pytestmark = pytest.mark.anyio


@pytest.fixture
def db(tmp_path: Path) -> Path:
    database = tmp_path / "gw.db"
    assert cli("migrate", database=database).returncode == 0
    return database


def test_version():
    done = subprocess.run([str(EXE), "--version"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == f"identity-gateway {__version__}"


def walk(p: argparse.ArgumentParser, path: str = "identity-gateway"):
    for action in p._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from walk(child, f"{path} {name}")
        else:
            yield path, action


def test_every_option_and_argument_has_help():
    missing = [f"{path}: {action.dest}" for path, action in walk(parser([]))
               if not action.help and action.dest not in ("help", "version")]
    assert missing == []


def test_providers_by_name_or_id_with_suggestions(db):
    added = cli("provider", "add", "Okta", "--auth", "basic", database=db)
    assert added.returncode == 0, added.stderr
    pid = added.stdout.splitlines()[0].rsplit("/", 1)[1]
    for ref in ("Okta", "okta", "OKTA", pid):
        shown = cli("provider", "show", ref, database=db)
        assert shown.returncode == 0, shown.stderr
        view = json.loads(shown.stdout)
        assert view["id"] == pid and view["owned"] == {"users": 0, "groups": 0}
    unknown = cli("provider", "rotate", "okt", database=db)
    assert unknown.returncode == 2
    assert "no provider 'okt'" in unknown.stderr and "did you mean 'Okta'" in unknown.stderr
    for command in (["user", "list", "--provider", "oktaa"], ["synclog", "--provider", "x"],
                    ["synclog-export", "--provider", "x"]):
        refused = cli(*command, database=db)
        assert refused.returncode == 2 and "no provider" in refused.stderr, command
        assert refused.stdout == ""
    by_name = cli("synclog", "--provider", "okta", database=db)
    assert by_name.returncode == 0
    renamed = cli("provider", "set", "okta", "--rename", "Okta prod", database=db)
    assert renamed.returncode == 0 and json.loads(renamed.stdout)["name"] == "Okta prod"
    removed = cli("provider", "remove", "okta prod", database=db)
    assert removed.returncode == 0 and pid in removed.stdout
    assert cli("provider", "show", pid, database=db).returncode == 2
    empty = cli("provider", "list", database=db)
    assert empty.stdout == "" and "no providers yet" in empty.stderr


async def test_removing_a_provider_that_owns_users_is_refused(tmp_path):
    database = tmp_path / "gw.db"
    async with running(database) as gw:
        idp = await gw.provider("busy")
        assert (await gw.scim(idp, "POST", "/Users", scim_user())).status_code == 201
    refused = cli("provider", "remove", "busy", database=database)
    assert refused.returncode == 2 and "still owns 1" in refused.stderr


def test_lists_have_a_header_row_and_the_sync_log_names_the_actor(db, tmp_path):
    assert cli("provider", "add", "entra", database=db).returncode == 0
    body = tmp_path / "u.json"
    body.write_text(json.dumps({"userName": "ops@example.com"}))
    assert cli("user", "create", str(body), database=db).returncode == 0
    listed = cli("provider", "list", database=db).stdout.splitlines()
    assert listed[0].split("\t")[:3] == ["NAME", "ID", "AUTH"] and "entra" in listed[1]
    log = cli("synclog", database=db).stdout.splitlines()
    headers = log[0].split("\t")
    assert headers[:4] == ["SEQ", "AT", "PROVIDER", "ACTOR"]
    row = dict(zip(headers, log[1].split("\t"), strict=True))
    assert row["ACTOR"] == "admin" and row["OPERATION"] == "create"
    plugins = subprocess.run([str(EXE), "plugins", "--config", os.devnull],
                             capture_output=True, text=True, timeout=60).stdout.splitlines()
    assert plugins[0] == "NAME\tVERSION\tHOOKS" and plugins[1].startswith("builtin_auth\t")


def test_oauth_providers_print_the_token_endpoint(db, tmp_path):
    config = tmp_path / "gw.toml"
    config.write_text('[plugins]\nenabled = ["entra"]\n')
    done = cli("provider", "add", "Entra", "--plugin", "entra", "--auth", "oauth",
               database=db, config=str(config))
    assert done.returncode == 0, done.stderr
    lines = dict(line.split(": ", 1) for line in done.stdout.splitlines())
    assert lines["Token endpoint"] == lines["SCIM base URL"] + "/oauth/token"
    assert set(lines) == {"SCIM base URL", "Client ID", "Client secret", "Token endpoint"}


async def fill(database: Path, users: int) -> None:
    async with running(database) as gw:
        idp = await gw.provider()
        for n in range(users):
            assert (await gw.scim(idp, "POST", "/Users",
                                  scim_user(f"u{n}@example.com"))).status_code == 201


def test_a_closed_pipe_ends_quietly(tmp_path):
    database = tmp_path / "gw.db"
    anyio.run(fill, database, 300)  # events enough to fill a pipe's buffer several times
    proc = subprocess.Popen([str(EXE), "events", "--limit", "1000", "--database",
                             str(database), "--config", os.devnull],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.read(100)  # `| head -c 100`
    proc.stdout.close()
    status = proc.wait(timeout=120)
    errors = proc.stderr.read().decode()
    assert status == 0 and "Traceback" not in errors and "BrokenPipe" not in errors, errors
