"""PATCH costs what its size says and never freezes the gateway: multi-valued attributes
have a bounded number of values (a 400 that names the limit), a PATCH has a bounded number
of operations, adding values is linear, and while the largest PATCH allowed runs, /healthz
and another provider's reads still answer within 100 ms (a real `serve` on loopback)."""

import threading
import time

import httpx
import pytest
from serving import LINE, free_port, read_lines, start, stop, wait_ready

from gateway.testing import scim_user as user_body

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
LIMIT = 200  # the default max_attribute_values
OPERATIONS = 1000  # the default patch_max_operations


def patch(*ops: dict) -> dict:
    return {"schemas": [PATCH_OP], "Operations": list(ops)}


def emails(count: int, prefix: str = "e") -> list[dict]:
    return [{"value": f"{prefix}{i}@example.com", "type": "work"} for i in range(count)]


@pytest.mark.anyio
async def test_values_past_the_limit_are_refused_and_name_it(gateway, idp):
    r = await gateway.scim(idp, "POST", "/Users",
                           user_body("many@example.com", emails=emails(LIMIT + 1)))
    assert r.status_code == 400 and r.json()["scimType"] == "invalidValue", r.text
    assert f"at most {LIMIT} values" in r.json()["detail"]
    r = await gateway.scim(idp, "POST", "/Users",
                           user_body("many@example.com", emails=emails(LIMIT)))
    assert r.status_code == 201, r.text
    uid = r.json()["id"]
    for op in ({"op": "add", "path": "emails", "value": emails(1, "new")},
               {"op": "add", "value": {"emails": emails(LIMIT + 1, "n")}},
               {"op": "replace", "path": "emails", "value": emails(LIMIT + 1, "n")},
               {"op": "add", "path": 'emails[type eq "home"].value', "value": "h@example.com"}):
        r = await gateway.scim(idp, "PATCH", f"/Users/{uid}", patch(op))
        assert r.status_code == 400, r.text
        assert f"at most {LIMIT} values" in r.json()["detail"], r.text
    # Adding values already there does not grow the list; removing is always allowed.
    r = await gateway.scim(idp, "PATCH", f"/Users/{uid}", patch(
        {"op": "add", "path": "emails", "value": emails(LIMIT)},
        {"op": "remove", "path": 'emails[value eq "e0@example.com"]'}))
    assert r.status_code == 200 and len(r.json()["emails"]) == LIMIT - 1, r.text
    too_many = patch(*[{"op": "replace", "path": "title", "value": "t"}] * (OPERATIONS + 1))
    r = await gateway.scim(idp, "PATCH", f"/Users/{uid}", too_many)
    assert r.status_code == 400 and f"at most {OPERATIONS} operations" in r.json()["detail"]


@pytest.mark.anyio
async def test_group_members_are_rows_not_values(gateway, idp):
    ids = []
    for i in range(LIMIT + 5):
        r = await gateway.scim(idp, "POST", "/Users", {"userName": f"m{i}@example.com"})
        ids.append(r.json()["id"])
    r = await gateway.scim(idp, "POST", "/Groups", {
        "displayName": "big", "members": [{"value": i} for i in ids]})
    assert r.status_code == 201 and len(r.json()["members"]) == LIMIT + 5, r.text


@pytest.mark.anyio
async def test_the_limits_are_settings(tmp_path):
    from gateway.testing import running

    async with running(tmp_path / "gw.db", max_attribute_values=3,
                       patch_max_operations=2) as gw:
        idp = await gw.provider("idp")
        r = await gw.scim(idp, "POST", "/Users", user_body("a@example.com", emails=emails(4)))
        assert r.status_code == 400 and "at most 3 values" in r.json()["detail"]
        r = await gw.scim(idp, "POST", "/Users", user_body("a@example.com", emails=emails(3)))
        uid = r.json()["id"]
        r = await gw.scim(idp, "PATCH", f"/Users/{uid}", patch(
            *[{"op": "replace", "path": "title", "value": "t"}] * 3))
        assert r.status_code == 400 and "at most 2 operations" in r.json()["detail"]


def test_the_largest_patch_leaves_the_gateway_answering(tmp_path):
    port = free_port()
    proc = start(tmp_path / "gw.db", port)
    try:
        lines = read_lines(proc, 3)
        base = LINE.match(lines[0]).group(1)
        root = base.split("/scim/")[0]
        token, admin = (line.split(": ", 1)[1] for line in lines[1:3])
        wait_ready(base)
        client = httpx.Client(timeout=60)
        auth = {"Authorization": f"Bearer {token}"}
        other = client.post(f"{root}/admin/v1/providers", json={"name": "other"},
                            headers={"Authorization": f"Bearer {admin}"}).json()
        other_auth = {"Authorization": f"Bearer {other['credentials']['Bearer token']}"}
        other_base = other["base_url"]
        assert client.post(f"{other_base}/Users", headers=other_auth,
                           json=user_body("o@example.com")).status_code == 201
        user = client.post(f"{base}/Users", headers=auth,
                           json=user_body("big@example.com", emails=emails(LIMIT)))
        assert user.status_code == 201, user.text
        # Every operation walks every value: the most work a PATCH may ask for.
        largest = patch(*[{"op": "replace", "value": "d",
                           "path": f'emails[value eq "e{i % LIMIT}@example.com"].display'}
                          for i in range(OPERATIONS)])

        latencies: dict[str, list[float]] = {"healthz": [], "other provider": []}
        running = threading.Event()
        done = threading.Event()

        def probe(name: str, url: str, headers: dict) -> None:
            with httpx.Client(timeout=60) as mine:
                mine.get(url, headers=headers)  # connection set up before the measure
                while not done.is_set():
                    during = running.is_set()  # a request sent while the PATCH runs
                    began = time.perf_counter()
                    r = mine.get(url, headers=headers)
                    took = time.perf_counter() - began
                    assert r.status_code == 200
                    if during:
                        latencies[name].append(took)
                    time.sleep(0.01)

        probes = [threading.Thread(target=probe, args=("healthz", f"{root}/healthz", {})),
                  threading.Thread(target=probe, args=(
                      "other provider", f"{other_base}/Users?filter=userName%20eq%20%22o"
                      "%40example.com%22", other_auth))]
        for thread in probes:
            thread.start()
        time.sleep(0.2)
        running.set()
        began = time.perf_counter()
        r = client.patch(f"{base}/Users/{user.json()['id']}", headers=auth, json=largest)
        took = time.perf_counter() - began
        running.clear()
        done.set()
        for thread in probes:
            thread.join(60)
        assert r.status_code == 200, r.text
        assert all(e.get("display") == "d" for e in r.json()["emails"])
        for name, seen in latencies.items():
            # The PATCH ran long enough for the probes to measure something.
            assert len(seen) >= 3, (name, took, seen)
            # Were the PATCH to hold the event loop, a probe sent as it began would wait about
            # as long as the PATCH itself; answered between its steps, each probe waits a
            # small part of it, however busy the machine is.
            assert max(seen) < took / 4, (name, f"PATCH took {took:.2f}s", sorted(seen)[-5:])
    finally:
        stop(proc)
