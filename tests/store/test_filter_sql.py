"""Filter AST -> SQL: the rows each compiled filter selects are the rows `matches` accepts.

Runs on SQLite (stdlib sqlite3, the real migration) and, when a PostgreSQL server is reachable
at postgresql://127.0.0.1:5432/test, on PostgreSQL in a throwaway schema.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.scim.ast import And, AttrPath, Compare, Not, Or, Present, ValueFilter
from gateway.scim.custom import Declaration, SubAttribute, registry_with
from gateway.scim.errors import ScimError
from gateway.scim.evaluate import matches, resource_values
from gateway.scim.filter import format_filter, format_value, parse_filter
from gateway.scim.schema import (
    ENTERPRISE_SCHEMA,
    GROUP_SCHEMA,
    GROUP_TYPE,
    USER_SCHEMA,
    USER_TYPE,
    Attribute,
    ResourceType,
    Schema,
    default_registry,
)
from gateway.store.filter_sql import POSTGRES, SQLITE, Dialect, compile_filter, compile_sort

MIGRATION = Path(__file__).resolve().parents[2] / "gateway/store/migrations/sqlite/0001_core.sql"
from postgres_server import PG_URL as PG_DSN  # noqa: E402

U, G, E = USER_SCHEMA, GROUP_SCHEMA, ENTERPRISE_SCHEMA
X = "urn:example:params:scim:schemas:extension:test:2.0:User"
PROVIDER = "p1"

# A User type with numbers and a simple multi-valued attribute, so those paths are covered too.
TEST_EXTENSION = Schema(id=X, name="Test", description="numbers and lists", attributes=(
    Attribute(name="level", type="integer"),
    Attribute(name="score", type="decimal"),
    Attribute(name="tags", multi_valued=True),
))
CUSTOM_USER = ResourceType(
    name="User", endpoint="/Users", description="User", schema=USER_TYPE.schema,
    extensions=USER_TYPE.extensions + ((TEST_EXTENSION, False),),
)


# ---------------------------------------------------------------------------------------------
# Resources: one description gives the stored row and the dict `matches` evaluates.


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(
        timespec="microseconds") + "Z"


def resource(id: str, type: str, data: dict, created: str, modified: str | None = None,
             version: int = 1, members: tuple[str, ...] = ()) -> dict:
    return {"id": id, "type": type, "data": data, "created": created,
            "modified": modified or created, "version": version, "members": list(members)}


def view(res: dict, everything: list[dict]) -> dict:
    """The resource as SCIM renders it, which is what `matches` sees."""
    out = dict(res["data"])
    out["id"] = res["id"]
    out["meta"] = {"resourceType": res["type"], "created": res["created"],
                   "lastModified": res["modified"], "version": f'W/"{res["version"]}"'}
    if res["type"] == "Group":
        out["members"] = [{"value": m} for m in res["members"]]
    else:
        groups = [{"value": g["id"]} for g in everything
                  if g["type"] == "Group" and res["id"] in g["members"]]
        if groups:
            out["groups"] = groups
    return out


def row(res: dict, dialect: Dialect) -> tuple:
    data = res["data"]
    user_name = data.get("userName")
    display = data.get("displayName")
    return (PROVIDER, res["id"], res["type"], data.get("externalId"),
            user_name.lower() if res["type"] == "User" and user_name is not None else None,
            display.lower() if display is not None else None,
            json.dumps(data), res["version"], res["created"], res["modified"])


INSERT = ("INSERT INTO resources (provider_id, id, type, external_id, name_key, display_key, "
          "data, version, created, last_modified) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")


def sqlite_db(resources: list[dict], path: str = ":memory:") -> sqlite3.Connection:
    conn = sqlite3.connect(path)
    conn.executescript(MIGRATION.read_text())
    conn.executemany(INSERT, [row(r, SQLITE) for r in resources])
    conn.executemany("INSERT INTO members (provider_id, group_id, member_id) VALUES (?, ?, ?)",
                     [(PROVIDER, g["id"], m) for g in resources for m in g["members"]])
    return conn


def where(sql: str) -> str:
    return f"r.provider_id = ? AND r.type = ? AND ({sql})"


def sqlite_ids(conn: sqlite3.Connection, f, rtype: ResourceType) -> set[str]:
    sql, params = compile_filter(f, rtype, SQLITE)
    assert sql.count("?") == len(params)  # no `?` in the text other than placeholders
    rows = conn.execute(f"SELECT r.id FROM resources r WHERE {where(sql)}",
                        [PROVIDER, rtype.name, *params]).fetchall()
    return {r[0] for r in rows}


def expected_ids(f, resources: list[dict], rtype: ResourceType) -> set[str]:
    return {r["id"] for r in resources
            if r["type"] == rtype.name and matches(f, view(r, resources), rtype)}


# ---------------------------------------------------------------------------------------------
# A fixed directory for the RFC examples and each operator.

T0 = "2011-05-13T04:42:34.000000Z"
DIRECTORY = [
    resource("u1", "User", {
        "userName": "bjensen@example.com", "externalId": "bjensen", "displayName": "Babs Jensen",
        "name": {"familyName": "Jensen", "givenName": "Barbara"}, "title": "Tour Guide",
        "userType": "Employee", "active": True,
        "emails": [{"value": "bjensen@example.com", "type": "work", "primary": True},
                   {"value": "babs@jensen.org", "type": "home"}],
        "ims": [{"value": "babs@foo.com", "type": "xmpp"}],
        "addresses": [{"type": "work", "locality": "Hollywood", "region": "CA", "country": "US"},
                      {"type": "home", "locality": "Springfield", "region": "IL",
                       "country": "US"}],
        E: {"department": "Tour Operations", "employeeNumber": "701984",
            "manager": {"value": "u3"}},
    }, T0, "2011-05-13T04:42:34.000000Z", version=3),
    resource("u2", "User", {
        "userName": "JOMalley", "externalId": "JOM", "name": {"familyName": "O'Malley"},
        "userType": "Intern", "active": False,
        "emails": [{"value": "jom@example.org", "type": "work"}],
    }, "2011-05-13T04:42:33.999999Z", "2011-05-13T04:42:34.000001Z", version=1),
    resource("u3", "User", {
        "userName": "Jill", "title": "Boss", "userType": "Employee",
        "emails": [{"value": "jill@other.net", "type": "work"},
                   {"value": "jill@example.com", "type": "home"}],
        "ims": [{"value": "jill@bar.com", "type": "xmpp"}],
        "addresses": [{"type": "home", "locality": "Hollywood", "region": "CA", "country": "US"},
                      {"type": "work", "locality": "Berlin", "country": "DE"}],
        E: {"department": "Executive"},
    }, "2012-01-01T00:00:00.000000Z", "2012-06-01T10:00:00.000000Z", version=12),
    resource("u4", "User", {
        "userName": "odd%_\\'\"name", "title": "'; DROP TABLE resources; --",
        "emails": [{"value": "100%_off@example.com"}],
    }, "2010-01-01T00:00:00.000000Z"),
    resource("g1", "Group", {"displayName": "Tour Guides", "externalId": "TG"},
             "2011-01-01T00:00:00.000000Z", members=("u1", "u2")),
    resource("g2", "Group", {"displayName": "Executives"}, "2011-02-01T00:00:00.000000Z",
             members=("u3", "g1")),
]

USER_CASES = {
    'userName Eq "bjensen@example.com"': {"u1"},
    'userName eq "BJENSEN@EXAMPLE.COM"': {"u1"},
    "title pr": {"u1", "u3", "u4"},
    'name.familyName co "O\'Malley"': {"u2"},
    'name.familyName co "o\'malley"': {"u2"},
    'userName sw "J"': {"u2", "u3"},
    'urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J"': {"u2", "u3"},
    'title pr and userType eq "Employee"': {"u1", "u3"},
    'title pr or userType eq "Intern"': {"u1", "u2", "u3", "u4"},
    f'schemas eq "{E}"': {"u1", "u3"},
    f'schemas eq "{U}"': {"u1", "u2", "u3", "u4"},
    f'schemas ne "{E}"': {"u2", "u4"},
    'userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")':
        {"u1", "u3"},
    'userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")':
        set(),
    'userType ne "Employee" and not (emails co "example.org")': {"u4"},
    'userType eq "Employee" and (emails.type eq "work")': {"u1", "u3"},
    'userType eq "Employee" and emails[type eq "work" and value co "@example.com"]': {"u1"},
    'emails[type eq "work" and value co "@example.com"] or '
    'ims[type eq "xmpp" and value co "@foo.com"]': {"u1"},
    'meta.lastModified gt "2011-05-13T04:42:34Z"': {"u2", "u3"},
    'meta.lastModified ge "2011-05-13T04:42:34Z"': {"u1", "u2", "u3"},
    'meta.lastModified lt "2011-05-13T04:42:34Z"': {"u4"},
    'meta.lastModified le "2011-05-13T04:42:34Z"': {"u1", "u4"},
    'meta.lastModified eq "2011-05-13T06:42:34+02:00"': {"u1"},
    'meta.lastModified ne "2011-05-13T04:42:34.000Z"': {"u2", "u3", "u4"},
    'meta.created lt "2011-05-13T04:42:34"': {"u2", "u4"},
    'meta.created ge "2012-01-01"': {"u3"},
    'meta.resourceType eq "User"': {"u1", "u2", "u3", "u4"},
    'meta.resourceType eq "user"': set(),
    'meta.version eq "W/\\"12\\""': {"u3"},
    'meta.version sw "W/\\"1"': {"u2", "u3", "u4"},
    'id eq "u3"': {"u3"},
    'id eq "U3"': set(),
    'id ne "u3"': {"u1", "u2", "u4"},
    'externalId eq "bjensen"': {"u1"},
    'externalId eq "BJENSEN"': set(),
    'externalId ne "bjensen"': {"u2", "u3", "u4"},
    "externalId pr": {"u1", "u2"},
    'displayName eq "babs jensen"': {"u1"},
    'displayName co "JENS"': {"u1"},
    'displayName ne "x"': {"u1", "u2", "u3", "u4"},
    "active eq true": {"u1"},
    "active eq false": {"u2"},
    "active ne true": {"u2", "u3", "u4"},
    "active pr": {"u1", "u2"},
    "title eq null": {"u2"},
    "title ne null": {"u1", "u3", "u4"},
    'nickName ne "x"': {"u1", "u2", "u3", "u4"},
    'nickName eq "x"': set(),
    "name pr": {"u1", "u2"},
    "emails pr": {"u1", "u2", "u3", "u4"},
    "emails.type pr": {"u1", "u2", "u3"},
    "emails.primary eq true": {"u1"},
    'emails[not (type eq "work")]': {"u1", "u3", "u4"},
    'emails[type ne "work"]': {"u1", "u3", "u4"},
    'emails.type ne "work"': {"u4"},
    'emails[type eq "home"] and emails[value ew ".net"]': {"u3"},
    'emails[type eq "home" and value ew ".net"]': set(),
    'title co "Guide"': {"u1"},
    'title sw "tour"': {"u1"},
    'title ew "IDE"': {"u1"},
    'title gt "C"': {"u1"},
    'title lt "c"': {"u3", "u4"},
    'title ge "boss"': {"u1", "u3"},
    'title le "BOSS"': {"u3", "u4"},
    'title co ""': {"u1", "u3", "u4"},
    'title ew ""': {"u1", "u3", "u4"},
    f'{E}:department eq "tour operations"': {"u1"},
    f'{E}:department sw "E"': {"u3"},
    f"{E}:department pr": {"u1", "u3"},
    f'{E}:manager eq "u3"': {"u1"},
    f"{E}:manager pr": {"u1"},
    'groups eq "g1"': {"u1", "u2"},
    'groups[value eq "g2"]': {"u3"},
    'groups.value ne "g1"': {"u3", "u4"},
    "groups pr": {"u1", "u2", "u3"},
    # A value path with a sub-attribute: one element must satisfy both. Jill's home email
    # and home address match, her work ones do not: she is not selected.
    'emails[type eq "work"].value eq "bjensen@example.com"': {"u1"},
    'emails[type eq "work"].value eq "jill@example.com"': set(),
    'emails[type eq "home"].value eq "JILL@example.com"': {"u3"},
    'emails[type eq "work"].value ew ".org"': {"u2"},
    'emails[type eq "work"].value pr': {"u1", "u2", "u3"},
    'emails[type eq "work"].primary eq true': {"u1"},
    'emails[type eq "work"].value ne "jom@example.org"': {"u1", "u3"},
    'not (emails[type eq "work"].value co "example")': {"u3", "u4"},
    'addresses[type eq "work"].locality eq "Hollywood"': {"u1"},
    'addresses[type eq "home"].locality eq "hollywood"': {"u3"},
    'addresses[type eq "work"].region eq "ca"': {"u1"},
    'addresses[type eq "work"].region pr': {"u1"},
    'addresses[type eq "work"].country eq "DE"': {"u3"},
    'addresses[type eq "work"].country eq "US" or userName eq "Jill"': {"u1", "u3"},
    'addresses[type eq "home"].locality eq "Hollywood" and emails[type eq "work"].value '
    'ew ".net"': {"u3"},
    f'{U}:addresses[type eq "work" or type eq "home"].country eq "US"': {"u1", "u3"},
    # Injection attempts match literally and change nothing.
    'title eq "\'; DROP TABLE resources; --"': {"u4"},
    'userName eq "odd%_\\\\\'\\"name"': {"u4"},
    'userName co "%_"': {"u4"},
    'userName co "_"': {"u4"},
    'userName co "%"': {"u4"},
    'userName sw "odd%_\\\\"': {"u4"},
    'emails co "%_off"': {"u4"},
    'emails co "0%"': {"u4"},
    'title co "\'"': {"u4"},
    'title co "\\\\"': set(),
    'title ew "--"': {"u4"},
}

GROUP_CASES = {
    'displayName eq "tour guides"': {"g1"},
    'displayName sw "EXEC"': {"g2"},
    'members eq "u1"': {"g1"},
    'members.value eq "g1"': {"g2"},
    'members[value eq "u3"]': {"g2"},
    'members[value eq "U3"]': set(),  # ids are caseExact
    'members[value eq "u1" or value eq "u3"]': {"g1", "g2"},
    'members[value eq "u1" and value eq "u2"]': set(),  # one element cannot be both
    'members[value eq "u1"] and members[value eq "u2"]': {"g1"},
    'members.value ne "u1"': {"g2"},
    "members pr": {"g1", "g2"},
    'members[value sw "u"].value eq "u3"': {"g2"},
    'members[value eq "u1"].value pr': {"g1"},
    'externalId eq "TG"': {"g1"},
    'meta.resourceType eq "Group"': {"g1", "g2"},
    f'schemas eq "{G}"': {"g1", "g2"},
    'id sw "g"': {"g1", "g2"},
}


@pytest.fixture(scope="module")
def directory_db(tmp_path_factory) -> sqlite3.Connection:
    conn = sqlite_db(DIRECTORY, str(tmp_path_factory.mktemp("sql") / "gateway.db"))
    yield conn
    conn.close()


@pytest.mark.parametrize("text", list(USER_CASES))
def test_user_filters_select_the_right_rows(directory_db, text: str) -> None:
    f = parse_filter(text, USER_TYPE)
    assert expected_ids(f, DIRECTORY, USER_TYPE) == USER_CASES[text]
    assert sqlite_ids(directory_db, f, USER_TYPE) == USER_CASES[text]
    complement = {"u1", "u2", "u3", "u4"} - USER_CASES[text]
    assert sqlite_ids(directory_db, Not(f), USER_TYPE) == complement


@pytest.mark.parametrize("text", list(GROUP_CASES))
def test_group_filters_select_the_right_rows(directory_db, text: str) -> None:
    f = parse_filter(text, GROUP_TYPE)
    assert expected_ids(f, DIRECTORY, GROUP_TYPE) == GROUP_CASES[text]
    assert sqlite_ids(directory_db, f, GROUP_TYPE) == GROUP_CASES[text]
    assert sqlite_ids(directory_db, Not(f), GROUP_TYPE) == {"g1", "g2"} - GROUP_CASES[text]


@pytest.mark.parametrize("text,bracket,rtype", [
    ('emails[type eq "work"].value eq "x"', 'emails[(type eq "work") and value eq "x"]',
     USER_TYPE),
    ('addresses[type eq "work" or primary eq true].locality pr and title pr',
     'addresses[(type eq "work" or primary eq true) and locality pr] and title pr', USER_TYPE),
    ('members[value sw "u"].value eq "u3"', 'members[(value sw "u") and value eq "u3"]',
     GROUP_TYPE),
])
def test_a_value_path_with_a_sub_attribute_compiles_to_the_bracket_form(text, bracket, rtype):
    # The same SQL, so the same plan and the same cost on both stores.
    for dialect in (SQLITE, POSTGRES):
        assert compile_filter(parse_filter(text, rtype), rtype, dialect) == \
            compile_filter(parse_filter(bracket, rtype), rtype, dialect)


def test_injection_leaves_the_database_intact(directory_db) -> None:
    for text in ('title eq "\'; DROP TABLE resources; --"',
                 'userName eq "x\\"); DELETE FROM members; --"',
                 "userName eq \"' OR 1=1 --\""):
        sql, params = compile_filter(parse_filter(text, USER_TYPE), USER_TYPE, SQLITE)
        assert "DROP" not in sql and "DELETE" not in sql and "1=1" not in sql
        sqlite_ids(directory_db, parse_filter(text, USER_TYPE), USER_TYPE)
    assert directory_db.execute("SELECT count(*) FROM resources").fetchone() == (6,)
    assert directory_db.execute("SELECT count(*) FROM members").fetchone() == (4,)


@pytest.mark.parametrize("text,index", [
    ('userName eq "bjensen@example.com"', "resources_name"),
    ('externalId eq "bjensen"', "resources_external"),
    ('id eq "u1"', "sqlite_autoindex_resources_1"),
])
def test_equality_filters_use_an_index(directory_db, text: str, index: str) -> None:
    sql, params = compile_filter(parse_filter(text, USER_TYPE), USER_TYPE, SQLITE)
    plan = directory_db.execute(
        f"EXPLAIN QUERY PLAN SELECT r.id FROM resources r WHERE {where(sql)}",
        [PROVIDER, "User", *params],
    ).fetchall()
    details = " ".join(step[-1] for step in plan)
    assert f"SEARCH r USING INDEX {index} (" in details, details


def test_member_filters_use_the_membership_keys(directory_db) -> None:
    sql, params = compile_filter(parse_filter('members[value eq "u1"]', GROUP_TYPE),
                                 GROUP_TYPE, SQLITE)
    plan = directory_db.execute(f"EXPLAIN QUERY PLAN SELECT r.id FROM resources r "
                                f"WHERE {where(sql)}", [PROVIDER, "Group", *params]).fetchall()
    details = " ".join(step[-1] for step in plan)
    assert "SEARCH m USING PRIMARY KEY (group_id=? AND member_id=?)" in details, details


@pytest.mark.parametrize("path,order", [
    (AttrPath(U, "userName"), ["u1", "u3", "u2", "u4"]),
    (AttrPath(U, "id"), ["u1", "u2", "u3", "u4"]),
    (AttrPath(U, "meta", "created"), ["u4", "u2", "u1", "u3"]),
    (AttrPath(U, "meta", "version"), ["u2", "u4", "u1", "u3"]),
    (AttrPath(U, "name", "familyName"), ["u3", "u4", "u1", "u2"]),  # NULLs first in SQLite
    (AttrPath(U, "emails"), ["u4", "u1", "u3", "u2"]),  # primary, else first element
    (AttrPath(U, "emails", "type"), ["u4", "u1", "u2", "u3"]),
    (AttrPath(U, "title"), ["u2", "u4", "u3", "u1"]),  # NULL, then "'; drop..." < "boss"
    (AttrPath(E, "department"), ["u2", "u4", "u3", "u1"]),
    (AttrPath(E, "manager"), ["u2", "u3", "u4", "u1"]),
])
def test_sort_expressions(directory_db, path: AttrPath, order: list[str]) -> None:
    expr = compile_sort(path, USER_TYPE, SQLITE)
    assert "?" not in expr
    rows = directory_db.execute(
        f"SELECT r.id FROM resources r WHERE r.provider_id = ? AND r.type = ? "
        f"ORDER BY {expr}, r.id", [PROVIDER, "User"]).fetchall()
    assert [r[0] for r in rows] == order


def test_sort_groups_by_members_and_errors(directory_db) -> None:
    expr = compile_sort(AttrPath(G, "members"), GROUP_TYPE, SQLITE)
    rows = directory_db.execute(f"SELECT r.id FROM resources r WHERE r.type = 'Group' "
                                f"ORDER BY {expr} DESC").fetchall()
    assert [r[0] for r in rows] == ["g1", "g2"]  # min(u1, u2) = u1 > min(u3, g1) = g1
    for path, rtype in [(AttrPath(U, "name"), USER_TYPE), (AttrPath(U, "addresses"), USER_TYPE),
                        (AttrPath(U, "schemas"), USER_TYPE), (AttrPath(U, "password"), USER_TYPE),
                        (AttrPath(G, "members", "display"), GROUP_TYPE),
                        (AttrPath(U, "meta", "location"), USER_TYPE),
                        (AttrPath(U, "meta"), USER_TYPE),
                        (AttrPath(U, "nope"), USER_TYPE)]:
        with pytest.raises(ScimError) as info:
            compile_sort(path, rtype, SQLITE)
        assert info.value.scim_type == "invalidPath"


@pytest.mark.parametrize("f,rtype", [
    (parse_filter('members.display eq "x"', GROUP_TYPE), GROUP_TYPE),
    (parse_filter('members[type eq "User"]', GROUP_TYPE), GROUP_TYPE),
    (parse_filter('groups.display eq "x"', USER_TYPE), USER_TYPE),
    (parse_filter('meta.location eq "x"', USER_TYPE), USER_TYPE),
    (Compare(AttrPath(U, "meta", "created"), "gt", "not a date"), USER_TYPE),
])
def test_unsupported_filters_are_invalid_filter(f, rtype) -> None:
    for dialect in (SQLITE, POSTGRES):
        with pytest.raises(ScimError) as info:
            compile_filter(f, rtype, dialect)
        assert (info.value.status, info.value.scim_type) == (400, "invalidFilter")


def test_sqlite_folds_ascii_only_for_json_attributes_but_fully_for_columns() -> None:
    users = [resource("u1", "User", {"userName": "ÉLODIE", "title": "ÉCOLE"}, T0)]
    conn = sqlite_db(users)
    try:
        found = sqlite_ids(conn, parse_filter('userName eq "élodie"', USER_TYPE), USER_TYPE)
        assert found == {"u1"}
        assert sqlite_ids(conn, parse_filter('title eq "École"', USER_TYPE), USER_TYPE) == {"u1"}
        # The known limit: É and é differ for SQLite's lower() (matches() would say equal).
        assert sqlite_ids(conn, parse_filter('title eq "école"', USER_TYPE), USER_TYPE) == set()
    finally:
        conn.close()


def test_postgres_sql_is_parameterised_the_same_way() -> None:
    text = 'userName eq "a" and emails[type eq "work" and value co "\'?"] or title pr'
    sql, params = compile_filter(parse_filter(text, USER_TYPE), USER_TYPE, POSTGRES)
    assert params == ["a", "work", "'?"]
    assert sql.count("?") == 3 and "'?" not in sql
    assert "jsonb_array_elements" in sql and "r.name_key = ?::text" in sql


# ---------------------------------------------------------------------------------------------
# Property: random directories and random filters; SQL selects exactly what `matches` accepts.

CHARS = "aAbB%_\\'é"
SHORT = st.text(alphabet=CHARS, min_size=0, max_size=3)
NAMES = st.text(alphabet=CHARS, min_size=1, max_size=4)
BASE = datetime(2011, 5, 13, 4, 42, 34, tzinfo=UTC)
MOMENTS = st.integers(min_value=-5, max_value=5).map(
    lambda n: BASE + timedelta(microseconds=n * 250_000))
ZONES = st.sampled_from([UTC, timezone(timedelta(hours=2)),
                         timezone(timedelta(hours=-5, minutes=-30))])


def maybe(strategy: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(st.none(), strategy)


def compact(d: dict) -> dict:
    return {k: v for k, v in d.items() if v is not None}


EMAIL = st.builds(lambda value, type_, primary: compact(
    {"value": value, "type": type_, "primary": primary}),
    maybe(SHORT), maybe(st.sampled_from(["work", "home", "Work", "other"])), maybe(st.booleans()))


@st.composite
def directories(draw) -> list[dict]:
    names = draw(st.lists(NAMES, min_size=1, max_size=6, unique_by=str.lower))
    users = []
    for i, user_name in enumerate(names):
        data = compact({
            "userName": user_name,
            "externalId": draw(maybe(SHORT)),
            "displayName": draw(maybe(SHORT)),
            "title": draw(maybe(SHORT)),
            "active": draw(maybe(st.booleans())),
            "emails": draw(maybe(st.lists(EMAIL, max_size=3))),
            "name": draw(maybe(st.builds(lambda f: compact({"familyName": f}), maybe(SHORT)))),
        })
        ent = compact({"department": draw(maybe(SHORT)),
                       "manager": draw(maybe(st.builds(lambda v: {"value": v}, SHORT)))})
        if draw(st.booleans()):
            data[E] = ent
        test = compact({"level": draw(maybe(st.integers(-3, 3))),
                        "score": draw(maybe(st.sampled_from([-1.5, 0, 0.25, 2]))),
                        "tags": draw(maybe(st.lists(SHORT, max_size=3)))})
        if test:
            data[X] = test
        created, modified = stamp(draw(MOMENTS)), stamp(draw(MOMENTS))
        users.append(resource(f"u{i}", "User", data, created, modified,
                              version=draw(st.integers(1, 12))))
    ids = [u["id"] for u in users]
    groups = [resource(f"g{i}", "Group", {"displayName": f"G{i}"}, stamp(BASE),
                       members=tuple(draw(st.lists(st.sampled_from(ids), unique=True))))
              for i in range(2)]
    return users + groups


def cmp(path: AttrPath, ops: list[str], values: st.SearchStrategy) -> st.SearchStrategy:
    return st.builds(Compare, st.just(path), st.sampled_from(ops), values)


STRING_OPS = ["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"]
DATES = st.builds(lambda m, z: m.astimezone(z).isoformat().replace("+00:00", "Z"),
                  MOMENTS, ZONES)


def p(attr: str, sub: str | None = None, schema: str = U) -> AttrPath:
    return AttrPath(schema, attr, sub)


STRING_PATHS = [p("userName"), p("title"), p("displayName"), p("externalId"), p("id"),
                p("emails", "value"), p("emails", "type"), p("name", "familyName"),
                p("department", schema=E), p("manager", "value", schema=E), p("tags", schema=X),
                p("groups", "value")]
PRESENT_PATHS = [p("title"), p("active"), p("emails"), p("emails", "type"), p("name"),
                 p("department", schema=E), p("manager", schema=E), p("tags", schema=X),
                 p("level", schema=X), p("groups"), p("externalId"), p("schemas"),
                 p("displayName")]
ORDER_OPS = ["eq", "ne", "gt", "ge", "lt", "le"]


def ascii_upper(text: str) -> str:
    # SQLite's lower() folds A-Z only (documented in gateway.store.sql): vary ASCII case only.
    return text.translate(ASCII_UPPER)


ASCII_UPPER = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def filters(resources: list[dict]) -> st.SearchStrategy:
    """Random well-typed filters whose values often equal or overlap the directory's."""
    views = [view(r, resources) for r in resources if r["type"] == "User"]

    def strings(path: AttrPath) -> st.SearchStrategy:
        pool = sorted({v for u in views for v in resource_values(u, path, CUSTOM_USER)
                       if isinstance(v, str)})
        if not pool:
            return SHORT
        return st.one_of(SHORT, st.sampled_from(pool), st.sampled_from(pool).map(ascii_upper),
                         st.sampled_from(pool).map(lambda v: v[1:]))

    stamps = sorted({r[k] for r in resources for k in ("created", "modified")})
    dates = st.one_of(DATES, st.sampled_from(stamps))
    leaves = st.one_of(
        *[cmp(path, STRING_OPS, strings(path)) for path in STRING_PATHS],
        cmp(p("active"), ["eq", "ne"], st.booleans()),
        cmp(p("emails", "primary"), ["eq", "ne"], st.booleans()),
        cmp(p("meta", "lastModified"), ORDER_OPS, dates),
        cmp(p("meta", "created"), ORDER_OPS, dates),
        cmp(p("meta", "version"), ["eq", "ne", "sw", "gt"],
            st.sampled_from(['W/"1"', 'W/"12"', "W/"])),
        cmp(p("level", schema=X), ORDER_OPS, st.integers(-3, 3)),
        cmp(p("score", schema=X), ORDER_OPS, st.sampled_from([-1.5, 0, 0.25, 2.0])),
        cmp(p("schemas"), ["eq", "ne", "co", "ew"], st.sampled_from([E, X, U, "User", ""])),
        st.sampled_from(PRESENT_PATHS).map(Present),
        st.builds(lambda path, op: Compare(path, op, None),
                  st.sampled_from([p("title"), p("active"), p("level", schema=X)]),
                  st.sampled_from(["eq", "ne"])),
    )
    email_inner = st.one_of(
        cmp(p("emails", "value"), STRING_OPS, strings(p("emails", "value"))),
        cmp(p("emails", "type"), ["eq", "ne", "sw"], st.sampled_from(["work", "WORK", "home",
                                                                        ""])),
        cmp(p("emails", "primary"), ["eq", "ne"], st.booleans()),
        st.sampled_from([p("emails", "value"), p("emails", "primary")]).map(Present),
    )
    value_filters = st.recursive(email_inner, lambda kids: st.one_of(
        st.builds(And, kids, kids), st.builds(Or, kids, kids), st.builds(Not, kids)),
        max_leaves=3).map(lambda expr: ValueFilter(p("emails"), expr))
    with_a_sub = st.builds(SubAttributeAfter, value_filters, email_inner)
    return st.recursive(st.one_of(leaves, value_filters, with_a_sub), lambda kids: st.one_of(
        st.builds(And, kids, kids), st.builds(Or, kids, kids), st.builds(Not, kids)),
        max_leaves=5)


class SubAttributeAfter(msgspec.Struct, frozen=True):
    """`attr[expr].sub op value` in a generated tree: a text form, not an AST node."""

    found: ValueFilter
    leaf: Compare | Present


def text_of(f) -> str:
    """A generated tree as filter text, each SubAttributeAfter in the `attr[expr].sub` form."""
    if isinstance(f, SubAttributeAfter):
        tail = "pr" if isinstance(f.leaf, Present) else f"{f.leaf.op} {format_value(f.leaf.value)}"
        return f"{format_filter(f.found)}.{f.leaf.path.sub} {tail}"
    if isinstance(f, (And, Or)):
        return f"({text_of(f.left)} {'and' if isinstance(f, And) else 'or'} {text_of(f.right)})"
    if isinstance(f, Not):
        return f"not ({text_of(f.expr)})"
    return format_filter(f)


@st.composite
def cases(draw) -> tuple[list[dict], list]:
    resources = draw(directories())
    found = draw(st.lists(filters(resources), min_size=1, max_size=4))
    # Through the text form: the strategy must build valid ASTs, as the API would see them.
    return resources, [parse_filter(text_of(f), CUSTOM_USER) for f in found]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_sqlite_selects_what_matches_accepts(case) -> None:
    resources, found = case
    conn = sqlite_db(resources)
    try:
        for f in found:
            assert sqlite_ids(conn, f, CUSTOM_USER) == expected_ids(f, resources, CUSTOM_USER), \
                format_filter(f)
    finally:
        conn.close()


# ---------------------------------------------------------------------------------------------
# PostgreSQL: the same property, when a server is reachable.

PG_TABLES = """
CREATE TABLE resources (
    provider_id TEXT NOT NULL, id TEXT PRIMARY KEY, type TEXT NOT NULL, external_id TEXT,
    name_key TEXT, display_key TEXT, data JSONB NOT NULL, version INTEGER NOT NULL,
    created TEXT NOT NULL, last_modified TEXT NOT NULL);
CREATE UNIQUE INDEX resources_name ON resources (provider_id, type, name_key);
CREATE TABLE members (provider_id TEXT NOT NULL, group_id TEXT NOT NULL,
    member_id TEXT NOT NULL, PRIMARY KEY (group_id, member_id));
"""


def numbered(sql: str) -> str:
    """`?` -> `$n`, as the PostgreSQL store does."""
    parts = sql.split("?")
    return parts[0] + "".join(f"${i}{part}" for i, part in enumerate(parts[1:], start=1))


async def pg_connect():
    import asyncpg

    return await asyncpg.connect(PG_DSN, timeout=3)


@pytest.fixture(scope="module")
def pg_schema(postgres_server):  # skips, once, without a server
    try:
        import asyncpg  # noqa: F401
    except ImportError:
        pytest.skip("asyncpg is not installed")
    schema = f"test_sql_{secrets.token_hex(4)}"

    async def create() -> None:
        conn = await pg_connect()
        try:
            await conn.execute(f"CREATE SCHEMA {schema}; SET search_path TO {schema};"
                               + PG_TABLES)
        finally:
            await conn.close()

    try:
        asyncio.run(create())
    except (TimeoutError, OSError) as exc:
        pytest.skip(f"PostgreSQL is not reachable at {PG_DSN}: {exc}")
    yield schema

    async def drop() -> None:
        conn = await pg_connect()
        try:
            await conn.execute(f"DROP SCHEMA {schema} CASCADE")
        finally:
            await conn.close()

    asyncio.run(drop())


async def pg_ids(schema: str, resources: list[dict], filters: list, rtype) -> list[set[str]]:
    conn = await pg_connect()
    try:
        async with conn.transaction():
            await conn.execute(f"SET LOCAL search_path TO {schema}")
            await conn.executemany(numbered(INSERT), [row(r, POSTGRES) for r in resources])
            await conn.executemany(
                "INSERT INTO members (provider_id, group_id, member_id) VALUES ($1, $2, $3)",
                [(PROVIDER, g["id"], m) for g in resources for m in g["members"]])
            out = []
            for f in filters:
                sql, params = compile_filter(f, rtype, POSTGRES)
                assert sql.count("?") == len(params)
                rows = await conn.fetch(
                    numbered(f"SELECT r.id FROM resources r WHERE {where(sql)}"),
                    PROVIDER, rtype.name, *params)
                out.append({r["id"] for r in rows})
            await conn.execute("DELETE FROM members; DELETE FROM resources")
            return out
    finally:
        await conn.close()


def test_postgres_fixed_cases(pg_schema) -> None:
    for rtype, cases in ((USER_TYPE, USER_CASES), (GROUP_TYPE, GROUP_CASES)):
        filters = [parse_filter(text, rtype) for text in cases]
        got = asyncio.run(pg_ids(pg_schema, DIRECTORY, filters, rtype))
        for text, ids in zip(cases, got, strict=True):
            assert ids == cases[text], text


def test_postgres_sort_expressions(pg_schema) -> None:
    async def run() -> list[list[str]]:
        conn = await pg_connect()
        try:
            async with conn.transaction():
                await conn.execute(f"SET LOCAL search_path TO {pg_schema}")
                await conn.executemany(numbered(INSERT), [row(r, POSTGRES) for r in DIRECTORY])
                out = []
                for path in (AttrPath(U, "emails"), AttrPath(E, "manager"),
                             AttrPath(U, "meta", "version"), AttrPath(U, "userName")):
                    expr = compile_sort(path, USER_TYPE, POSTGRES)
                    rows = await conn.fetch(f"SELECT r.id FROM resources r WHERE r.type = 'User' "
                                            f"ORDER BY {expr} NULLS FIRST, r.id")
                    out.append([r["id"] for r in rows])
                await conn.execute("DELETE FROM resources")
                return out
        finally:
            await conn.close()

    assert asyncio.run(run()) == [["u4", "u1", "u3", "u2"], ["u2", "u3", "u4", "u1"],
                                  ["u2", "u4", "u1", "u3"], ["u1", "u3", "u2", "u4"]]


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(cases())
def test_postgres_selects_what_matches_accepts(pg_schema, case) -> None:
    resources, found = case
    got = asyncio.run(pg_ids(pg_schema, resources, found, CUSTOM_USER))
    for f, ids in zip(found, got, strict=True):
        assert ids == expected_ids(f, resources, CUSTOM_USER), format_filter(f)


# ---------------------------------------------------------------------------------------------
# A provider's declared custom attributes (gateway.scim.custom), with values stored before
# the declaration that do not have its type: filters compare what they can, on both stores,
# and select what the reference evaluator accepts.

CX = "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User"
DECLARED_USER = registry_with(default_registry(), [
    Declaration(schema=CX, name="CustomAttribute"),
    Declaration(schema=CX, name="level", type="integer"),
    Declaration(schema=CX, name="contractor", type="boolean"),
    Declaration(schema=CX, name="hired", type="dateTime"),
    Declaration(schema=CX, name="badge", type="complex",
                sub_attributes=(SubAttribute(name="number", type="integer"),
                                SubAttribute(name="site"))),
    Declaration(schema=CX, name="tags", multi_valued=True),
]).types["User"]
CUSTOM_DIRECTORY = [
    resource("c1", "User", {"userName": "typed@example.com", CX: {
        "CustomAttribute": "701984", "level": 3, "contractor": True,
        "hired": "2024-03-01T00:00:00Z", "badge": {"number": 12, "site": "HQ"},
        "tags": ["red", "Blue"]}}, T0),
    resource("c2", "User", {"userName": "before@example.com", CX: {
        "CustomAttribute": 701984, "level": "high", "contractor": "yes", "hired": 5,
        "badge": "B-12", "tags": "red"}}, T0),
    resource("c3", "User", {"userName": "other-spelling@example.com", CX.lower(): {
        "level": 4}}, T0),
    resource("c4", "User", {"userName": "none@example.com"}, T0),
    resource("c5", "User", {"userName": "shapes@example.com", CX: {
        "level": 2.5, "contractor": False, "tags": {"k": "red"},
        "badge": [{"number": 12}], "CustomAttribute": ["701984"]}}, T0),
]
CUSTOM_CASES = [
    f'{CX}:CustomAttribute eq "701984"', f"{CX}:CustomAttribute pr", f"{CX}:level gt 1",
    f"{CX}:level pr", f"not ({CX}:level pr)", f"{CX}:level le 3",
    f"{CX}:contractor eq true", f"{CX}:contractor pr",
    f'{CX}:hired gt "2024-01-01T00:00:00Z"', f"{CX}:hired pr", f"{CX}:badge.number eq 12",
    f'{CX}:badge.site eq "hq"', f"{CX}:badge pr", f'{CX}:tags eq "blue"', f"{CX}:tags pr",
    f'{CX}:tags co "e"',
    f'{CX}:level ne 3', f"{CX}:contractor eq false", f'{CX}:CustomAttribute co "019"',
    f'not ({CX}:tags eq "red")',
]


def test_declared_custom_attributes_filter_on_sqlite_as_the_evaluator_does() -> None:
    conn = sqlite_db(CUSTOM_DIRECTORY)
    for text in CUSTOM_CASES:
        f = parse_filter(text, DECLARED_USER)
        assert sqlite_ids(conn, f, DECLARED_USER) == \
            expected_ids(f, CUSTOM_DIRECTORY, DECLARED_USER), text
    f = parse_filter(f"{CX}:level gt 1", DECLARED_USER)
    assert sqlite_ids(conn, f, DECLARED_USER) == {"c1", "c5"}  # c3 spells its URN otherwise


def test_declared_custom_attributes_filter_on_postgres_as_the_evaluator_does(pg_schema) -> None:
    filters = [parse_filter(text, DECLARED_USER) for text in CUSTOM_CASES]
    got = asyncio.run(pg_ids(pg_schema, CUSTOM_DIRECTORY, filters, DECLARED_USER))
    for text, f, ids in zip(CUSTOM_CASES, filters, got, strict=True):
        assert ids == expected_ids(f, CUSTOM_DIRECTORY, DECLARED_USER), text
