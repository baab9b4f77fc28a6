"""Batches in the console's sync log, in Chromium: a SCIM Bulk request and an org_mapping
apply run over many users are each one row with its count, which opens to its entries;
the page around them still holds a page of other entries; a new Bulk request appears live
as one row."""

from __future__ import annotations

import re
from typing import Any

from console_helpers import Served, sign_in

BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
USERS = 120


def bulk(served: Served, names: list[str]) -> None:
    with served.scim() as scim:
        r = scim.post("/Bulk", json={"schemas": [BULK], "Operations": [
            {"method": "POST", "path": "/Users", "bulkId": name, "data": {
                "schemas": [CORE], "userName": name, "active": True}} for name in names]})
        assert r.status_code == 200 and all(
            op["status"] == "201" for op in r.json()["Operations"]), r.text


def rows(page: Any) -> list[list[str]]:
    found = page.locator("#sync-log tbody tr")
    return [[" ".join(c.split()) for c in found.nth(i).locator("td").all_inner_texts()]
            for i in range(found.count())]


def test_a_bulk_request_and_an_apply_run_are_one_row_each(served: Served, page: Any) -> None:
    with served.scim() as scim:
        for i in range(60):  # older entries, one a row, that must still fill the page
            assert scim.post("/Groups", json={"displayName": f"team{i:02d}"}).status_code == 201
    bulk(served, [f"user{i:03d}@example.com" for i in range(USERS)])
    admin = served.admin()
    admin.post("/organizations", json={"name": "Engineering"})
    put = admin.put(f"/providers/{served.provider_id}/org-mapping",
                    json={"method": "single", "organization": "Engineering"})
    assert put.status_code == 200, put.text
    report = admin.post(f"/providers/{served.provider_id}/apply-mappings").json()
    assert report["organization_changed"] == USERS

    sign_in(page, served)
    page.goto(f"{served.console_url}/sync-log")
    shown = rows(page)
    assert len(shown) == 50  # a full page: each batch took one row of it
    batches = [r for r in shown if re.match(r"\d+ entries", r[0])]
    assert len(batches) == 2
    apply, created = batches
    assert apply[0].startswith(f"{USERS} entries") and apply[1].startswith("mapping changed")
    assert apply[2] == "org_mapping apply"
    # The Bulk request: its users, the placement the plugin made for each, and the
    # provider's default organization it made for the first.
    assert created[0].startswith(f"{USERS * 2 + 1} entries")
    assert created[1].startswith("SCIM Bulk request") and created[2].endswith("(IdP)")
    after = shown[shown.index(created) + 1:]
    assert [r[0].split()[0] for r in after[:3]] == ["team59", "team58", "team57"]
    assert len(after) == 50 - shown.index(created) - 1 > 40

    page.get_by_role("link", name=f"{USERS} entries", exact=True).click()
    page.wait_for_url(re.compile(r".*batch=.*"))
    assert f"One batch: {USERS} entries" in page.locator(".batch-note").inner_text()
    opened = rows(page)
    assert len(opened) == 50
    # Its entries, each a row of its own: none takes another's place when new ones come.
    assert page.locator("#sync-log tr[data-batch]").count() == 0
    assert {r[1] for r in opened} == {"mapping changed apply mappings"}
    assert opened[0][0].split()[0] == f"user{USERS - 1:03d}@example.com"
    page.click(".pager a")
    page.click(".pager a")
    assert len(rows(page)) == USERS - 100 and not page.locator(".pager a").count()
    page.locator(".batch-note a").click()
    assert len(rows(page)) == 50 and page.locator("tr.batch").count() == 2
    assert page.errors == []


def test_a_new_bulk_request_arrives_live_as_one_row(served: Served, page: Any) -> None:
    sign_in(page, served)
    page.goto(f"{served.console_url}/sync-log")
    before = page.locator("#sync-log tbody tr").count()
    bulk(served, ["live1@example.com", "live2@example.com", "live3@example.com"])
    row = page.locator("#sync-log tbody tr.fresh.batch")
    row.wait_for()
    page.wait_for_timeout(2500)  # a later poll brings nothing new for the batch
    assert page.locator("#sync-log tbody tr").count() == before + 1
    # 3 users, their placements and the provider's default organization
    assert re.match(r"7 entries", row.locator("td").first.inner_text())
    assert page.errors == []
