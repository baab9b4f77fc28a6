"""The CLI manages providers on the same database the server uses."""

import re
import subprocess
import sys
from pathlib import Path

from gateway.testing import cli

EXE = str(Path(sys.executable).parent / "identity-gateway")


def test_provider_add_list_rotate(database):
    db = database
    migrated = cli("migrate", database=db)
    assert migrated.returncode == 0 and "applied core 0001_core" in migrated.stdout
    assert cli("migrate", database=db).stdout.strip() == "the database is up to date"
    out = cli("provider", "add", "entra-prod", database=db)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert re.match(r"^SCIM base URL: http://127\.0\.0\.1:8080/scim/v2/\w+$", lines[0])
    assert lines[1].startswith("Bearer token: ")

    basic = cli("provider", "add", "okta", "--auth", "basic", database=db)
    assert basic.returncode == 0, basic.stderr
    assert [line.split(":")[0] for line in basic.stdout.splitlines()] == [
        "SCIM base URL", "Username", "Password"]

    listed = cli("provider", "list", database=db)
    assert "entra-prod" in listed.stdout and "okta" in listed.stdout
    assert lines[1].split(": ")[1] not in listed.stdout

    rotated = cli("provider", "rotate", "entra-prod", database=db)
    assert rotated.returncode == 0
    assert rotated.stdout.splitlines()[1] != lines[1]

    dup = cli("provider", "add", "entra-prod", database=db)
    assert dup.returncode == 2 and "already exists" in dup.stderr


def test_serve_refuses_unapplied_migrations(database):
    db = database
    out = subprocess.run([EXE, "serve", "--database", str(db), "--config", "/dev/null",
                          "--port", "1"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert "unapplied migration" in out.stderr
