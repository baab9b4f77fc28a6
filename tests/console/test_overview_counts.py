"""The overview's numbers as the store holds them, on both stores, through the app: each
provider's errors and refused credentials of the last hour, deactivations due within the
hour, undeclared attributes, its connection state, and the quarantine warning of an Entra
provider over the last 24 hours; a few queries for all providers."""

from __future__ import annotations

import re

import pytest

from gateway.accounts import auth_failures
from gateway.observability import activity
from gateway.testing import Harness, running, scim_user

pytestmark = pytest.mark.anyio

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
EXTENSION = "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User"


def card_of(page: str, pid: str) -> tuple[str, dict[str, str]]:
    """A provider's card on the overview, and its facts as text."""
    start = page.index(f'id="provider-{pid}"')
    card = page[start:page.index("</section>", start)]
    facts = re.findall(r"<dt>(.*?)</dt><dd[^>]*>(.*?)</dd>", card, re.S)
    return card, {name: re.sub(r"<[^>]+>", "", value).strip() for name, value in facts}


async def stored(gw: Harness) -> str:
    """The overview once the counts held in memory are written: the store's numbers."""
    await activity.flush(gw.gw)
    await auth_failures.flush(gw.gw)
    r = await gw.client.get("/console/")
    assert r.status_code == 200, r.text
    return r.text


async def test_the_overview_counts_each_provider_from_the_store(database):
    async with running(database, enabled=["entra"]) as gw:
        await gw.console_sign_in()
        quiet = await gw.provider("quiet")
        busy = await gw.provider("busy", plugin="entra")
        for i in range(3):
            assert (await gw.scim(busy, "POST", "/Users", scim_user(f"u{i}@example.com"),
                                  )).status_code == 201
        extra = scim_user("x@example.com", schemas=[CORE, EXTENSION],
                          **{EXTENSION: {"badge": "B1"}})
        created = await gw.scim(busy, "POST", "/Users", extra)
        assert created.status_code == 201, created.text
        off = await gw.scim(busy, "PATCH", f"/Users/{created.json()['id']}", {
            "schemas": [PATCH], "Operations": [{"op": "replace", "path": "active",
                                                "value": False}]})
        assert off.status_code == 200, off.text
        for _ in range(49):
            assert (await gw.scim(busy, "POST", "/Users", {"schemas": [CORE]})).status_code \
                == 400
        wrong = await gw.scim(busy, "GET", "/Users", headers={"Authorization": "Bearer no"})
        assert wrong.status_code == 401

        page = await stored(gw)
        card, facts = card_of(page, busy.id)
        assert 'data-connection="connected"' in card
        assert facts["Errors in the last hour"] == "50"
        assert facts["Refused credentials in the last hour"] == "1"
        assert facts["Deactivations due within the hour"] == "1"
        assert facts["Undeclared attributes"].startswith("1 seen")
        # 50 of 55 requests failed: Entra's quarantine is near.
        assert "Entra may put this application in quarantine" in card
        assert "90% of the requests from busy failed in the last 24 hours (50 of 55)" in card
        card, facts = card_of(page, quiet.id)
        assert 'data-connection="waiting"' in card and "quarantine" not in card
        assert facts["Errors in the last hour"] == "0" and facts["Last request"] == "none yet"

        # An hour later the hour's numbers are over; the day's warning stays.
        gw.clock.advance(minutes=61)
        await gw.console_sign_in("later")  # the first session has ended meanwhile
        card, facts = card_of(await stored(gw), busy.id)
        assert facts["Errors in the last hour"] == "0"
        assert facts["Refused credentials in the last hour"] == "0"
        assert "(50 of 55)" in card
        gw.clock.advance(hours=24)
        await gw.console_sign_in("next-day")
        card, _ = card_of(await stored(gw), busy.id)
        assert "quarantine" not in card
