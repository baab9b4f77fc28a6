"""`identity-gateway user ...` acts on the same database as the admin API."""

import json

from gateway.testing import cli


def test_user_commands(tmp_path):
    db = tmp_path / "gw.db"
    assert cli("migrate", database=db).returncode == 0
    body = tmp_path / "u.json"
    body.write_text(json.dumps({"userName": "ops@example.com", "title": "Operator"}))
    created = cli("user", "create", str(body), database=db)
    assert created.returncode == 0, created.stderr
    user = json.loads(created.stdout)
    assert user["source"] == "local" and user["state"] == "active"
    uid = user["id"]

    blocked = cli("user", "block", uid, "--reason", "suspended in Okta", database=db)
    assert blocked.returncode == 0 and blocked.stdout.split("\t")[1] == "blocked"
    listed = cli("user", "list", "--state", "blocked", database=db)
    header, row = listed.stdout.splitlines()
    assert header.split("\t") in (
        ["ID", "STATE", "DUE", "BLOCKED", "LEGAL HOLD", "SOURCE", "USERNAME"],
        ["ID", "STATE", "DUE", "BLOCKED", "SOURCE", "USERNAME"])
    assert row.startswith(uid) and "ops@example.com" in row
    empty = cli("user", "list", "--state", "active", database=db)
    assert empty.returncode == 0 and empty.stdout == "" and "no users match" in empty.stderr
    log = cli("synclog", "--user", uid, database=db)
    assert "suspended in Okta" in log.stdout

    assert cli("user", "unblock", uid, database=db).stdout.split("\t")[1] == "active"
    assert cli("user", "deactivate", uid, database=db).stdout.split("\t")[1] == "deactivated"
    shown = json.loads(cli("user", "show", uid, database=db).stdout)
    assert shown["cold_storage"] is True and shown["profile"]["title"] == "Operator"
    assert cli("user", "reactivate", uid, database=db).stdout.split("\t")[1] == "active"

    missing = cli("user", "block", "nobody", database=db)
    assert missing.returncode == 1 and "no user" in missing.stderr
    body.write_text("{}")
    refused = cli("user", "create", str(body), database=db)
    assert refused.returncode == 2 and "userName" in refused.stderr


def test_provider_deactivation_delay_from_the_cli(tmp_path):
    db = tmp_path / "gw.db"
    assert cli("migrate", database=db).returncode == 0
    assert cli("provider", "add", "okta", "--deactivation-delay", "30s",
               database=db).returncode == 0
    def delay_column() -> str:
        header, *rows = cli("provider", "list", database=db).stdout.splitlines()
        at = header.split("\t").index("DEACTIVATION_DELAY")
        return rows[0].split("\t")[at]

    assert delay_column() == "30s"
    changed = cli("provider", "set", "okta", "--deactivation-delay", "0s", database=db)
    assert changed.returncode == 0 and json.loads(changed.stdout)["deactivation_delay"] == "0s"
    bad = cli("provider", "set", "okta", "--deactivation-delay", "later", database=db)
    assert bad.returncode == 2 and "deactivation_delay" in bad.stderr
    assert delay_column() == "0s"
