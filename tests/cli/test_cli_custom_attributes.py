"""`identity-gateway provider attributes`: list, declare, declare-seen, set and remove on the
database the server uses, and `provider set --undeclared-attributes`."""

import asyncio

from gateway.testing import Provider, cli, running
from gateway.testing import scim_user as user_body

OKTA = "urn:ietf:params:scim:schemas:custom:Space"


def push(database: str, provider: Provider, name: str, custom: dict) -> int:
    """The status of a create by the provider's IdP carrying `custom` under Okta's namespace."""
    async def go() -> int:
        async with running(database) as gateway:
            r = await gateway.scim(provider, "POST", "/Users",
                                   user_body(name, **{OKTA: custom}))
            return r.status_code

    return asyncio.run(go())


def test_provider_attributes_commands(database):
    db = str(database)
    assert cli("migrate", database=db).returncode == 0
    added = cli("provider", "add", "okta", database=db)
    assert added.returncode == 0, added.stderr
    base, token = (line.split(": ", 1)[1] for line in added.stdout.splitlines()[:2])
    pid = base.rsplit("/", 1)[1]
    idp = Provider(id=pid, name="okta", base=f"/scim/v2/{pid}",
                   headers={"Authorization": f"Bearer {token}"}, credentials={})

    empty = cli("provider", "attributes", "okta", database=db)
    assert empty.returncode == 0 and "no undeclared attributes seen" in empty.stderr
    assert push(db, idp, "a@example.com", {"custom1": "x", "score": 3}) == 201
    listed = cli("provider", "attributes", "okta", database=db)
    assert listed.returncode == 0, listed.stderr
    rows = {line.split("\t")[0]: line.split("\t") for line in listed.stdout.splitlines()}
    assert rows[f"{OKTA}:score"][1:4] == ["1", "3", "integer"]
    assert rows[f"{OKTA}:custom1"][1:4] == ["1", '"x"', "string"]

    seen = cli("provider", "attributes", "okta", "declare-seen", f"{OKTA}:score",
               database=db)
    assert seen.returncode == 0 and '"type": "integer"' in seen.stdout, seen.stderr
    declared = cli("provider", "attributes", "okta", "declare", OKTA, "isContractor",
                   "--type", "boolean", database=db)
    assert declared.returncode == 0, declared.stderr
    bad = cli("provider", "attributes", "okta", "declare", OKTA, "x", "--type", "money",
              database=db)
    assert bad.returncode == 2 and "no type 'money'" in bad.stderr
    again = cli("provider", "attributes", "okta", "declare", OKTA.upper(), "ISCONTRACTOR",
                database=db)
    assert again.returncode == 2 and "declared already" in again.stderr
    changed = cli("provider", "attributes", "okta", "set", f"{OKTA}:isContractor",
                  "--description", "Works for an agency", database=db)
    assert changed.returncode == 0 and "Works for an agency" in changed.stdout
    assert push(db, idp, "b@example.com", {"isContractor": "yes"}) == 400

    refusing = cli("provider", "set", "okta", "--undeclared-attributes", "refuse",
                   database=db)
    assert refusing.returncode == 0 and '"undeclared_attributes": "refuse"' in refusing.stdout
    assert push(db, idp, "c@example.com", {"custom9": "x"}) == 400
    assert push(db, idp, "c@example.com", {"isContractor": True, "score": 1}) == 201

    removed = cli("provider", "attributes", "okta", "remove", f"{OKTA}:isContractor",
                  database=db)
    assert removed.returncode == 0 and "removed custom attribute" in removed.stdout
    gone = cli("provider", "attributes", "okta", "remove", f"{OKTA}:isContractor",
               database=db)
    assert gone.returncode == 2 and "no custom attribute" in gone.stderr
