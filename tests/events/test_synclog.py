"""The sync log: one user's history, export as CSV and JSON lines, retention, and the CLI."""

from __future__ import annotations

import csv
import io
import json

import anyio
import pytest

from gateway.events import retention, synclog
from gateway.testing import cli, running
from gateway.testing import scim_user as user_body

pytestmark = pytest.mark.anyio

PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


async def test_why_was_this_user_deactivated(gateway, idp):
    uid = (await gateway.scim(idp, "POST", "/Users", user_body())).json()["id"]
    await gateway.scim(idp, "POST", "/Users", user_body("other@example.com"))
    await gateway.scim(idp, "PATCH", f"/Users/{uid}", {"schemas": [PATCH], "Operations": [
        {"op": "replace", "path": "active", "value": False}]},
        headers={"X-Request-Id": "entra-req-42"})
    history = (await gateway.client.get("/admin/v1/sync-log", params={"user": uid},
                                        headers=gateway.admin)).json()["items"]
    assert [e["operation"] for e in history] == ["patch", "create"]
    change = history[0]
    assert change["provider"] == idp.id and change["actor"] == f"provider:{idp.id}"
    assert change["request_id"] == "entra-req-42"
    assert (change["method"], change["path"]) == ("PATCH", f"{idp.base}/Users/{uid}")
    assert change["before"]["state"] == "active"
    assert change["after"]["state"] == "pending_deactivation"
    assert change["reason"] == "deactivation_delay"


async def test_export_csv_and_jsonl_oldest_first_with_filters(gateway, idp):
    ids = [(await gateway.scim(idp, "POST", "/Users",
                               user_body(f"e{n}@example.com", password="hunter2-secret")))
           .json()["id"] for n in range(synclog.EXPORT_PAGE + 20)]
    await gateway.scim(idp, "POST", "/Users", user_body("e0@example.com"))  # 409, logged

    r = await gateway.client.get("/admin/v1/sync-log/export", params={"format": "jsonl"},
                                 headers=gateway.admin)
    assert r.status_code == 200 and r.headers["content-type"] == "application/x-ndjson"
    lines = [json.loads(line) for line in r.text.splitlines()]
    assert len(lines) == len(ids) + 1
    assert [e["resource_id"] for e in lines[:-1]] == ids  # oldest first, across pages
    assert lines[-1]["outcome"] == "error" and lines[-1]["status"] == 409
    assert "hunter2" not in r.text  # secrets never reach the log

    r = await gateway.client.get("/admin/v1/sync-log/export", headers=gateway.admin,
                                 params={"format": "csv", "outcome": "error"})
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert len(rows) == 1 and rows[0]["status"] == "409"
    assert list(rows[0]) == list(synclog.CSV_COLUMNS)
    assert json.loads(rows[0]["after"])["userName"] == "e0@example.com"

    r = await gateway.client.get("/admin/v1/sync-log/export", headers=gateway.admin,
                                 params={"format": "csv", "user": ids[3]})
    assert [row["resource_id"] for row in csv.DictReader(io.StringIO(r.text))] == [ids[3]]

    for params, word in (({"format": "xml"}, "format"), ({"since": "yesterday"}, "since")):
        bad = await gateway.client.get("/admin/v1/sync-log/export", params=params,
                                       headers=gateway.admin)
        assert bad.status_code == 400 and word in bad.json()["detail"]
    bad = await gateway.client.get("/admin/v1/sync-log", params={"until": "soon"},
                                   headers=gateway.admin)
    assert bad.status_code == 400 and bad.json()["status"] == 400
    assert (await gateway.client.get("/admin/v1/sync-log/export")).status_code == 401


async def test_time_filters_accept_dates_and_rfc3339(gateway, idp):
    await gateway.scim(idp, "POST", "/Users", user_body("a@example.com"))
    gateway.clock.advance(days=2)
    await gateway.scim(idp, "POST", "/Users", user_body("b@example.com"))
    since = await gateway.client.get("/admin/v1/sync-log", headers=gateway.admin,
                                     params={"since": "2026-01-02"})
    assert [e["after"]["userName"] for e in since.json()["items"]] == ["b@example.com"]
    until = await gateway.client.get("/admin/v1/sync-log", headers=gateway.admin,
                                     params={"until": "2026-01-01T00:00:00.000001Z"})
    assert [e["after"]["userName"] for e in until.json()["items"]] == ["a@example.com"]


async def test_retention_prunes_old_entries_in_the_background(database):
    async with running(database, sync_log_retention="30d", retention_interval=0.05) as gateway:
        idp = await gateway.provider()
        await gateway.scim(idp, "POST", "/Users", user_body("old@example.com"))
        gateway.clock.advance(days=31)
        await gateway.scim(idp, "POST", "/Users", user_body("new@example.com"))
        for _ in range(500):
            log = (await gateway.client.get("/admin/v1/sync-log",
                                            headers=gateway.admin)).json()["items"]
            if len(log) == 1:
                break
            await anyio.sleep(0.02)
        assert [e["after"]["userName"] for e in log] == ["new@example.com"]
        events = (await gateway.client.get("/admin/v1/events",
                                           headers=gateway.admin)).json()["items"]
        assert len(events) == 2  # the event feed is not the sync log: it is kept


async def test_prune_works_in_bounded_batches(gateway, idp):
    for n in range(25):
        await gateway.scim(idp, "POST", "/Users", user_body(f"b{n}@example.com"))
    gateway.clock.advance(days=2)
    assert await retention.prune(gateway.gw, 86400, batch=10) == 25
    assert await retention.prune(gateway.gw, 86400, batch=10) == 0


def test_a_bad_retention_setting_stops_startup(database):
    from gateway.app import create_app
    from gateway.settings import Settings

    with pytest.raises(ValueError, match="sync_log_retention"):
        create_app(Settings(database=database, sync_log_retention="ninety days"))


async def test_cli_webhooks_events_and_export(database):
    async with running(database) as gateway:
        idp = await gateway.provider()
        for n in range(3):
            await gateway.scim(idp, "POST", "/Users", user_body(f"c{n}@example.com"))
        async with gateway.gw.store.write() as conn:  # park one delivery to redeliver
            await conn.execute("INSERT INTO webhooks VALUES ('w1', 'http://127.0.0.1:9/h',"
                               " 'sixteen-chars-secret', '[\"*\"]', 3, 'now')")
            await conn.execute("INSERT INTO deliveries (webhook_id, seq, resource_key, status,"
                               " attempts, next_attempt_at, last_error) VALUES ('w1', 2, 'k',"
                               " 'dead', 10, 'x', 'HTTP 500')")

    def ok(*args: str) -> str:
        out = cli(*args, database=database)
        assert out.returncode == 0, out.stderr
        return out.stdout

    events = [json.loads(line) for line in ok("events", "--after", "1").splitlines()]
    assert [e["seq"] for e in events] == [2, 3] and events[0]["type"] == "user.created"

    added = json.loads(ok("webhook", "add", "https://hooks.example.com/x", "--events",
                          "user.created", "user.deleted"))
    assert added["events"] == ["user.created", "user.deleted"] and added["secret"]
    listed = ok("webhook", "list")
    assert added["id"] in listed and added["secret"] not in listed
    assert "sixteen-chars-secret" not in listed
    assert "HTTP 500" in ok("webhook", "dead-letters", "w1")
    assert json.loads(ok("webhook", "redeliver", "w1")) == {"redelivering": 1}
    assert ok("webhook", "dead-letters", "w1") == ""
    ok("webhook", "remove", added["id"])
    missing = cli("webhook", "remove", added["id"], database=database)
    assert missing.returncode == 2 and "no webhook" in missing.stderr
    bad = cli("webhook", "add", "not a url", database=database)
    assert bad.returncode == 2 and "url" in bad.stderr
    internal = cli("webhook", "add", "http://169.254.169.254/latest/", database=database)
    assert internal.returncode == 2 and "may not reach (link-local)" in internal.stderr

    exported = ok("synclog-export", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(exported)))
    assert [r["operation"] for r in rows] == ["create"] * 3
    lines = ok("synclog-export", "--format", "jsonl", "--user", events[0]["resource_id"])
    assert [json.loads(line)["seq"] for line in lines.splitlines()] == [2]


FORMULAS = ['=HYPERLINK("http://x","y")', "+1+1", "-2+3", "@SUM(1,2)"]
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # what a spreadsheet runs (OWASP)


def formula_free(text: str) -> list[dict]:
    """The rows of a CSV export, after checking that no cell would run as a formula."""
    rows = list(csv.DictReader(io.StringIO(text)))
    for row in rows:
        for cell in row.values():
            assert not cell.startswith(FORMULA_STARTS), row
    return rows


async def test_csv_exports_neutralise_formulas(database):
    """An IdP's X-Request-Id and userName, and an admin's reason, that a spreadsheet would
    run: each CSV writer quotes them (a leading '), the JSON lines keep them as sent."""
    async with running(database) as gateway:
        idp = await gateway.provider()
        for formula in FORMULAS:
            r = await gateway.scim(idp, "POST", "/Users", user_body(formula + "@example.com"),
                                   headers={"X-Request-Id": formula})
            assert r.status_code == 201, r.text
        uid = r.json()["id"]
        csrf = await gateway.console_sign_in()
        r = await gateway.client.post(f"/console/users/{uid}/action", data={
            "action": "block", "reason": FORMULAS[0], "csrf_token": csrf})
        assert r.status_code == 303, r.text

        api = await gateway.admin_api("GET", "/sync-log/export?format=csv")
        console = await gateway.client.get("/console/sync-log/export")
        jsonl = await gateway.admin_api("GET", "/sync-log/export?format=jsonl")
    cli_out = cli("synclog", "--format", "csv", database=database)
    assert cli_out.returncode == 0, cli_out.stderr
    for text in (api.text, console.text, cli_out.stdout):
        rows = formula_free(text)
        assert [row["request_id"] for row in rows[:4]] == ["'" + f for f in FORMULAS]
        assert rows[4]["reason"] == "'" + FORMULAS[0]
        assert json.loads(rows[0]["after"])["userName"] == FORMULAS[0] + "@example.com"
    entries = [json.loads(line) for line in jsonl.text.splitlines()]
    assert [e["request_id"] for e in entries[:4]] == FORMULAS
    assert entries[4]["reason"] == FORMULAS[0]


def test_a_csv_cell_starting_with_a_tab_or_return_is_neutralised_too():
    entry = {column: None for column in synclog.CSV_COLUMNS}
    row = synclog.csv_row({**entry, "detail": "\t=1+1", "reason": "\r=1+1", "path": "/x",
                           "status": -1, "before": {"a": "=1"}})
    cells = dict(zip(synclog.CSV_COLUMNS, row, strict=True))
    assert (cells["detail"], cells["reason"], cells["path"], cells["status"],
            cells["before"]) == ("'\t=1+1", "'\r=1+1", "/x", -1, '{"a":"=1"}')


async def test_a_write_that_changes_nothing_is_logged_as_unchanged(gateway, idp):
    """A PUT or a PATCH whose result is the stored resource: a sync-log entry with what was
    received (scrubbed), and no event, no new version, no new lastModified."""
    created = await gateway.scim(idp, "POST", "/Users", user_body(title="Buyer"))
    uid, tag, meta = created.json()["id"], created.headers["etag"], created.json()["meta"]
    gid = (await gateway.scim(idp, "POST", "/Groups", {
        "displayName": "Buyers", "members": [{"value": uid}]})).json()["id"]
    gateway.clock.advance(minutes=5)

    same = user_body(title="Buyer", id=uid, password="hunter2-secret")
    put = await gateway.scim(idp, "PUT", f"/Users/{uid}", same)
    assert put.status_code == 200 and put.headers["etag"] == tag
    assert put.json()["meta"]["lastModified"] == meta["lastModified"]
    patch = await gateway.scim(idp, "PATCH", f"/Users/{uid}", {"schemas": [PATCH], "Operations": [
        {"op": "replace", "path": "title", "value": "Buyer"}]})
    assert patch.status_code == 200 and patch.headers["etag"] == tag
    member = await gateway.scim(idp, "PATCH", f"/Groups/{gid}", {"schemas": [PATCH],
                                "Operations": [{"op": "add", "path": "members",
                                                "value": [{"value": uid}]}]})
    assert member.status_code == 204

    events = (await gateway.admin_api("GET", "/events")).json()["items"]
    assert [e["type"] for e in events] == ["user.created", "group.created"]
    log = (await gateway.admin_api("GET", "/sync-log")).json()["items"]
    assert [(e["operation"], e["resource_id"], e["outcome"]) for e in log[:3]] == [
        ("patch", gid, "unchanged"), ("patch", uid, "unchanged"), ("replace", uid, "unchanged")]
    put_entry = log[2]
    assert put_entry["after"]["title"] == "Buyer" and put_entry["before"] is None
    assert put_entry["actor"] == f"provider:{idp.id}" and put_entry["method"] == "PUT"
    assert log[1]["after"]["Operations"][0]["value"] == "Buyer"
    assert "hunter2" not in json.dumps(log)

    # The filter: only these, or everything but these; a wrong outcome is refused.
    only = (await gateway.admin_api("GET", "/sync-log",
                                    params={"outcome": "unchanged", "total": "true"})).json()
    assert only["total"] == 3
    rest = (await gateway.admin_api("GET", "/sync-log",
                                    params={"outcome": "success,error"})).json()["items"]
    assert [e["operation"] for e in rest] == ["create", "create"]
    bad = await gateway.admin_api("GET", "/sync-log", params={"outcome": "success,same"})
    assert bad.status_code == 400 and "unchanged" in bad.json()["detail"]

    # The exports carry the outcome.
    r = await gateway.admin_api("GET", "/sync-log/export",
                                params={"format": "csv", "outcome": "unchanged"})
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [(row["operation"], row["outcome"]) for row in rows] == [
        ("replace", "unchanged"), ("patch", "unchanged"), ("patch", "unchanged")]
    assert "hunter2" not in r.text
    r = await gateway.admin_api("GET", "/sync-log/export", params={"format": "jsonl"})
    lines = [json.loads(line) for line in r.text.splitlines()]
    assert [e["outcome"] for e in lines] == ["success"] * 2 + ["unchanged"] * 3
