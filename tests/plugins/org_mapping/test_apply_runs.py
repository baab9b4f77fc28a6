"""The run record of "apply org and role settings": what it says after an apply, and that a
second apply is refused while one is running for the same provider (on both stores)."""

import pytest

from gateway.testing import running, scim_user
from identity_gateway_org_mapping import placement, store

pytestmark = pytest.mark.anyio


async def run_of(gateway, pid):
    async with gateway.gw.store.read() as conn:
        return await store.apply_run(conn, pid)


async def test_the_run_reports_its_counts_and_a_second_start_is_refused(database):
    async with running(database, enabled=["org_mapping"]) as gateway:
        idp = await gateway.provider("idp")
        other = await gateway.provider("other")
        for name in ("ada", "grace", "linus"):
            r = await gateway.scim(idp, "POST", "/Users", scim_user(f"{name}@example.com"))
            assert r.status_code == 201, r.text
        await gateway.admin_json("POST", "/organizations", {"name": "Contoso"}, 201)
        await gateway.admin_json("PUT", f"/providers/{idp.id}/org-mapping",
                    {"method": "single", "organization": "Contoso"})

        report = await gateway.admin_json("POST", f"/providers/{idp.id}/apply-mappings")
        assert report["users"] == 3 and report["organization_changed"] == 3
        run = await run_of(gateway, idp.id)
        assert {k: run[k] for k in ("state", "total", "done", "changed",
                                    "organization_changed", "roles_changed",
                                    "watchlists_changed", "error")} == {
            "state": "done", "total": 3, "done": 3, "changed": 3,
            "organization_changed": 3, "roles_changed": 0, "watchlists_changed": 0,
            "error": None}
        assert run["finished_at"] is not None

        # A run the console started holds the provider until it ends.
        held = await placement.start_run(gateway.gw, idp.id, "console:admin")
        assert held["state"] == "running" and held["total"] == 3 and held["done"] == 0
        refused = await gateway.admin_json("POST", f"/providers/{idp.id}/apply-mappings",
                              status=409)
        assert "already being applied" in refused["detail"], refused
        assert "console:admin" in refused["detail"]
        with pytest.raises(Exception, match="already being applied"):
            await placement.start_run(gateway.gw, idp.id, "console:someone")
        # Another provider is not held.
        assert (await gateway.admin_json("POST",
                            f"/providers/{other.id}/apply-mappings"))["users"] == 0

        again = await placement.apply_all(gateway.gw, idp.id, held)
        assert again is not None and again["users"] == 3 and again["changed"] == 0
        run = await run_of(gateway, idp.id)
        assert (run["run_id"], run["state"], run["done"], run["actor"]) == (
            held["run_id"], "done", 3, "console:admin")
        await gateway.admin_json("POST", f"/providers/{idp.id}/apply-mappings")

        # A run that stopped making progress (the app stopped mid-run) is taken over.
        stuck = await placement.start_run(gateway.gw, idp.id, "console:admin")
        await gateway.admin_json("POST", f"/providers/{idp.id}/apply-mappings", status=409)
        gateway.gw.clock.advance(minutes=6)
        await gateway.admin_json("POST", f"/providers/{idp.id}/apply-mappings")
        run = await run_of(gateway, idp.id)
        assert run["run_id"] != stuck["run_id"] and run["state"] == "done"
