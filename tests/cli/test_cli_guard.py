"""`identity-gateway provider guard`: show, set, held, release and discard on the database
the server uses, and `provider set --block-during-delay`."""

import asyncio
import json

from gateway.testing import Provider, cli, running
from gateway.testing import scim_user as user_body

OFF = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
       "Operations": [{"op": "replace", "path": "active", "value": False}]}


def deactivate(database: str, provider: Provider, count: int, prefix: str) -> list[str]:
    """`count` users of the provider, created and deactivated over SCIM."""
    async def go() -> list[str]:
        async with running(database) as gateway:
            ids = []
            for i in range(count):
                r = await gateway.scim(provider, "POST", "/Users", user_body(f"{prefix}{i}@x.org"))
                ids.append(r.json()["id"])
                assert (await gateway.scim(provider, "PATCH", f"/Users/{ids[-1]}",
                                           OFF)).status_code == 200
            return ids

    return asyncio.run(go())


def test_provider_guard_commands(database):
    db = str(database)
    assert cli("migrate", database=db).returncode == 0
    added = cli("provider", "add", "entra", database=db)
    assert added.returncode == 0, added.stderr
    base, token = (line.split(": ", 1)[1] for line in added.stdout.splitlines()[:2])
    pid = base.rsplit("/", 1)[1]
    idp = Provider(id=pid, name="entra", base=f"/scim/v2/{pid}",
                   headers={"Authorization": f"Bearer {token}"}, credentials={})

    shown = cli("provider", "guard", "entra", database=db)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["state"] == "armed"
    changed = cli("provider", "guard", "entra", "set", "--users", "1", "--percent", "0",
                  "--window", "2h", database=db)
    assert changed.returncode == 0, changed.stderr
    view = json.loads(changed.stdout)
    assert view["threshold"] == {"users": 1, "percent": 0} and view["window"] == "2h"
    bad = cli("provider", "guard", "entra", "set", "--window", "soon", database=db)
    assert bad.returncode == 2 and "window" in bad.stderr
    nothing = cli("provider", "guard", "entra", "release", database=db)
    assert nothing.returncode == 2 and "not tripped" in nothing.stderr

    ids = deactivate(db, idp, 4, "a")  # the second trips the guard; 3 are held
    held = json.loads(cli("provider", "guard", "entra", "held", database=db).stdout)
    assert [h["user"] for h in held["items"]] == ids[1:]
    assert json.loads(cli("provider", "guard", "entra", database=db).stdout)["state"] == \
        "tripped"
    off = cli("provider", "guard", "entra", "set", "--off", database=db)
    assert off.returncode == 2 and "release or discard" in off.stderr
    released = cli("provider", "guard", "entra", "release", database=db)
    assert released.returncode == 0, released.stderr
    assert json.loads(released.stdout)["released"] == 3

    deactivate(db, idp, 2, "b")  # the window starts afresh: the second trips it again
    discarded = cli("provider", "guard", "entra", "discard", database=db)
    assert discarded.returncode == 0, discarded.stderr
    assert json.loads(discarded.stdout)["discarded"] == 1
    off = cli("provider", "guard", "entra", "set", "--off", database=db)
    assert json.loads(off.stdout)["state"] == "off"

    quiet = cli("provider", "set", "entra", "--block-during-delay", "off", database=db)
    assert quiet.returncode == 0 and json.loads(quiet.stdout)["block_during_delay"] is False
    header, row = cli("provider", "list", database=db).stdout.splitlines()
    assert row.split("\t")[header.split("\t").index("BLOCK_DURING_DELAY")] == "off"
