"""Custom attributes in the protocol layer: declarations and their checks, the extension they
become, the type suggested by values seen, and what a provider's body and PATCH do with an
attribute nothing declares (kept as received, or refused).

The shapes are the IdPs' own. Entra: an attribute named
`urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User:CustomAttribute`, sent in
an object keyed by the extension's URN, without that URN in `schemas` (Microsoft Learn,
"Customize user provisioning attribute-mappings", Provisioning a custom extension attribute
to a SCIM compliant application). Okta: the External namespace of a Profile Editor attribute,
any URN, such as `urn:ietf:params:scim:schemas:custom:Space` (Okta support, "Custom Schema
Attribute is Not Being Sent to Provisioning Servers").
"""

from __future__ import annotations

from typing import Any

import pytest

from gateway.errors import GatewayError
from gateway.scim import custom
from gateway.scim.custom import Declaration, SubAttribute, Undeclared
from gateway.scim.errors import ScimError
from gateway.scim.filter import parse_filter
from gateway.scim.patch import apply_patch, parse_patch_request
from gateway.scim.resource import canonical_resource, schemas_of
from gateway.scim.schema import ENTERPRISE_SCHEMA, PATCH_OP, USER_SCHEMA, default_registry

ENTRA = "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User"
OKTA = "urn:ietf:params:scim:schemas:custom:Space"
BASE = default_registry()


def registry(*decls: Declaration):
    return custom.registry_with(BASE, list(decls))


def user_type(*decls: Declaration):
    return registry(*decls).types["User"]


def body(**extra: Any) -> dict:
    return {"schemas": [USER_SCHEMA], "userName": "b@example.com", **extra}


# Declarations -----------------------------------------------------------------------------

def test_a_declaration_is_stored_with_canonical_type_names() -> None:
    decl = custom.check(Declaration(schema=ENTRA, name="CustomAttribute", type="String"),
                        BASE, [])
    assert decl.type == "string"
    complex_ = custom.check(Declaration(
        schema=OKTA, name="badge", type="complex",
        sub_attributes=(SubAttribute(name="number", type="integer"),
                        SubAttribute(name="issued", type="datetime"))), BASE, [])
    assert [s.type for s in complex_.sub_attributes] == ["integer", "dateTime"]


@pytest.mark.parametrize(("decl", "says"), [
    (Declaration(schema="urn:ietf:params:scim:schemas:core:2.0:User", name="x"),
     "not an extension schema URN"),
    (Declaration(schema="urn:ietf:params:scim:api:messages:2.0:PatchOp", name="x"),
     "not an extension schema URN"),
    (Declaration(schema="not-a-urn", name="x"), "not an extension schema URN"),
    (Declaration(schema="urn:a:b c", name="x"), "not an extension schema URN"),
    (Declaration(schema=ENTERPRISE_SCHEMA, name="x"), "whose attributes are fixed"),
    (Declaration(schema=f"{ENTERPRISE_SCHEMA}:more", name="x"), "begin alike"),
    (Declaration(schema=ENTRA, name="2fa"), "not an attribute name"),
    (Declaration(schema=ENTRA, name="a.b"), "not an attribute name"),
    (Declaration(schema=ENTRA, name="x", type="text"), "no type 'text'"),
    (Declaration(schema=ENTRA, name="x", resource_type="Device"), "resource_type"),
    (Declaration(schema=ENTRA, name="x", sub_attributes=(SubAttribute(name="y"),)),
     "only a complex attribute"),
    (Declaration(schema=ENTRA, name="x", type="complex"), "at least one sub-attribute"),
    (Declaration(schema=ENTRA, name="x", type="complex",
                 sub_attributes=(SubAttribute(name="y", type="complex"),)), "cannot be complex"),
    (Declaration(schema=ENTRA, name="x", type="complex",
                 sub_attributes=(SubAttribute(name="y"), SubAttribute(name="Y"))),
     "listed twice"),
])
def test_a_bad_declaration_says_what_is_wrong(decl: Declaration, says: str) -> None:
    with pytest.raises(GatewayError) as caught:
        custom.check(decl, BASE, [])
    assert says in caught.value.detail and caught.value.status == 400


def test_declarations_of_one_extension_share_its_spelling_and_resource_type() -> None:
    first = Declaration(schema=ENTRA, name="a")
    second = custom.check(Declaration(schema=ENTRA.lower(), name="b"), BASE, [first])
    assert second.schema == ENTRA
    with pytest.raises(GatewayError, match="extends User"):
        custom.check(Declaration(schema=ENTRA, name="c", resource_type="Group"), BASE, [first])
    with pytest.raises(GatewayError, match="begin alike"):
        custom.check(Declaration(schema=f"{ENTRA}:x", name="c"), BASE, [first])


def test_declarations_become_an_extension_of_the_type_and_nothing_else_changes() -> None:
    decl = Declaration(schema=ENTRA, name="CustomAttribute", case_exact=True)
    extended = registry(decl)
    users = extended.types["User"]
    schema = users.schema_by_urn(ENTRA)
    assert schema is not None and schema.custom and schema.name == "CustomExtensionName"
    assert schema.attribute("customattribute").case_exact
    assert users.to_scim()["schemaExtensions"][-1] == {"schema": ENTRA, "required": False}
    assert extended.types["Group"] is BASE.types["Group"]
    assert BASE.types["User"].schema_by_urn(ENTRA) is None


@pytest.mark.parametrize(("values", "expected"), [
    (["701984", "4130"], ("string", False)),
    ([True, False], ("boolean", False)),
    ([3, 4], ("integer", False)),
    ([3, 4.5], ("decimal", False)),
    (["2026-01-01T09:00:00Z"], ("dateTime", False)),
    (["2026-01-01"], ("string", False)),
    ([["a", "b"]], ("string", True)),
    ([3, "x"], ("string", False)),
    ([{"number": 7, "site": "HQ"}], ("complex", False)),
])
def test_the_values_seen_suggest_a_type(values: list, expected: tuple) -> None:
    bits = 0
    for value in values:
        bits |= custom.kinds_of(value)
    suggested = custom.suggest(f"{OKTA}:attr", bits, values[-1])
    assert (suggested.type, suggested.multi_valued) == expected
    assert suggested.schema == OKTA and suggested.name == "attr"
    custom.check(suggested, BASE, [])  # a suggestion is a valid declaration
    if expected[0] == "complex":
        assert [(s.name, s.type) for s in suggested.sub_attributes] == [
            ("number", "integer"), ("site", "string")]


# Bodies -----------------------------------------------------------------------------------

def test_an_undeclared_extension_is_kept_as_received_and_noted() -> None:
    seen = Undeclared(keep=True)
    data = canonical_resource(body(**{ENTRA: {"CustomAttribute": "701984", "empty": ""}}),
                              BASE.types["User"], undeclared=seen)
    assert data[ENTRA] == {"CustomAttribute": "701984"}
    assert seen.paths == [f"{ENTRA}:CustomAttribute"]
    assert schemas_of(data, BASE.types["User"]) == [USER_SCHEMA, ENTRA]


def test_without_a_provider_an_undeclared_extension_is_refused_as_before() -> None:
    with pytest.raises(ScimError) as caught:
        canonical_resource(body(**{ENTRA: {"CustomAttribute": "701984"}}), BASE.types["User"])
    assert caught.value.scim_type == "invalidSyntax"


def test_the_refusing_provider_names_the_attribute_and_where_to_declare_it() -> None:
    refusing = Undeclared(keep=False, where=": declare it on the provider page")
    with pytest.raises(ScimError) as caught:
        canonical_resource(body(**{OKTA: {"custom1": "x"}}), BASE.types["User"],
                           undeclared=refusing)
    assert f"'{OKTA}:custom1'" in caught.value.detail
    assert "declare it on the provider page" in caught.value.detail
    with pytest.raises(ScimError, match="not declared"):
        canonical_resource(body(schemas=[USER_SCHEMA, OKTA]), BASE.types["User"],
                           undeclared=refusing)


def test_fixed_schemas_keep_refusing_unknown_attributes() -> None:
    seen = Undeclared(keep=True)
    for wrong in ({"nickname2": "x"}, {f"{USER_SCHEMA}:nickname2": "x"},
                  {ENTERPRISE_SCHEMA: {"badge": "x"}}, {f"{ENTERPRISE_SCHEMA}:badge": "x"},
                  {"urn:ietf:params:scim:schemas:core:2.0:Group": {"x": 1}}):
        with pytest.raises(ScimError) as caught:
            canonical_resource(body(**wrong), BASE.types["User"], undeclared=seen)
        assert caught.value.scim_type == "invalidSyntax"
    assert seen.seen == {}


def test_declared_attributes_are_typed_and_undeclared_ones_beside_them_kept() -> None:
    users = user_type(Declaration(schema=ENTRA, name="level", type="integer"))
    seen = Undeclared(keep=True)
    data = canonical_resource(body(**{ENTRA.lower(): {"LEVEL": 3, "other": "x"}}), users,
                              undeclared=seen)
    assert data[ENTRA] == {"level": 3, "other": "x"}
    assert seen.paths == [f"{ENTRA}:other"]
    with pytest.raises(ScimError) as caught:
        canonical_resource(body(**{ENTRA: {"level": "three"}}), users, undeclared=seen)
    assert caught.value.scim_type == "invalidValue" and f"{ENTRA}:level" in caught.value.detail


def test_a_flat_urn_key_names_one_attribute() -> None:
    users = user_type(Declaration(schema=ENTRA, name="site", type="complex",
                                  sub_attributes=(SubAttribute(name="code"),)))
    seen = Undeclared(keep=True)
    data = canonical_resource(body(**{f"{ENTRA}:site": {"code": "HQ"},
                                      f"{ENTRA}:floor": 3, f"{OKTA}:custom1": "y"}),
                              users, undeclared=seen)
    assert data[ENTRA] == {"site": {"code": "HQ"}, "floor": 3}
    assert data[OKTA] == {"custom1": "y"}


def test_a_secret_name_is_never_kept() -> None:
    seen = Undeclared(keep=True)
    data = canonical_resource(body(**{OKTA: {"password": "hunter2", "schemas": [OKTA]}}),
                              BASE.types["User"], undeclared=seen)
    assert OKTA not in data and seen.seen == {}


def test_an_undeclared_list_is_bounded_like_any_multi_valued_attribute() -> None:
    with pytest.raises(ScimError, match="at most 2 values"):
        canonical_resource(body(**{OKTA: {"tags": ["a", "b", "c"]}}), BASE.types["User"],
                           max_values=2, undeclared=Undeclared(keep=True))


# PATCH ------------------------------------------------------------------------------------

def patch(data: dict, *ops: dict, rtype=None, undeclared: Undeclared | None = None) -> dict:
    request = parse_patch_request({"schemas": [PATCH_OP], "Operations": list(ops)})
    return apply_patch(data, request, rtype or BASE.types["User"],
                       undeclared=undeclared).data


def test_entras_patch_of_an_undeclared_path_is_kept() -> None:
    seen = Undeclared(keep=True)
    path = f"{ENTRA}:CustomAttribute"
    data = patch({"userName": "b"}, {"op": "Add", "path": path, "value": "701984"},
                 undeclared=seen)
    assert data[ENTRA] == {"CustomAttribute": "701984"}
    data = patch(data, {"op": "Replace", "path": path, "value": "4130"}, undeclared=seen)
    assert data[ENTRA] == {"CustomAttribute": "4130"}
    assert patch(data, {"op": "Remove", "path": path}, undeclared=seen) == {"userName": "b"}
    assert seen.paths == [path]


def test_no_path_values_and_extension_paths_reach_undeclared_attributes() -> None:
    seen = Undeclared(keep=True)
    data = patch({"userName": "b"},
                 {"op": "add", "value": {OKTA: {"custom1": "x"}, f"{ENTRA}:tags": ["a"]}},
                 {"op": "add", "path": f"{ENTRA}:tags", "value": ["a", "b"]},
                 {"op": "replace", "path": OKTA, "value": {"custom2": True}},
                 undeclared=seen)
    assert data[OKTA] == {"custom1": "x", "custom2": True}
    assert data[ENTRA] == {"tags": ["a", "b"]}
    assert patch(data, {"op": "remove", "path": OKTA}, undeclared=seen) == {
        "userName": "b", ENTRA: {"tags": ["a", "b"]}}


def test_patch_types_declared_attributes_and_refuses_when_told() -> None:
    users = user_type(Declaration(schema=ENTRA, name="level", type="integer"))
    with pytest.raises(ScimError) as caught:
        patch({"userName": "b"}, {"op": "add", "path": f"{ENTRA}:level", "value": "3"},
              rtype=users, undeclared=Undeclared(keep=True))
    assert caught.value.scim_type == "invalidValue"
    with pytest.raises(ScimError) as refused:
        patch({"userName": "b"}, {"op": "add", "path": f"{ENTRA}:other", "value": "3"},
              rtype=users, undeclared=Undeclared(keep=False, where=" (declare it)"))
    assert refused.value.scim_type == "invalidPath" and "(declare it)" in refused.value.detail
    with pytest.raises(ScimError, match="only a declared attribute"):
        patch({"userName": "b"}, {"op": "add", "path": f'{OKTA}:x[type eq "a"].v',
                                  "value": "3"}, undeclared=Undeclared(keep=True))


def test_a_value_kept_under_another_spelling_joins_the_declared_extension() -> None:
    users = user_type(Declaration(schema=ENTRA, name="level", type="integer"))
    before = {"userName": "b", ENTRA.lower(): {"other": "x"}}
    data = patch(before, {"op": "add", "path": f"{ENTRA}:level", "value": 3}, rtype=users,
                 undeclared=Undeclared(keep=True))
    assert data == {"userName": "b", ENTRA: {"other": "x", "level": 3}}


def test_filters_name_declared_attributes_only() -> None:
    users = user_type(Declaration(schema=ENTRA, name="level", type="integer"))
    assert parse_filter(f"{ENTRA}:level gt 2", users) is not None
    with pytest.raises(ScimError) as caught:
        parse_filter(f'{OKTA}:custom1 eq "x"', users)
    assert caught.value.scim_type == "invalidFilter"
