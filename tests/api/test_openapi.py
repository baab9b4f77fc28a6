"""The OpenAPI documents: generated from the code, valid OpenAPI 3.1, complete (every route,
plugins' too), and the admin bodies they describe are the ones the handlers enforce."""

from __future__ import annotations

import pytest
from openapi_spec_validator import validate

from gateway.testing import running

pytestmark = pytest.mark.anyio

PLUGINS = ["entra", "okta", "legal_hold", "org_mapping"]
ORG_URN = "urn:ietf:params:scim:schemas:extension:identity-gateway:2.0:User"


@pytest.fixture
async def full(tmp_path):
    async with running(tmp_path / "gw.db", enabled=PLUGINS) as gateway:
        yield gateway


async def test_the_admin_document_is_valid_and_lists_every_route(full):
    r = await full.admin_api("GET", "/openapi.json")
    assert r.status_code == 200
    doc = r.json()
    validate(doc)
    assert doc["openapi"] == "3.1.0"
    listed = {(path, method.upper()) for path, ops in doc["paths"].items() for method in ops}
    mount = next(route for route in full.app.routes if getattr(route, "path", "") ==
                 "/admin/v1")
    for route in mount.routes:
        for method in route.methods - {"HEAD"}:
            path = "/admin/v1" + route.path.replace(":path", "")
            assert (path, method) in listed
    core = {p: ops for p, ops in doc["paths"].items()
            if not p.startswith(("/admin/v1/legal-holds", "/admin/v1/organizations",
                                 "/admin/v1/roles")) and "mapping" not in p}
    for path, ops in core.items():
        for method, op in ops.items():
            assert "not described" not in op["summary"], (method, path)
    assert "/admin/v1/legal-holds" in doc["paths"]  # a plugin's routes, described by it
    hold = doc["paths"]["/admin/v1/legal-holds"]["post"]
    assert hold["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/HoldRequest")
    assert doc["components"]["securitySchemes"]["adminToken"]["scheme"] == "bearer"


async def test_the_admin_document_describes_bodies_with_the_handlers_structs(full):
    doc = (await full.admin_api("GET", "/openapi.json")).json()
    schemas = doc["components"]["schemas"]
    create = schemas["ProviderCreate"]
    assert create["required"] == ["name"] and create["additionalProperties"] is False
    local = doc["paths"]["/admin/v1/users"]["post"]["requestBody"]
    assert local["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/User"}
    assert "userName" in schemas["User"]["properties"]  # the SCIM User of this gateway
    listing = doc["paths"]["/admin/v1/users"]["get"]
    assert {p["name"] for p in listing["parameters"]} >= {"provider", "state", "q", "cursor",
                                                          "limit"}


async def test_a_body_of_the_wrong_shape_is_refused_saying_what_is_wrong(full):
    r = await full.admin_api("POST", "/providers", {"name": 5})
    assert r.status_code == 400 and "$.name" in r.json()["detail"]
    r = await full.admin_api("POST", "/providers", {"name": "ok", "colour": "red"})
    assert r.status_code == 400 and "colour" in r.json()["detail"]
    r = await full.admin_api("POST", "/webhooks", {"url": "http://x.example/", "events": "*"})
    assert r.status_code == 400 and "$.events" in r.json()["detail"]
    r = await full.admin_api("POST", "/webhooks/x/redeliver", {"seq": ["1"]})
    assert r.status_code == 400 and "$.seq[0]" in r.json()["detail"]
    r = await full.admin_api("PATCH", "/providers/nope", {"settings": []})
    assert r.status_code == 400
    listed = (await full.admin_api("GET", "/providers")).json()["items"]
    assert listed == []  # nothing was created by the refused bodies


async def test_the_scim_document_is_generated_from_the_schema_registry(full):
    idp = await full.provider("okta", auth="basic", plugin="okta")
    r = await full.scim(idp, "GET", "/openapi.json")
    assert r.status_code == 200
    doc = r.json()
    validate(doc)
    assert doc["servers"] == [{"url": full.gw.base_url(idp.id)}]
    assert doc["security"] == [{"basic": []}]
    user = doc["components"]["schemas"]["User"]
    assert user["required"] == ["userName"]
    assert "orgName" in user["properties"][ORG_URN]["properties"]  # a plugin's extension
    assert "password" in user["properties"]
    answered = doc["components"]["schemas"]["UserResource"]
    assert "password" not in answered["properties"]  # returned: never
    assert answered["properties"]["meta"]["type"] == "object"
    assert "id" not in user["properties"]  # readOnly: not sent
    for path in ("/Users", "/Users/{id}", "/Groups/{id}", "/.search", "/Bulk",
                 "/ServiceProviderConfig", "/Schemas", "/ResourceTypes", "/oauth/token"):
        assert path in doc["paths"], path


async def test_each_document_needs_the_credential_of_its_api(full):
    idp = await full.provider()
    assert (await full.client.get("/admin/v1/openapi.json")).status_code == 401
    assert (await full.client.get(f"{idp.base}/openapi.json")).status_code == 401
    r = await full.client.get(f"{idp.base}/openapi.json", headers=full.admin)
    assert r.status_code == 401
