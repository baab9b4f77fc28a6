"""SCIM filter grammar (RFC 7644 section 3.4.2.2): parsing, printing and the reference
evaluator."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.scim.ast import (
    MAX_DEPTH,
    MAX_FILTER_LENGTH,
    And,
    AttrPath,
    Compare,
    Not,
    Or,
    Present,
    ValueFilter,
)
from gateway.scim.errors import ScimError
from gateway.scim.evaluate import element_matches, matches
from gateway.scim.filter import Parser, format_filter, format_value, parse_filter
from gateway.scim.schema import (
    ENTERPRISE_SCHEMA,
    GROUP_SCHEMA,
    GROUP_TYPE,
    USER_SCHEMA,
    USER_TYPE,
    Attribute,
    ResourceType,
    Schema,
)

U = USER_SCHEMA
E = ENTERPRISE_SCHEMA


def p(attr: str, sub: str | None = None, schema: str = U) -> AttrPath:
    return AttrPath(schema, attr, sub)


# ---------------------------------------------------------------------------------------------
# The examples of RFC 7644 section 3.4.2.2, with the AST each must produce.

RFC_EXAMPLES = {
    'userName Eq "john"': Compare(p("userName"), "eq", "john"),
    "title pr": Present(p("title")),
    'name.familyName co "O\'Malley"': Compare(p("name", "familyName"), "co", "O'Malley"),
    'userName sw "J"': Compare(p("userName"), "sw", "J"),
    'urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J"':
        Compare(p("userName"), "sw", "J"),
    'title pr and userType eq "Employee"':
        And(Present(p("title")), Compare(p("userType"), "eq", "Employee")),
    'title pr or userType eq "Intern"':
        Or(Present(p("title")), Compare(p("userType"), "eq", "Intern")),
    'schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"':
        Compare(p("schemas"), "eq", E),
    'userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")':
        And(Compare(p("userType"), "eq", "Employee"),
            Or(Compare(p("emails", "value"), "co", "example.com"),
               Compare(p("emails", "value"), "co", "example.org"))),
    'userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")':
        And(Compare(p("userType"), "ne", "Employee"),
            Not(Or(Compare(p("emails", "value"), "co", "example.com"),
                   Compare(p("emails", "value"), "co", "example.org")))),
    'userType eq "Employee" and (emails.type eq "work")':
        And(Compare(p("userType"), "eq", "Employee"), Compare(p("emails", "type"), "eq", "work")),
    'userType eq "Employee" and emails[type eq "work" and value co "@example.com"]':
        And(Compare(p("userType"), "eq", "Employee"),
            ValueFilter(p("emails"), And(Compare(p("emails", "type"), "eq", "work"),
                                         Compare(p("emails", "value"), "co", "@example.com")))),
    'emails[type eq "work" and value co "@example.com"] or '
    'ims[type eq "xmpp" and value co "@foo.com"]':
        Or(ValueFilter(p("emails"), And(Compare(p("emails", "type"), "eq", "work"),
                                        Compare(p("emails", "value"), "co", "@example.com"))),
           ValueFilter(p("ims"), And(Compare(p("ims", "type"), "eq", "xmpp"),
                                     Compare(p("ims", "value"), "co", "@foo.com")))),
    'meta.lastModified gt "2011-05-13T04:42:34Z"':
        Compare(p("meta", "lastModified"), "gt", "2011-05-13T04:42:34Z"),
    'meta.lastModified ge "2011-05-13T04:42:34Z"':
        Compare(p("meta", "lastModified"), "ge", "2011-05-13T04:42:34Z"),
    'meta.lastModified lt "2011-05-13T04:42:34Z"':
        Compare(p("meta", "lastModified"), "lt", "2011-05-13T04:42:34Z"),
    'meta.lastModified le "2011-05-13T04:42:34Z"':
        Compare(p("meta", "lastModified"), "le", "2011-05-13T04:42:34Z"),
}


@pytest.mark.parametrize("text", list(RFC_EXAMPLES))
def test_rfc_examples_parse(text: str) -> None:
    assert parse_filter(text, USER_TYPE) == RFC_EXAMPLES[text]


@pytest.mark.parametrize("text", list(RFC_EXAMPLES))
def test_rfc_examples_round_trip(text: str) -> None:
    ast = parse_filter(text, USER_TYPE)
    assert parse_filter(format_filter(ast), USER_TYPE) == ast


def test_names_and_keywords_are_case_insensitive() -> None:
    ast = parse_filter('NAME.FAMILYNAME CO "x" AND Not (USERNAME PR) OR active EQ TRUE', USER_TYPE)
    assert ast == Or(
        And(Compare(p("name", "familyName"), "co", "x"), Not(Present(p("userName")))),
        Compare(p("active"), "eq", True),
    )


def test_extension_and_common_attributes() -> None:
    assert parse_filter(f'{E.lower()}:DEPARTMENT eq "R&D"', USER_TYPE) == Compare(
        p("department", schema=E), "eq", "R&D"
    )
    assert parse_filter(f'{E}:manager.value eq "42"', USER_TYPE) == Compare(
        p("manager", "value", schema=E), "eq", "42"
    )
    # A complex single-valued attribute with a `value` sub-attribute compares that one.
    assert parse_filter(f'{E}:manager eq "42"', USER_TYPE) == Compare(
        p("manager", "value", schema=E), "eq", "42"
    )
    assert parse_filter('externalid eq "A" and ID eq "b" and Meta.ResourceType eq "User"',
                        USER_TYPE) == And(
        Compare(p("externalId"), "eq", "A"),
        And(Compare(p("id"), "eq", "b"), Compare(p("meta", "resourceType"), "eq", "User")),
    )
    assert parse_filter('members[value eq "1"]', GROUP_TYPE) == ValueFilter(
        AttrPath(GROUP_SCHEMA, "members"), Compare(AttrPath(GROUP_SCHEMA, "members", "value"),
                                                    "eq", "1")
    )


def test_precedence_not_over_and_over_or() -> None:
    a, b, c = 'title pr', 'userType eq "b"', 'nickName eq "c"'
    assert parse_filter(f"{a} or {b} and {c}", USER_TYPE) == parse_filter(
        f"{a} or ({b} and {c})", USER_TYPE
    )
    assert parse_filter(f"{a} and {b} or {c}", USER_TYPE) == parse_filter(
        f"({a} and {b}) or {c}", USER_TYPE
    )
    assert parse_filter(f"{a} or {b} and {c}", USER_TYPE) != parse_filter(
        f"({a} or {b}) and {c}", USER_TYPE
    )
    ast = parse_filter(f"not ({a}) and {b}", USER_TYPE)
    assert isinstance(ast, And) and isinstance(ast.left, Not)


def test_compare_values() -> None:
    def value(text: str):
        node = parse_filter(text, CUSTOM_TYPE)
        assert isinstance(node, Compare)
        return node.value

    assert value(r'title eq "a\"b\\c\u00e9\n"') == 'a"b\\cé\n'
    assert value("active eq false") is False
    assert value("active eq True") is True
    assert value("title eq null") is None
    assert value(f"{X}:level gt -12") == -12
    assert isinstance(value(f"{X}:level gt 12"), int)
    assert value(f"{X}:score le 1.5e3") == 1500.0
    assert isinstance(value(f"{X}:score le 2.5"), float)


def test_long_chains_stay_shallow() -> None:
    text = " or ".join(f'id eq "{i}"' for i in range(250))
    ast = parse_filter(text, USER_TYPE)

    def depth(node) -> int:
        if isinstance(node, (And, Or)):
            return 1 + max(depth(node.left), depth(node.right))
        return 1

    assert depth(ast) <= 10
    assert len(text) <= MAX_FILTER_LENGTH
    assert matches(ast, {"id": "249"}, USER_TYPE)
    assert matches(ast, {"id": "0"}, USER_TYPE)
    assert not matches(ast, {"id": "250"}, USER_TYPE)


ERRORS = [
    "",
    "   ",
    "userName",
    "userName eq",
    'userName xx "a"',
    'userName equals "a"',
    '(userName eq "a"',
    'userName eq "a")',
    '((userName eq "a")',
    'userName eq "a" title pr',
    'userName eq "a" and',
    'userName eq "a" or or title pr',
    "and",
    'title pr "x"',
    'name eq "x"',  # complex without a value sub-attribute
    'addresses co "x"',
    "active gt true",
    'active eq "true"',
    'userName eq true',
    "userName eq 1",
    "userName eq john",
    'userName co null',
    'not userName eq "x"',
    'not (userName eq "x"',
    'userName eq "unterminated',
    'userName eq "bad \\x escape"',
    'meta.lastModified gt "yesterday"',
    'meta.created sw "2011"',
    'password eq "secret"',
    'emails[type eq "work"',
    'emails[type eq "work"]]',
    "emails[]",
    'emails[type[value eq "x"] eq "y"]',
    'emails[nope eq "x"]',
    'emails[emails.type eq "x"]',
    'name[givenName eq "x"]',
    'userName[value eq "x"]',
    'emails.value[type eq "x"]',
    'name.familyName.x eq "y"',
    'userName eq "a" ) (',
    '[type eq "work"]',
    '"userName" eq "x"',
    "userName eq 01",
    "userName eq 1.",
    "userName eq NaN",
    # A value path with a sub-attribute: the sub-attribute, its operator and its value are
    # checked as in any comparison.
    'emails[type eq "work"].nope eq "x"',
    'emails[type eq "work"].value',
    'emails[type eq "work"]. value eq "x"',
    'emails[type eq "work"].value.x eq "y"',
    'emails[type eq "work"].value[type eq "x"] eq "y"',
    'emails[type eq "work"].value eq "x" "y"',
    'emails[type eq "work"].value co null',
    'emails[type eq "work"].primary eq "x"',
    'emails[type eq "work"].value eq "x".value',
    'emails[type eq "work"].value eq emails[type eq "home"].value',
    'name[givenName eq "x"].familyName eq "y"',
    'userName[value eq "x"].value eq "y"',
    'emails.value[type eq "work"].value eq "x"',
    f'{E}:manager[value eq "x"].displayName eq "y"',
    'emails[type eq "work"].value eq "x" and .value eq "y"',
]


@pytest.mark.parametrize("text", ERRORS)
def test_malformed_filters_are_invalid_filter(text: str) -> None:
    with pytest.raises(ScimError) as info:
        parse_filter(text, USER_TYPE)
    assert (info.value.status, info.value.scim_type) == (400, "invalidFilter")
    assert info.value.detail


@pytest.mark.parametrize("text,rtype,name", [
    ('nickname eq "x"', GROUP_TYPE, "nickname"),
    ('frobnicate eq "x"', USER_TYPE, "frobnicate"),
    ('name.nickName eq "x"', USER_TYPE, "name.nickName"),
    (f'{E}:department eq "x"', GROUP_TYPE, "department"),
    ('urn:example:unknown:attr eq "x"', USER_TYPE, "attr"),
])
def test_unknown_attributes_are_invalid_filter_naming_them(text, rtype, name) -> None:
    with pytest.raises(ScimError) as info:
        parse_filter(text, rtype)
    assert info.value.scim_type == "invalidFilter"
    assert name in info.value.detail


def test_length_and_depth_limits() -> None:
    long = 'userName eq "' + "x" * MAX_FILTER_LENGTH + '"'
    with pytest.raises(ScimError) as info:
        parse_filter(long, USER_TYPE)
    assert info.value.scim_type == "invalidFilter"
    ok = "(" * MAX_DEPTH + "title pr" + ")" * MAX_DEPTH
    assert parse_filter(ok, USER_TYPE) == Present(p("title"))
    for deep in ("(" * (MAX_DEPTH + 1) + "title pr" + ")" * (MAX_DEPTH + 1),
                 "not (" * (MAX_DEPTH + 1) + "title pr" + ")" * (MAX_DEPTH + 1)):
        with pytest.raises(ScimError) as info:
            parse_filter(deep, USER_TYPE)
        assert info.value.scim_type == "invalidFilter"


# ---------------------------------------------------------------------------------------------
# `attr[expr].sub op value`: the PATCH path form Entra sends for a matching property
# (`emails[type eq "work"].value eq "x"`) is `attr[(expr) and sub op value]`.

SUB_VALUE_PATHS = {
    'emails[type eq "work"].value eq "user@contoso.com"':
        'emails[(type eq "work") and value eq "user@contoso.com"]',
    'addresses[type eq "work"].locality eq "Redmond"':
        'addresses[(type eq "work") and locality eq "Redmond"]',
    'addresses[type eq "work"].region eq "WA"': 'addresses[(type eq "work") and region eq "WA"]',
    'addresses[type eq "work"].country eq "US"':
        'addresses[(type eq "work") and country eq "US"]',
    'phoneNumbers[type eq "mobile"].value sw "+1"':
        'phoneNumbers[(type eq "mobile") and value sw "+1"]',
    'emails[type eq "work"].value pr': 'emails[(type eq "work") and value pr]',
    'emails[type eq "work"].primary eq true': 'emails[(type eq "work") and primary eq true]',
    'emails[type eq "work"].value eq null': 'emails[(type eq "work") and value eq null]',
    'EMAILS[TYPE EQ "work"].VALUE EQ "x"': 'emails[(type eq "work") and value eq "x"]',
    f'{U}:emails[type eq "work"].value eq "x"': 'emails[(type eq "work") and value eq "x"]',
    'emails[type eq "work" or primary eq true].value ew ".org"':
        'emails[(type eq "work" or primary eq true) and value ew ".org"]',
    'emails[type eq "work" and primary eq true].value co "@"':
        'emails[(type eq "work" and primary eq true) and value co "@"]',
    'emails[not (type eq "home")].value eq "x"': 'emails[(not (type eq "home")) and value eq "x"]',
    # Combined with and / or / not, with the usual precedence.
    'emails[type eq "work"].value eq "x" and userName eq "y"':
        'emails[(type eq "work") and value eq "x"] and userName eq "y"',
    'title pr or emails[type eq "work"].value eq "x" and userType eq "E"':
        'title pr or (emails[(type eq "work") and value eq "x"] and userType eq "E")',
    'not (addresses[type eq "work"].country eq "US") or title pr':
        'not (addresses[(type eq "work") and country eq "US"]) or title pr',
    '(emails[type eq "work"].value eq "x")': 'emails[(type eq "work") and value eq "x"]',
    'emails[type eq "work"].value eq "x" or emails[type eq "home"].value eq "x"':
        'emails[(type eq "work") and value eq "x"] or emails[(type eq "home") and value eq "x"]',
}


@pytest.mark.parametrize("text", list(SUB_VALUE_PATHS))
def test_a_value_path_with_a_sub_attribute_is_one_more_condition_on_the_element(text) -> None:
    ast = parse_filter(text, USER_TYPE)
    assert ast == parse_filter(SUB_VALUE_PATHS[text], USER_TYPE)
    assert parse_filter(format_filter(ast), USER_TYPE) == ast


def test_a_value_path_with_a_sub_attribute_on_groups_and_extensions() -> None:
    assert parse_filter('members[value sw "u"].value eq "u1"', GROUP_TYPE) == ValueFilter(
        AttrPath(GROUP_SCHEMA, "members"),
        And(Compare(AttrPath(GROUP_SCHEMA, "members", "value"), "sw", "u"),
            Compare(AttrPath(GROUP_SCHEMA, "members", "value"), "eq", "u1")))
    assert parse_filter(f'{X}:badges[type eq "gold"].level gt 2', CUSTOM_TYPE) == ValueFilter(
        AttrPath(X, "badges"), And(Compare(AttrPath(X, "badges", "type"), "eq", "gold"),
                                   Compare(AttrPath(X, "badges", "level"), "gt", 2)))


@pytest.mark.parametrize("text,words", [
    ('emails[type eq "work"].nope eq "x"', ["emails", "nope"]),
    ('emails[type eq "work"].primary eq "x"', ["emails[...].primary", "boolean"]),
    ('emails[type eq "work"].value', ["operator", "emails[...].value"]),
    ('name[givenName eq "x"].familyName eq "y"', ["name", "multi-valued complex"]),
    ('userName[value eq "x"].value eq "y"', ["userName", "multi-valued complex"]),
])
def test_a_bad_value_path_with_a_sub_attribute_says_what_is_wrong(text, words) -> None:
    with pytest.raises(ScimError) as info:
        parse_filter(text, USER_TYPE)
    assert (info.value.status, info.value.scim_type) == (400, "invalidFilter")
    for word in words:
        assert word in info.value.detail


# ---------------------------------------------------------------------------------------------
# The reference evaluator

ALICE = {
    "id": "2819c223-7f76-453a-919d-413861904646",
    "externalId": "Alice-EXT",
    "userName": "Alice@Example.com",
    "name": {"familyName": "O'Malley", "givenName": "Alice"},
    "title": "Engineer",
    "userType": "Employee",
    "active": True,
    "emails": [
        {"value": "alice@other.org", "type": "work"},
        {"value": "alice@example.com", "type": "home", "primary": True},
    ],
    "ims": [{"value": "alice@foo.com", "type": "xmpp"}],
    E: {"department": "R&D", "manager": {"value": "m-1"}},
    "meta": {
        "resourceType": "User",
        "created": "2011-05-13T04:42:34.000000Z",
        "lastModified": "2011-05-13T04:42:34.000000Z",
        "version": 'W/"3"',
    },
}
BOB = {
    "id": "bob-id",
    "userName": "bob",
    "userType": "Intern",
    "active": False,
    "emails": [{"value": "bob@example.org", "type": "work"}],
    "meta": {
        "resourceType": "User",
        "created": "2012-01-01T00:00:00.000000Z",
        "lastModified": "2012-01-01T00:00:00.000000Z",
        "version": 'W/"1"',
    },
}

EVAL = [
    ('userName Eq "alice@example.com"', True, False),
    ('userName eq "ALICE@EXAMPLE.COM"', True, False),
    ("title pr", True, False),
    ('name.familyName co "o\'malley"', True, False),
    ('userName sw "B"', False, True),
    ('urn:ietf:params:scim:schemas:core:2.0:User:userName sw "al"', True, False),
    ('title pr and userType eq "Employee"', True, False),
    ('title pr or userType eq "Intern"', True, True),
    (f'schemas eq "{E}"', True, False),
    (f'schemas eq "{U}"', True, True),
    ('schemas co "enterprise"', True, False),
    ('userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")',
     True, False),
    ('userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")',
     False, False),
    ('userType ne "Employee" and not (emails co "example.com")', False, True),
    ('userType eq "Employee" and (emails.type eq "work")', True, False),
    # The work address is not @example.com: the whole bracket must hold for ONE element.
    ('userType eq "Employee" and emails[type eq "work" and value co "@example.com"]',
     False, False),
    ('emails[type eq "home" and value co "@example.com"]', True, False),
    ('emails[type eq "work" and value co "@example.com"] or '
     'ims[type eq "xmpp" and value co "@foo.com"]', True, False),
    ('emails[type eq "work" and not (value ew ".org")]', False, False),
    ('emails[primary eq true]', True, False),
    # A value path with a sub-attribute: the element must satisfy both. Alice's home email is
    # alice@example.com, her work one is not: no work email of hers is alice@example.com.
    ('emails[type eq "work"].value eq "alice@example.com"', False, False),
    ('emails[type eq "home"].value eq "alice@example.com"', True, False),
    ('emails[type eq "work"].value eq "ALICE@OTHER.ORG"', True, False),
    ('emails[type eq "work"].value ew ".org"', True, True),
    ('emails[type eq "work"].value pr', True, True),
    ('emails[type eq "work"].primary eq true', False, False),
    ('emails[type eq "home"].primary eq true', True, False),
    ('emails[type eq "work"].value ne "bob@example.org"', True, False),
    ('emails[type ne "work"]', True, False),
    ('meta.lastModified gt "2011-05-13T04:42:34Z"', False, True),
    ('meta.lastModified ge "2011-05-13T04:42:34Z"', True, True),
    ('meta.lastModified lt "2011-05-13T04:42:34Z"', False, False),
    ('meta.lastModified le "2011-05-13T04:42:34Z"', True, False),
    # Chronological, not textual: the same instant with another offset.
    ('meta.created eq "2011-05-13T06:42:34+02:00"', True, False),
    ('meta.created gt "2011-05-13T05:00:00+02:00"', True, True),
    ('meta.version eq "W/\\"3\\""', True, False),
    ('meta.resourceType eq "user"', False, False),  # caseExact
    ('externalId eq "alice-ext"', False, False),  # caseExact
    ('externalId eq "Alice-EXT"', True, False),
    ('externalId ne "Alice-EXT"', False, True),  # ne on a missing attribute is true
    ('externalId pr', True, False),
    ('nickName ne "x"', True, True),
    ('nickName eq "x"', False, False),
    ('nickName gt ""', False, False),
    ('title eq null', False, True),
    ('title ne null', True, False),
    ('active eq true', True, False),
    ('active ne true', False, True),
    ('active eq false', False, True),
    (f'{E}:department eq "r&d"', True, False),
    (f'{E}:manager eq "m-1"', True, False),
    (f'{E}:manager pr', True, False),
    ('name pr', True, False),
    ('emails pr', True, True),
    ('addresses pr', False, False),
    ('emails.primary eq true', True, False),
    ('emails.value ne "bob@example.org"', True, False),
    ('userName gt "b"', False, True),
    ('userName lt "B"', True, False),
    ('id eq "BOB-ID"', False, False),
    ('id ew "-id"', False, True),
    ('title co ""', True, False),
    ('title sw "ENG"', True, False),
    ('title ew "EER"', True, False),
]


@pytest.mark.parametrize("text,alice,bob", EVAL)
def test_matches(text: str, alice: bool, bob: bool) -> None:
    ast = parse_filter(text, USER_TYPE)
    assert matches(ast, ALICE, USER_TYPE) is alice
    assert matches(ast, BOB, USER_TYPE) is bob
    # not x is always the complement: no three-valued logic in the reference.
    assert matches(Not(ast), ALICE, USER_TYPE) is (not alice)


def test_present_ignores_empty_values() -> None:
    user = {"title": "", "emails": [], "name": {}, "nickName": None}
    for text in ("title pr", "emails pr", "name pr", "nickName pr"):
        assert not matches(parse_filter(text, USER_TYPE), user, USER_TYPE), text


def test_members_values_compare_exactly() -> None:
    group = {"displayName": "Admins", "members": [{"value": "abc-1"}, {"value": "def-2"}],
             "meta": {"resourceType": "Group"}}
    assert matches(parse_filter('members[value eq "abc-1"]', GROUP_TYPE), group, GROUP_TYPE)
    assert not matches(parse_filter('members[value eq "ABC-1"]', GROUP_TYPE), group, GROUP_TYPE)
    assert matches(parse_filter('members eq "def-2"', GROUP_TYPE), group, GROUP_TYPE)
    assert matches(parse_filter('displayName eq "admins"', GROUP_TYPE), group, GROUP_TYPE)


def test_element_matches_selects_elements() -> None:
    vf = parse_filter('emails[type eq "work" or primary eq true]', USER_TYPE)
    assert isinstance(vf, ValueFilter)
    chosen = [el for el in ALICE["emails"] + BOB["emails"]
              if element_matches(vf.expr, el, USER_TYPE)]
    assert chosen == ALICE["emails"] + BOB["emails"]
    vf = parse_filter('emails[value ew ".ORG"]', USER_TYPE)
    assert [el["value"] for el in ALICE["emails"] if element_matches(vf.expr, el, USER_TYPE)] == [
        "alice@other.org"
    ]


def test_numbers_and_simple_multi_valued() -> None:
    user = {X: {"level": 7, "score": 2.5, "tags": ["Blue", "green"]}}
    for text, expected in [
        (f"{X}:level gt 6", True), (f"{X}:level gt 7", False), (f"{X}:level eq 7.0", True),
        (f"{X}:score lt 3", True), (f"{X}:score ge 2.6", False),
        (f'{X}:tags eq "blue"', True), (f'{X}:tags sw "gr"', True), (f'{X}:tags eq "red"', False),
        (f'{X}:tags ne "red"', True), (f'{X}:tags ne "GREEN"', False),
        (f'schemas eq "{X}"', True), (f'schemas eq "{E}"', False),
    ]:
        assert matches(parse_filter(text, CUSTOM_TYPE), user, CUSTOM_TYPE) is expected, text


# ---------------------------------------------------------------------------------------------
# Round trip: any well-typed AST prints to text that parses back to it.

X = "urn:example:params:scim:schemas:extension:test:2.0:User"
TEST_EXTENSION = Schema(id=X, name="Test", description="numbers and lists", attributes=(
    Attribute(name="level", type="integer"),
    Attribute(name="score", type="decimal"),
    Attribute(name="tags", multi_valued=True),
    Attribute(name="hired", type="dateTime"),
    Attribute(name="badges", type="complex", multi_valued=True, sub_attributes=(
        Attribute(name="value"), Attribute(name="type"), Attribute(name="level", type="integer"),
    )),
))
CUSTOM_TYPE = ResourceType(
    name="User", endpoint="/Users", description="User", schema=USER_TYPE.schema,
    extensions=USER_TYPE.extensions + ((TEST_EXTENSION, False),),
)

DATES = st.datetimes().map(lambda d: d.isoformat() + "Z")
STRINGS = st.text(max_size=12)


def scalar_paths(rtype: ResourceType) -> list[tuple[AttrPath, str]]:
    """Every comparable leaf of rtype with its type, complex attributes via their subs."""
    out = []
    for schema in rtype.schemas:
        for attr in schema.attributes:
            if attr.returned == "never":
                continue
            if attr.type == "complex":
                out += [(AttrPath(schema.id, attr.name, s.name), s.type)
                        for s in attr.sub_attributes]
            else:
                out.append((AttrPath(schema.id, attr.name), attr.type))
    out += [(AttrPath(rtype.schema.id, "id"), "string"),
            (AttrPath(rtype.schema.id, "externalId"), "string"),
            (AttrPath(rtype.schema.id, "meta", "lastModified"), "dateTime")]
    return out


def compare_for(path: AttrPath, kind: str) -> st.SearchStrategy:
    if kind == "boolean":
        return st.builds(Compare, st.just(path), st.sampled_from(["eq", "ne"]), st.booleans())
    if kind == "integer":
        return st.builds(Compare, st.just(path), st.sampled_from(["eq", "ne", "gt", "le"]),
                         st.integers())
    if kind == "decimal":
        return st.builds(Compare, st.just(path), st.sampled_from(["eq", "lt", "ge"]),
                         st.floats(allow_nan=False, allow_infinity=False))
    if kind == "dateTime":
        return st.builds(Compare, st.just(path),
                         st.sampled_from(["eq", "ne", "gt", "ge", "lt", "le"]), DATES)
    return st.builds(Compare, st.just(path), st.sampled_from(
        ["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"]), STRINGS)


def leaves(rtype: ResourceType) -> st.SearchStrategy:
    paths = scalar_paths(rtype)
    compares = st.sampled_from(paths).flatmap(lambda pk: compare_for(*pk))
    presents = st.sampled_from(paths).map(lambda pk: Present(pk[0]))
    nulls = st.builds(lambda pk, op: Compare(pk[0], op, None), st.sampled_from(paths),
                      st.sampled_from(["eq", "ne"]))
    multi = multi_valued(rtype)

    return st.one_of(compares, presents, nulls, st.sampled_from(multi).flatmap(value_filter))


def multi_valued(rtype: ResourceType) -> list[tuple[str, Attribute]]:
    return [(schema.id, a) for schema in rtype.schemas for a in schema.attributes
            if a.type == "complex" and a.multi_valued]


def element_leaves(urn: str, attr: Attribute) -> st.SearchStrategy:
    return st.one_of([compare_for(AttrPath(urn, attr.name, s.name), s.type)
                      for s in attr.sub_attributes]
                     + [st.just(Present(AttrPath(urn, attr.name, s.name)))
                        for s in attr.sub_attributes])


def value_filter(item: tuple[str, Attribute]) -> st.SearchStrategy:
    urn, attr = item
    tree = st.recursive(element_leaves(urn, attr), lambda kids: st.one_of(
        st.builds(And, kids, kids), st.builds(Or, kids, kids), st.builds(Not, kids)),
        max_leaves=4)
    return tree.map(lambda expr: ValueFilter(AttrPath(urn, attr.name), expr))


@st.composite
def value_paths_with_a_sub_attribute(draw) -> tuple[str, ValueFilter]:
    """`attr[expr].sub op value` as text, and the AST of `attr[(expr) and sub op value]`."""
    item = draw(st.sampled_from(multi_valued(CUSTOM_TYPE)))
    found, leaf = draw(value_filter(item)), draw(element_leaves(*item))
    tail = "pr" if isinstance(leaf, Present) else f"{leaf.op} {format_value(leaf.value)}"
    text = f"{format_filter(found)}.{leaf.path.sub} {tail}"
    return text, ValueFilter(found.path, And(found.expr, leaf))


@settings(max_examples=200, deadline=None)
@given(value_paths_with_a_sub_attribute())
def test_a_sub_attribute_after_brackets_parses_as_one_more_condition(case) -> None:
    text, ast = case
    assert parse_filter(text, CUSTOM_TYPE) == ast
    assert parse_filter(format_filter(ast), CUSTOM_TYPE) == ast


FILTERS = st.recursive(leaves(CUSTOM_TYPE), lambda kids: st.one_of(
    st.builds(And, kids, kids), st.builds(Or, kids, kids), st.builds(Not, kids)), max_leaves=8)


@settings(max_examples=200, deadline=None)
@given(FILTERS)
def test_format_parse_round_trip(ast) -> None:
    text = format_filter(ast)
    assert parse_filter(text, CUSTOM_TYPE) == ast


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(list('()[]" \\aeqnotrp.:1-') + ["userName", "emails", " and ",
                                                                     " or ", " not ", "pr"]),
                max_size=30).map("".join))
def test_arbitrary_text_parses_or_raises_invalid_filter(text: str) -> None:
    try:
        ast = parse_filter(text, USER_TYPE)
    except ScimError as exc:
        assert exc.scim_type == "invalidFilter"
    else:
        assert parse_filter(format_filter(ast), USER_TYPE) == ast


# The one-comparison form (`userName eq "x"`) takes a shortcut past the tokenizer; whatever
# the text, it must answer exactly what the full parser answers.
NAMES = st.sampled_from(["userName", "USERNAME", "externalId", "name.familyName", "emails",
                         "emails.value", "active", "meta.lastModified", "password", "not",
                         "nosuch", "name.nosuch", "x-y", "groups.value", "id", "schemas"])
OPS = st.sampled_from(["eq", "EQ", "Ne", "co", "sw", "ew", "gt", "ge", "lt", "le", "pr", "xx"])
VALUES = st.one_of(st.text(max_size=8).map(lambda v: f'"{v}"'),
                   st.text(max_size=8).map(json.dumps),
                   st.sampled_from(['"2011-05-13T04:42:34Z"', "true", "1", '"a\\"b"', '""']))
SPACE = st.sampled_from(["", " ", "  ", "\t", "\u00a0"])


def parsed(parse, text: str):
    try:
        return parse(text)
    except ScimError as exc:
        assert exc.scim_type == "invalidFilter"
        return "invalidFilter"


@settings(max_examples=400, deadline=None)
@given(SPACE, NAMES, SPACE, OPS, SPACE, VALUES, SPACE, st.booleans())
def test_one_comparison_filters_parse_as_the_full_parser_does(a, name, b, op, c, value, d,
                                                              long):
    text = f"{a}{name} {b}{op} {c}{value}{d}"
    if long:
        text = text.replace(value, value[:1] + "x" * MAX_FILTER_LENGTH + value[1:], 1)
    assert parsed(lambda t: parse_filter(t, USER_TYPE), text) == \
        parsed(lambda t: Parser(t, USER_TYPE).parse(), text)
