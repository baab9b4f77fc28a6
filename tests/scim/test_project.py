"""attributes / excludedAttributes and the `returned` rules (RFC 7644 3.9, RFC 7643 2.4)."""

from __future__ import annotations

import copy

from gateway.scim.ast import AttrPath
from gateway.scim.path import parse_attr_list
from gateway.scim.project import project, wants_members
from gateway.scim.schema import (
    ENTERPRISE_SCHEMA,
    GROUP_SCHEMA,
    GROUP_TYPE,
    USER_SCHEMA,
    USER_TYPE,
)

CORE = USER_SCHEMA


def user() -> dict:
    return {
        "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA],
        "id": "2819c223",
        "externalId": "bjensen",
        "userName": "bjensen@example.com",
        "name": {"givenName": "Barbara", "familyName": "Jensen", "formatted": "Ms. Barbara"},
        "displayName": "Babs Jensen",
        "password": "t1meMa$heen",
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": True},
            {"value": "babs@jensen.org", "type": "home"},
        ],
        "groups": [{"value": "e9e30dba", "display": "Tour Guides"}],
        ENTERPRISE_SCHEMA: {"department": "Tour Operations", "employeeNumber": "701984"},
        "meta": {"resourceType": "User", "created": "2010-01-23T04:56:22Z",
                 "version": 'W/"3"'},
    }


def group() -> dict:
    return {
        "schemas": [GROUP_SCHEMA],
        "id": "e9e30dba",
        "displayName": "Tour Guides",
        "members": [{"value": "2819c223", "display": "Babs Jensen"}],
        "meta": {"resourceType": "Group"},
    }


def ap(attr: str, sub: str | None = None, schema: str = CORE) -> AttrPath:
    return AttrPath(schema=schema, attr=attr, sub=sub)


def test_no_selection_returns_everything_but_never() -> None:
    out = project(user(), USER_TYPE)
    expected = user()
    del expected["password"]
    assert out == expected


def test_input_is_not_modified() -> None:
    resource = user()
    before = copy.deepcopy(resource)
    project(resource, USER_TYPE, [ap("emails", "value")])
    project(resource, USER_TYPE, excluded=[ap("name", "givenName")])
    assert resource == before


def test_attributes_keep_named_plus_always() -> None:
    out = project(user(), USER_TYPE, [ap("userName")])
    assert out == {"schemas": [USER_SCHEMA], "id": "2819c223",
                   "userName": "bjensen@example.com"}


def test_password_never_returned_even_when_asked() -> None:
    out = project(user(), USER_TYPE, [ap("password"), ap("userName")])
    assert "password" not in out
    assert "password" not in project(user(), USER_TYPE, excluded=[ap("userName")])


def test_id_cannot_be_excluded() -> None:
    out = project(user(), USER_TYPE, excluded=[ap("id"), ap("userName")])
    assert out["id"] == "2819c223"
    assert "userName" not in out
    assert out["schemas"] == [USER_SCHEMA, ENTERPRISE_SCHEMA]


def test_sub_attribute_of_complex() -> None:
    out = project(user(), USER_TYPE, [ap("name", "givenName")])
    assert out["name"] == {"givenName": "Barbara"}
    assert set(out) == {"schemas", "id", "name"}


def test_sub_attribute_of_multi_valued() -> None:
    out = project(user(), USER_TYPE, [ap("emails", "value")])
    assert out["emails"] == [{"value": "bjensen@example.com"}, {"value": "babs@jensen.org"}]


def test_sub_attribute_absent_everywhere_drops_attribute() -> None:
    out = project(user(), USER_TYPE, [ap("name", "middleName")])
    assert "name" not in out


def test_whole_parent_wins_over_sub() -> None:
    out = project(user(), USER_TYPE, [ap("name", "givenName"), ap("name")])
    assert out["name"] == user()["name"]


def test_excluded_sub_attribute() -> None:
    out = project(user(), USER_TYPE, excluded=[ap("emails", "primary"), ap("name", "formatted")])
    assert out["emails"] == [
        {"value": "bjensen@example.com", "type": "work"},
        {"value": "babs@jensen.org", "type": "home"},
    ]
    assert out["name"] == {"givenName": "Barbara", "familyName": "Jensen"}


def test_meta_is_default() -> None:
    assert "meta" not in project(user(), USER_TYPE, [ap("userName")])
    assert "meta" not in project(user(), USER_TYPE, excluded=[ap("meta")])
    out = project(user(), USER_TYPE, [ap("meta", "created")])
    assert out["meta"] == {"created": "2010-01-23T04:56:22Z"}


def test_extension_attribute_selected() -> None:
    out = project(user(), USER_TYPE, [ap("department", schema=ENTERPRISE_SCHEMA)])
    assert out == {
        "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA],
        "id": "2819c223",
        ENTERPRISE_SCHEMA: {"department": "Tour Operations"},
    }


def test_extension_dropped_when_empty_and_urn_removed() -> None:
    out = project(user(), USER_TYPE, [ap("userName")])
    assert ENTERPRISE_SCHEMA not in out
    assert out["schemas"] == [USER_SCHEMA]
    excluded = [ap("department", schema=ENTERPRISE_SCHEMA),
                ap("employeeNumber", schema=ENTERPRISE_SCHEMA)]
    out = project(user(), USER_TYPE, excluded=excluded)
    assert ENTERPRISE_SCHEMA not in out
    assert out["schemas"] == [USER_SCHEMA]


def test_extension_attribute_excluded_keeps_the_rest() -> None:
    out = project(user(), USER_TYPE, excluded=[ap("department", schema=ENTERPRISE_SCHEMA)])
    assert out[ENTERPRISE_SCHEMA] == {"employeeNumber": "701984"}
    assert ENTERPRISE_SCHEMA in out["schemas"]


def test_core_name_does_not_select_extension_namesake() -> None:
    # The enterprise `manager` is not core; a core-schema path must not match extension data.
    resource = user()
    resource[ENTERPRISE_SCHEMA]["manager"] = {"value": "26118915"}
    out = project(resource, USER_TYPE, [ap("manager", schema=ENTERPRISE_SCHEMA, sub="value")])
    assert out[ENTERPRISE_SCHEMA] == {"manager": {"value": "26118915"}}


def test_attributes_win_over_excluded() -> None:
    out = project(user(), USER_TYPE, [ap("userName")], excluded=[ap("userName")])
    assert out["userName"] == "bjensen@example.com"


def test_group_members_selection() -> None:
    out = project(group(), GROUP_TYPE, [ap("displayName", schema=GROUP_SCHEMA)])
    assert out == {"schemas": [GROUP_SCHEMA], "id": "e9e30dba", "displayName": "Tour Guides"}
    out = project(group(), GROUP_TYPE, excluded=[ap("members", schema=GROUP_SCHEMA)])
    assert "members" not in out and out["displayName"] == "Tour Guides"
    out = project(group(), GROUP_TYPE, [ap("members", "value", schema=GROUP_SCHEMA)])
    assert out["members"] == [{"value": "2819c223"}]


def test_with_parsed_attribute_lists() -> None:
    attrs = parse_attr_list("Name.GivenName,EMAILS.value", USER_TYPE)
    out = project(user(), USER_TYPE, attrs)
    assert out["name"] == {"givenName": "Barbara"}
    assert out["emails"][1] == {"value": "babs@jensen.org"}
    attrs = parse_attr_list(f"{ENTERPRISE_SCHEMA}:department", USER_TYPE)
    assert project(user(), USER_TYPE, attrs)[ENTERPRISE_SCHEMA] == {
        "department": "Tour Operations"
    }


def test_wants_members_group() -> None:
    assert wants_members(GROUP_TYPE, None, None)
    assert wants_members(GROUP_TYPE, [], [])
    assert not wants_members(GROUP_TYPE, [ap("displayName", schema=GROUP_SCHEMA)], None)
    assert wants_members(GROUP_TYPE, [ap("members", "value", schema=GROUP_SCHEMA)], None)
    assert not wants_members(GROUP_TYPE, None, [ap("members", schema=GROUP_SCHEMA)])
    assert wants_members(GROUP_TYPE, None, [ap("members", "display", schema=GROUP_SCHEMA)])
    assert wants_members(GROUP_TYPE, None, [ap("displayName", schema=GROUP_SCHEMA)])


def test_wants_members_user_groups() -> None:
    assert wants_members(USER_TYPE, None, None)
    assert not wants_members(USER_TYPE, [ap("userName")], None)
    assert wants_members(USER_TYPE, [ap("groups", "display")], None)
    assert not wants_members(USER_TYPE, None, [ap("groups")])
    # Same name in another schema is not the membership attribute.
    assert not wants_members(USER_TYPE, [ap("groups", schema=ENTERPRISE_SCHEMA)], None)
