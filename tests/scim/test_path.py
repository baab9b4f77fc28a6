"""PATCH paths (RFC 7644 section 3.5.2) and attribute lists."""

from __future__ import annotations

import pytest

from gateway.scim.ast import And, AttrPath, Compare, Present
from gateway.scim.errors import ScimError
from gateway.scim.path import PatchPath, parse_attr_list, parse_path
from gateway.scim.schema import ENTERPRISE_SCHEMA, GROUP_SCHEMA, GROUP_TYPE, USER_SCHEMA, USER_TYPE

U, G, E = USER_SCHEMA, GROUP_SCHEMA, ENTERPRISE_SCHEMA
MEMBER = "2819c223-7f76-453a-919d-413861904646"

GROUP_PATHS = {
    "members": PatchPath(AttrPath(G, "members")),
    f'members[value eq "{MEMBER}"]': PatchPath(
        AttrPath(G, "members"), Compare(AttrPath(G, "members", "value"), "eq", MEMBER)
    ),
    f'members[value eq "{MEMBER}"].display': PatchPath(
        AttrPath(G, "members"), Compare(AttrPath(G, "members", "value"), "eq", MEMBER), "display"
    ),
    "displayName": PatchPath(AttrPath(G, "displayName")),
    "externalId": PatchPath(AttrPath(G, "externalId")),
}

USER_PATHS = {
    "name.familyName": PatchPath(AttrPath(U, "name", "familyName")),
    'addresses[type eq "work"]': PatchPath(
        AttrPath(U, "addresses"), Compare(AttrPath(U, "addresses", "type"), "eq", "work")
    ),
    'emails[type eq "work" and value ew "example.com"]': PatchPath(
        AttrPath(U, "emails"),
        And(Compare(AttrPath(U, "emails", "type"), "eq", "work"),
            Compare(AttrPath(U, "emails", "value"), "ew", "example.com")),
    ),
    'addresses[type eq "work"].streetAddress': PatchPath(
        AttrPath(U, "addresses"), Compare(AttrPath(U, "addresses", "type"), "eq", "work"),
        "streetAddress",
    ),
    f"{E}:manager": PatchPath(AttrPath(E, "manager")),
    f"{E}:manager.value": PatchPath(AttrPath(E, "manager", "value")),
    # Names are case-insensitive and come back canonical.
    "NAME.GIVENNAME": PatchPath(AttrPath(U, "name", "givenName")),
    'EMAILS[TYPE EQ "work"].VALUE': PatchPath(
        AttrPath(U, "emails"), Compare(AttrPath(U, "emails", "type"), "eq", "work"), "value"
    ),
    f"{E.upper()}:DEPARTMENT": PatchPath(AttrPath(E, "department")),
    f"{U}:userName": PatchPath(AttrPath(U, "userName")),
    "emails[primary pr]": PatchPath(AttrPath(U, "emails"), Present(AttrPath(U, "emails",
                                                                            "primary"))),
    "emails.value": PatchPath(AttrPath(U, "emails", "value")),
    "password": PatchPath(AttrPath(U, "password")),
    "  active  ": PatchPath(AttrPath(U, "active")),
    'emails[value eq "a]b"].type': PatchPath(
        AttrPath(U, "emails"), Compare(AttrPath(U, "emails", "value"), "eq", "a]b"), "type"
    ),
}


@pytest.mark.parametrize("text", list(GROUP_PATHS))
def test_group_paths(text: str) -> None:
    assert parse_path(text, GROUP_TYPE) == GROUP_PATHS[text]


@pytest.mark.parametrize("text", list(USER_PATHS))
def test_user_paths(text: str) -> None:
    assert parse_path(text, USER_TYPE) == USER_PATHS[text]


BAD_USER_PATHS = [
    "",
    "   ",
    "nickname2",
    "name.nickName",
    "name.familyName.x",
    'name[givenName eq "x"]',  # not multi-valued
    'userName[value eq "x"]',
    'emails.value[type eq "work"]',
    'emails[type eq "work"',
    'emails[type eq "work"]]',
    "emails[]",
    'emails[type eq]',
    'emails[type xx "work"]',
    'emails[nope eq "x"]',
    'emails[type eq "work"].nope',
    'emails[type eq "work"]value',
    'emails[type eq "work"].value.x',
    'emails[type eq "work"].value extra',
    'emails[type[value eq "x"] eq "y"]',
    'emails[type eq "unterminated]',
    "user Name",
    '"userName"',
    "(userName)",
    "[type eq \"work\"]",
    f"{E}:nope",
    f"{G}:members",
    "urn:example:unknown:2.0:User:x",
    f"{E}",
]


@pytest.mark.parametrize("text", BAD_USER_PATHS)
def test_bad_paths_are_invalid_path(text: str) -> None:
    with pytest.raises(ScimError) as info:
        parse_path(text, USER_TYPE)
    assert (info.value.status, info.value.scim_type) == (400, "invalidPath")
    assert info.value.detail


@pytest.mark.parametrize("text", [
    f'members[value eq "{MEMBER}"].displayName',  # members has `display`, not displayName
    "userName",
    f"{E}:manager",
    'members[display eq "x"',
])
def test_bad_group_paths_are_invalid_path(text: str) -> None:
    with pytest.raises(ScimError) as info:
        parse_path(text, GROUP_TYPE)
    assert info.value.scim_type == "invalidPath"


def test_attr_list() -> None:
    assert parse_attr_list(" userName , name.familyName,EMAILS.value,"
                           f"{E}:department, meta.lastModified ,", USER_TYPE) == [
        AttrPath(U, "userName"), AttrPath(U, "name", "familyName"), AttrPath(U, "emails", "value"),
        AttrPath(E, "department"), AttrPath(U, "meta", "lastModified"),
    ]
    assert parse_attr_list("", USER_TYPE) == []
    assert parse_attr_list("schemas,id,ID", USER_TYPE) == [AttrPath(U, "id")]
    assert parse_attr_list("members,displayName", GROUP_TYPE) == [
        AttrPath(G, "members"), AttrPath(G, "displayName")
    ]
    expanded = parse_attr_list(E, USER_TYPE)
    assert AttrPath(E, "department") in expanded and AttrPath(E, "manager") in expanded
    assert all(path.schema == E for path in expanded)


@pytest.mark.parametrize("text", ["userName,nope", "emails[type eq \"work\"]", "name.x",
                                  f"{E}:department"])
def test_attr_list_errors(text: str) -> None:
    rtype = GROUP_TYPE if text.startswith(E) else USER_TYPE
    with pytest.raises(ScimError) as info:
        parse_attr_list(text, rtype)
    assert info.value.scim_type == "invalidPath"


# The shape Entra and Okta use for each member they remove takes a shorter way than the
# grammar; written any other way the grammar parses it. Both must give the same path.
@pytest.mark.parametrize(("quick", "spelled_out", "rtype"), [
    (f'members[value eq "{MEMBER}"]', f'members[ value  eq "{MEMBER}" ]', GROUP_TYPE),
    (f'MEMBERS[VALUE EQ "{MEMBER}"]', f'members[(value eq "{MEMBER}")]', GROUP_TYPE),
    ('emails[value eq "a@example.com"]', 'emails[ value eq "a@example.com"]', USER_TYPE),
    ('emails[value eq ""]', 'emails[value eq "" ]', USER_TYPE),
    ('emails[value eq "a\u00e9b"]', 'emails[value eq "a\\u00e9b"]', USER_TYPE),
])
def test_one_value_paths_parse_as_the_grammar_does(quick: str, spelled_out: str,
                                                   rtype: object) -> None:
    assert parse_path(quick, rtype) == parse_path(spelled_out, rtype)


@pytest.mark.parametrize(("text", "rtype"), [
    ('members[value eq "x"]', USER_TYPE),  # a User has no members
    ('name[value eq "x"]', USER_TYPE),  # not multi-valued
    ('userName[value eq "x"]', USER_TYPE),
    ('emails[value eq "a\tb"]', USER_TYPE),  # a control character in a JSON string
])
def test_one_value_shapes_the_grammar_refuses_stay_refused(text: str, rtype: object) -> None:
    with pytest.raises(ScimError) as info:
        parse_path(text, rtype)
    assert info.value.scim_type == "invalidPath"
