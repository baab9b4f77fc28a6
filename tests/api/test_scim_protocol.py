"""ETags, sorting and paging, projection on every read and write, root /.search, and a
truthful ServiceProviderConfig: over HTTP against the real app."""

import pytest

from gateway.testing import running
from gateway.testing import scim_user as user_body

pytestmark = pytest.mark.anyio

GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"


def patch(*operations) -> dict:
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


async def users(gateway, idp, names: list[str], **extra) -> list[dict]:
    made = []
    for name in names:
        r = await gateway.scim(idp, "POST", "/Users", user_body(name, **extra))
        assert r.status_code == 201, r.text
        made.append(r.json())
        gateway.clock.advance(seconds=1)
    return made


# ETags ---------------------------------------------------------------------------------------

async def test_every_write_changes_the_version(gateway, idp):
    [u] = await users(gateway, idp, ["e@x.org"])
    seen = [u["meta"]["version"]]
    path = f"/Users/{u['id']}"
    r = await gateway.scim(idp, "PATCH", path, patch({"op": "add", "path": "title",
                                                      "value": "A"}))
    seen.append(r.json()["meta"]["version"])
    assert r.headers["etag"] == seen[-1]
    r = await gateway.scim(idp, "PUT", path, user_body("e@x.org", title="B"))
    seen.append(r.json()["meta"]["version"])
    assert r.headers["etag"] == seen[-1]
    assert len(set(seen)) == 3


async def test_if_match_and_if_none_match(gateway, idp):
    [u] = await users(gateway, idp, ["e@x.org"])
    path, v1 = f"/Users/{u['id']}", u["meta"]["version"]
    got = await gateway.scim(idp, "GET", path, headers={"If-None-Match": v1})
    assert got.status_code == 304 and got.headers["etag"] == v1 and got.content == b""
    other = await gateway.scim(idp, "GET", path, headers={"If-None-Match": 'W/"999"'})
    assert other.status_code == 200
    ok = await gateway.scim(idp, "PUT", path, user_body("e@x.org", title="new"),
                            headers={"If-Match": v1})
    assert ok.status_code == 200
    for method, body in [("PUT", user_body("e@x.org", title="stale")),
                         ("PATCH", patch({"op": "add", "path": "title", "value": "stale"})),
                         ("DELETE", None)]:
        r = await gateway.scim(idp, method, path, body, headers={"If-Match": v1})
        assert r.status_code == 412, (method, r.text)
        assert r.json()["status"] == "412"
    now = (await gateway.scim(idp, "GET", path)).json()
    assert now["title"] == "new" and now["meta"]["version"] == ok.json()["meta"]["version"]
    fresh = await gateway.scim(idp, "GET", path, headers={"If-None-Match": v1})
    assert fresh.status_code == 200  # stale tag: the new representation


# Sorting and paging --------------------------------------------------------------------------

async def test_sort_and_page(gateway, idp):
    names = ["carol@x.org", "alice@x.org", "Bob@x.org", "dave@x.org", "eve@x.org"]
    made = await users(gateway, idp, names)
    await gateway.scim(idp, "PATCH", f"/Users/{made[4]['id']}",
                       patch({"op": "add", "path": "title", "value": "A"}))
    await gateway.scim(idp, "PATCH", f"/Users/{made[0]['id']}",
                       patch({"op": "add", "path": "title", "value": "B"}))

    async def listed(**params) -> dict:
        r = await gateway.scim(idp, "GET", "/Users", params=params)
        assert r.status_code == 200, r.text
        return r.json()

    asc = await listed(sortBy="userName")
    assert [u["userName"] for u in asc["Resources"]] == sorted(names, key=str.lower)
    desc = await listed(sortBy="userName", sortOrder="descending", startIndex=2, count=2)
    assert [u["userName"] for u in desc["Resources"]] == ["dave@x.org", "carol@x.org"]
    assert (desc["totalResults"], desc["startIndex"], desc["itemsPerPage"]) == (5, 2, 2)
    titled = await listed(sortBy="title")  # absent values sort last ascending
    assert [u["userName"] for u in titled["Resources"]][:2] == ["eve@x.org", "carol@x.org"]
    last = await listed(startIndex=5, count=10)
    assert [u["userName"] for u in last["Resources"]] == ["eve@x.org"]
    assert last["totalResults"] == 5
    beyond = await listed(startIndex=9)
    assert beyond["Resources"] == [] and beyond["totalResults"] == 5
    zero = await listed(count=0, filter='userName sw "a"')
    assert zero["totalResults"] == 1 and zero["itemsPerPage"] == 0
    bad = await gateway.scim(idp, "GET", "/Users", params={"sortBy": "nosuch"})
    assert bad.status_code == 400


async def test_page_size_is_capped_at_the_advertised_maximum(database):
    async with running(database, max_page_size=3) as gateway:
        idp = await gateway.provider("idp")
        await users(gateway, idp, [f"u{n}@x.org" for n in range(5)])
        spc = (await gateway.scim(idp, "GET", "/ServiceProviderConfig")).json()
        assert spc["filter"]["maxResults"] == 3
        page = (await gateway.scim(idp, "GET", "/Users", params={"count": 100})).json()
        assert page["itemsPerPage"] == 3 and page["totalResults"] == 5


# Projection on every read and write ------------------------------------------------------------

async def test_projection_everywhere(gateway, idp):
    [u] = await users(gateway, idp, ["p@x.org"], title="T",
                      **{ENTERPRISE: {"department": "D"}})
    path = f"/Users/{u['id']}"
    only = {"attributes": "userName"}

    def narrow(body: dict) -> None:
        assert set(body) == {"schemas", "id", "userName"}, body

    narrow((await gateway.scim(idp, "GET", path, params=only)).json())
    narrow((await gateway.scim(idp, "GET", "/Users", params=only)).json()["Resources"][0])
    narrow((await gateway.scim(idp, "POST", "/Users/.search",
                               {"schemas": [SEARCH], "attributes": ["userName"]})
            ).json()["Resources"][0])
    narrow((await gateway.scim(idp, "POST", "/.search",
                               {"schemas": [SEARCH], "attributes": ["userName"]})
            ).json()["Resources"][0])
    created = await gateway.scim(idp, "POST", "/Users", user_body("q@x.org"), params=only)
    assert created.status_code == 201 and created.headers["etag"].startswith('W/"')
    narrow(created.json())
    put = await gateway.scim(idp, "PUT", path, user_body("p@x.org", title="T2"), params=only)
    narrow(put.json())
    assert put.headers["etag"]
    patched = await gateway.scim(idp, "PATCH", path, patch(
        {"op": "replace", "path": "title", "value": "T3"}), params={"attributes": "title"})
    assert set(patched.json()) == {"schemas", "id", "title"} and patched.headers["etag"]
    excluded = (await gateway.scim(idp, "GET", path, params={
        "excludedAttributes": f"emails,{ENTERPRISE}"})).json()
    assert "emails" not in excluded and ENTERPRISE not in excluded
    assert excluded["schemas"] == ["urn:ietf:params:scim:schemas:core:2.0:User"]
    assert excluded["userName"] == "p@x.org" and excluded["id"] == u["id"]  # always returned
    bad = await gateway.scim(idp, "POST", "/Users", user_body("r@x.org"),
                             params={"attributes": "nosuch"})
    assert bad.status_code == 400
    listed = (await gateway.scim(idp, "GET", "/Users")).json()
    assert "r@x.org" not in [x["userName"] for x in listed["Resources"]]  # nothing written


async def test_password_is_never_returned(gateway, idp):
    body = user_body("pw@x.org", password="s3cret-Passw0rd")
    created = await gateway.scim(idp, "POST", "/Users", body)
    assert created.status_code == 201
    uid = created.json()["id"]
    responses = [
        created,
        await gateway.scim(idp, "GET", f"/Users/{uid}", params={"attributes": "password"}),
        await gateway.scim(idp, "GET", "/Users", params={"attributes": "userName,password"}),
        await gateway.scim(idp, "POST", "/.search", {"schemas": [SEARCH]}),
        await gateway.scim(idp, "PUT", f"/Users/{uid}", body),
        await gateway.scim(idp, "PATCH", f"/Users/{uid}", patch(
            {"op": "replace", "path": "password", "value": "0ther-Passw0rd"})),
    ]
    for r in responses:
        assert r.status_code in (200, 201), r.text
        assert "password" not in r.text.lower() and "passw0rd" not in r.text.lower()
    r = await gateway.scim(idp, "GET", "/Users", params={"filter": 'password eq "x"'})
    assert r.status_code == 400 and r.json()["scimType"] == "invalidFilter"


async def test_group_reads_without_members(gateway, idp):
    [u] = await users(gateway, idp, ["m@x.org"])
    g = (await gateway.scim(idp, "POST", "/Groups", {
        "schemas": [GROUP], "displayName": "G", "members": [{"value": u["id"]}]})).json()
    assert g["members"][0]["$ref"].endswith(f"/Users/{u['id']}")
    plain = (await gateway.scim(idp, "GET", f"/Groups/{g['id']}",
                                params={"excludedAttributes": "members"})).json()
    assert "members" not in plain and plain["displayName"] == "G"
    user = (await gateway.scim(idp, "GET", f"/Users/{u['id']}")).json()
    assert user["groups"] == [{"value": g["id"], "type": "direct", "display": "G",
                               "$ref": g["meta"]["location"]}]


# Root /.search -------------------------------------------------------------------------------

async def test_root_search_spans_types_and_pages_the_combined_result(gateway, idp):
    made = await users(gateway, idp, ["ann@x.org", "ben@x.org"])
    for name in ("Admins", "Benchers"):
        r = await gateway.scim(idp, "POST", "/Groups", {"schemas": [GROUP], "displayName": name})
        assert r.status_code == 201
        gateway.clock.advance(seconds=1)

    async def search(**body) -> dict:
        r = await gateway.scim(idp, "POST", "/.search", {"schemas": [SEARCH], **body})
        assert r.status_code == 200, r.text
        return r.json()

    everything = await search()
    assert [x["meta"]["resourceType"] for x in everything["Resources"]] == \
        ["User", "User", "Group", "Group"]  # creation order
    page = await search(startIndex=2, count=2)
    assert page["totalResults"] == 4
    assert [x.get("userName") or x.get("displayName") for x in page["Resources"]] == \
        ["ben@x.org", "Admins"]
    # userName is unknown to Groups: there it matches nothing; displayName is shared.
    mixed = await search(filter='userName sw "b" or displayName sw "b"')
    assert sorted(x.get("userName") or x["displayName"] for x in mixed["Resources"]) == \
        ["Benchers", "ben@x.org"]
    assert mixed["totalResults"] == 2
    negated = await search(filter='userName ne "ann@x.org"')  # unassigned on Groups
    assert negated["totalResults"] == 3
    only_groups = await search(filter="members pr or displayName pr")
    assert {x["meta"]["resourceType"] for x in only_groups["Resources"]} == {"Group"}
    by_name = await search(sortBy="displayName", sortOrder="descending")
    assert [x.get("displayName") for x in by_name["Resources"]][:2] == [None, None]
    by_user = await search(sortBy="userName", attributes=["userName", "displayName"])
    assert [x.get("userName") or x.get("displayName") for x in by_user["Resources"]] == \
        ["ann@x.org", "ben@x.org", "Admins", "Benchers"]
    assert set(by_user["Resources"][2]) == {"schemas", "id", "displayName"}
    for body, scim_type in [({"filter": 'nosuch eq "x"'}, "invalidFilter"),
                            ({"filter": 'userName eq'}, "invalidFilter"),
                            ({"attributes": ["nosuch"]}, "invalidPath"),
                            ({"sortBy": "nosuch"}, "invalidValue")]:
        r = await gateway.scim(idp, "POST", "/.search", {"schemas": [SEARCH], **body})
        assert r.status_code == 400 and r.json()["scimType"] == scim_type, (body, r.text)
    assert made[0]["id"] in {x["id"] for x in everything["Resources"]}


async def test_a_value_path_with_a_sub_attribute_wherever_a_filter_goes(gateway, idp):
    # Ann's home email is shared@x.org, Ben's work email is: only Ben's work email matches.
    ann = user_body("ann@x.org", emails=[{"value": "ann@x.org", "type": "work"},
                                         {"value": "shared@x.org", "type": "home"}])
    ben = user_body("ben@x.org", emails=[{"value": "shared@x.org", "type": "work"}])
    made = []
    for body in (ann, ben):
        r = await gateway.scim(idp, "POST", "/Users", body)
        assert r.status_code == 201, r.text
        made.append(r.json()["id"])
    r = await gateway.scim(idp, "POST", "/Groups", {"schemas": [GROUP], "displayName": "G"})
    group = r.json()["id"]
    text = 'emails[type eq "work"].value eq "shared@x.org"'
    reads = [("GET", "/Users", None, {"filter": text}),
             ("POST", "/Users/.search", {"schemas": [SEARCH], "filter": text}, None),
             ("POST", "/.search", {"schemas": [SEARCH], "filter": text}, None)]
    for method, path, body, params in reads:
        r = await gateway.scim(idp, method, path, body, params=params)
        assert r.status_code == 200, (path, r.text)
        assert [x["id"] for x in r.json()["Resources"]] == [made[1]], path
    r = await gateway.scim(idp, "POST", "/.search", {
        "schemas": [SEARCH], "filter": f'{text} or displayName eq "G"'})
    assert sorted(x["id"] for x in r.json()["Resources"]) == sorted([made[1], group])
    bad = 'emails[type eq "work"].nope eq "x"'
    for method, path, body, params in reads:
        r = await gateway.scim(idp, method, path, body and {**body, "filter": bad},
                               params=params and {"filter": bad})
        assert r.status_code == 400 and r.json()["scimType"] == "invalidFilter", path
        assert "nope" in r.json()["detail"]


# ServiceProviderConfig -----------------------------------------------------------------------

async def test_service_provider_config_tells_the_truth(gateway, idp):
    spc = (await gateway.scim(idp, "GET", "/ServiceProviderConfig")).json()
    settings = gateway.gw.settings
    assert spc["patch"] == {"supported": True}
    assert spc["filter"] == {"supported": True, "maxResults": settings.max_page_size}
    assert spc["sort"] == {"supported": True}
    assert spc["etag"] == {"supported": True}
    assert spc["changePassword"] == {"supported": False}
    assert spc["bulk"] == {"supported": True, "maxOperations": settings.bulk_max_operations,
                           "maxPayloadSize": settings.bulk_max_payload}
    # Each claim, exercised: filter and sort work, PATCH works, ETags work, Bulk works.
    [u] = await users(gateway, idp, ["s@x.org"])
    found = (await gateway.scim(idp, "GET", "/Users", params={
        "filter": 'userName eq "s@x.org"', "sortBy": "userName"})).json()
    assert found["totalResults"] == 1
    r = await gateway.scim(idp, "PATCH", f"/Users/{u['id']}",
                           patch({"op": "add", "path": "title", "value": "x"}))
    assert r.status_code == 200 and r.headers["etag"] != u["meta"]["version"]
    r = await gateway.scim(idp, "POST", "/Bulk", {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
        "Operations": [{"method": "DELETE", "path": f"/Users/{u['id']}"}]})
    assert r.json()["Operations"][0]["status"] == "204"
    # changePassword is false: a password is accepted and dropped, never stored.
    await gateway.scim(idp, "POST", "/Users", user_body("pw@x.org", password="Secret-123"))
    async with gateway.gw.store.read() as conn:
        rows = await conn.fetchall("SELECT data FROM resources", ())
    assert rows and all("Secret-123" not in str(row["data"]) for row in rows)
