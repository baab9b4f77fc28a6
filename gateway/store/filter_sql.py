"""Filter AST -> parameterised SQL, for SQLite and PostgreSQL.

The emitted SQL refers to `resources r` (and `members m` in subqueries) and selects exactly
what `gateway.scim.filter.matches` accepts. Every filter value travels as a parameter; the
only names in the SQL text are canonical attribute names from the schema, checked against
`SAFE_NAME`. Placeholders are `?` for both dialects (the PostgreSQL store numbers them);
no other `?` ever appears in the text.

Every condition is built to be two-valued (never NULL), so NOT and the reference
evaluator agree even on absent attributes: `x ne v` compiles to NOT (x eq v).

Column mapping: id -> r.id, externalId -> r.external_id, userName -> r.name_key,
displayName -> r.display_key (both hold Python `str.lower()` of the value),
meta.created / meta.lastModified -> r.created / r.last_modified (text in the
`YYYY-MM-DDTHH:MM:SS.ffffffZ` UTC format), meta.resourceType -> r.type,
meta.version -> W/"<r.version>". Group members / User groups -> the members table; only
their `value` can be filtered or sorted on (display, $ref and type answer invalidFilter:
they are not stored). Everything else is read from the JSON in r.data.

A provider's custom extension (Schema.custom) may hold values stored before their
declaration, of any type: there a comparison first checks the value's JSON type, presence
is any stored value, and a single value stored where a list is declared is one element.

Known limits: on SQLite, lower() folds ASCII letters only, so case-insensitive comparison of
JSON attributes ignores case for A-Z only (userName and displayName use their lowered
columns and fold fully). dateTime attributes other than meta.* compare as text, which is
chronological only when they are stored in the canonical UTC format.
"""

from __future__ import annotations

import re

import msgspec

from gateway.scim.ast import (
    ID_REFERENCES,
    SCHEMAS_ATTR,
    And,
    AttrPath,
    Compare,
    Filter,
    Not,
    Or,
    Present,
    ValueFilter,
    invalid,
    is_case_exact,
    lookup,
    parse_datetime,
)
from gateway.scim.errors import ScimError
from gateway.scim.evaluate import compare_one
from gateway.scim.schema import Attribute, ResourceType


class Dialect(msgspec.Struct, frozen=True):
    name: str  # "sqlite" | "postgres"

    @property
    def pg(self) -> bool:
        return self.name == "postgres"


SQLITE = Dialect("sqlite")
POSTGRES = Dialect("postgres")


def dialect_of(store_dialect: str) -> Dialect:
    """The SQL dialect of a store (`store.dialect`: "sqlite" or "postgres")."""
    return POSTGRES if store_dialect == "postgres" else SQLITE

# Canonical attribute names and schema URNs: nothing that could close a quoted SQL literal or
# a quoted JSON path label, and no `?`.
SAFE_NAME = re.compile(r"[A-Za-z0-9_$:.\-]+\Z")

SQL_OPS = {"eq": "=", "gt": ">", "ge": ">=", "lt": "<", "le": "<="}
TRUE, FALSE = "TRUE", "FALSE"


class Scalar(msgspec.Struct, frozen=True):
    """An SQL expression holding one attribute value, and how to compare it."""

    expr: str
    kind: str  # string | boolean | number | dateTime
    case_exact: bool = False
    lowered: bool = False  # the column already holds str.lower() of the value
    # A value stored as sent (custom extensions): what presence is, and the condition that
    # it has the type compared (None: the expression checks that already).
    present: str | None = None
    typed: str | None = None


class Loc(msgspec.Struct, frozen=True):
    """A JSON value: `keys` below the document `base` (SQLite text JSON, PostgreSQL jsonb)."""

    base: str
    keys: tuple[str, ...] = ()
    sqlite_type: str | None = None  # json_each's type column when keys is empty


class Elements(msgspec.Struct, frozen=True):
    """The rows of a multi-valued attribute, for EXISTS subqueries."""

    source: str  # FROM clause
    where: str  # correlation with r
    attr: Attribute
    json: Loc | None = None  # each element (None for membership rows)
    member_column: str | None = None  # membership rows: the column holding `value`


class Ctx:
    """One compilation: the resource type, the dialect and the parameters collected so far."""

    def __init__(self, rtype: ResourceType, dialect: Dialect) -> None:
        self.rtype = rtype
        self.d = dialect
        self.params: list = []

    def param(self, value: object, pg_type: str = "text") -> str:
        self.params.append(value)
        return f"?::{pg_type}" if self.d.pg else "?"


# ---------------------------------------------------------------------------------------------
# Public API


def compile_filter(f: Filter, rtype: ResourceType, dialect: Dialect) -> tuple[str, list]:
    """A two-valued SQL condition over `resources r` and its parameters."""
    ctx = Ctx(rtype, dialect)
    return node_sql(f, ctx), ctx.params


def compile_sort(path: AttrPath, rtype: ResourceType, dialect: Dialect) -> str:
    """An ORDER BY expression for sortBy (RFC 7644 section 3.4.2.3); no parameters.

    Multi-valued attributes sort by their primary element, else their first. Unsortable
    paths (complex without `value`, schemas, member display names) raise invalidPath.
    """
    try:
        attr, sub = lookup(path, rtype)
    except KeyError:
        raise ScimError(400, f"Cannot sort by unknown attribute '{path.attr}'",
                        "invalidPath") from None
    if attr is SCHEMAS_ATTR or (sub or attr).returned == "never":
        raise ScimError(400, f"Cannot sort by '{path.attr}'", "invalidPath")
    if (path.attr, path.sub) == ("meta", "version"):
        return "r.version"  # numerically, not as the W/"n" text
    column = column_scalar(path, rtype, dialect)
    if column is not None:
        return sort_key(column)
    if path.attr == "meta":  # meta is not in r.data; its sortable parts are columns
        raise ScimError(400, f"Cannot sort by meta.{path.sub}", "invalidPath")
    if attr.type == "complex" and sub is None:
        sub = attr.sub("value")
        if sub is None:
            raise ScimError(400, f"Cannot sort by complex attribute '{attr.name}'",
                            "invalidPath")
        path = AttrPath(path.schema, path.attr, sub.name)
    if not attr.multi_valued:
        return sort_key(json_scalar(data_loc(path, rtype), sub or attr,
                                    is_case_exact(path, rtype), dialect))
    elements = elements_of(path, rtype, dialect)
    if elements.member_column is not None:
        if path.sub not in (None, "value"):
            raise ScimError(400, f"Cannot sort by '{path.attr}.{path.sub}'", "invalidPath")
        return f"(SELECT min({elements.member_column}) FROM {elements.source} " \
               f"WHERE {elements.where})"
    value = sort_key(element_scalar(elements, path.sub, is_case_exact(path, rtype), dialect))
    return first_element(elements, value, dialect)


def stored_timestamp(text: str) -> str:
    """A filter's dateTime in the stored `YYYY-MM-DDTHH:MM:SS.ffffffZ` UTC format."""
    moment = parse_datetime(text)
    if moment is None:
        raise invalid(f"'{text}' is not a dateTime such as 2011-05-13T04:42:34Z")
    return moment.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


# ---------------------------------------------------------------------------------------------
# Tree


def node_sql(f: Filter, ctx: Ctx, elements: Elements | None = None) -> str:
    if isinstance(f, And):
        return f"({node_sql(f.left, ctx, elements)} AND {node_sql(f.right, ctx, elements)})"
    if isinstance(f, Or):
        return f"({node_sql(f.left, ctx, elements)} OR {node_sql(f.right, ctx, elements)})"
    if isinstance(f, Not):
        return f"(NOT {node_sql(f.expr, ctx, elements)})"
    if isinstance(f, ValueFilter):
        if elements is not None:
            raise invalid("Nested [] filters are not allowed")
        inner = elements_of(f.path, ctx.rtype, ctx.d)
        return exists(inner, lambda: node_sql(f.expr, ctx, inner))
    if elements is not None:
        return element_leaf(f, ctx, elements)
    return leaf_sql(f, ctx)


def leaf_sql(f: Compare | Present, ctx: Ctx) -> str:
    """A comparison or presence test at the top level of a filter."""
    path, rtype = f.path, ctx.rtype
    attr, sub = lookup(path, rtype)
    if attr is SCHEMAS_ATTR:
        return schemas_sql(f, ctx)
    if isinstance(f, Compare) and (f.op == "ne" or f.value is None):
        return negated(f, ctx, lambda g: leaf_sql(g, ctx))
    if path.attr == "meta" and path.sub in (None, "location"):
        if isinstance(f, Present):
            return TRUE  # every resource has meta and a location
        raise invalid("Filtering on meta.location is not supported")
    column = column_scalar(path, rtype, ctx.d)
    if column is not None:
        return scalar_sql(f, column, ctx)
    if attr.multi_valued:
        elements = elements_of(AttrPath(path.schema, path.attr), rtype, ctx.d)
        return exists(elements, lambda: element_leaf(f, ctx, elements))
    loc = data_loc(path, rtype)
    loose = as_sent(path, rtype)
    if (sub or attr).type == "complex":  # only `pr` reaches here: compare was given `value`
        return any_value(loc, ctx.d) if loose else object_present(loc, ctx.d)
    return scalar_sql(f, json_scalar(loc, sub or attr, is_case_exact(path, rtype), ctx.d,
                                     loose), ctx)


def element_leaf(f: Compare | Present, ctx: Ctx, elements: Elements) -> str:
    """A comparison or presence test on one element of a multi-valued attribute."""
    if isinstance(f, Compare) and (f.op == "ne" or f.value is None):
        return negated(f, ctx, lambda g: element_leaf(g, ctx, elements))
    loose = as_sent(f.path, ctx.rtype)
    if f.path.sub is None and elements.attr.type == "complex":
        if elements.member_column is not None:
            return TRUE  # a membership row is a non-empty element
        assert elements.json is not None  # stored elements are JSON when not member rows
        return any_value(elements.json, ctx.d) if loose \
            else object_present(elements.json, ctx.d)
    exact = is_case_exact(f.path, ctx.rtype)
    return scalar_sql(f, element_scalar(elements, f.path.sub, exact, ctx.d, loose), ctx)


def as_sent(path: AttrPath, rtype: ResourceType) -> bool:
    """A custom extension's attribute: its values may predate its declaration."""
    schema = rtype.schema_by_urn(path.schema) if path.schema != rtype.schema.id else None
    return schema is not None and schema.custom


def negated(f: Compare, ctx: Ctx, compile_one) -> str:
    """`ne` is NOT eq; `eq null` is NOT pr; `ne null` is pr (see gateway.scim.filter)."""
    if f.value is None:
        present = compile_one(Present(f.path))
        return present if f.op == "ne" else f"(NOT {present})"
    return f"(NOT {compile_one(Compare(f.path, 'eq', f.value))})"


def exists(elements: Elements, inner) -> str:
    return f"EXISTS (SELECT 1 FROM {elements.source} WHERE {elements.where} AND {inner()})"


# ---------------------------------------------------------------------------------------------
# Scalars


def scalar_sql(f: Compare | Present, s: Scalar, ctx: Ctx) -> str:
    if isinstance(f, Present):
        return s.present or scalar_present(s)
    compare = scalar_compare(s, f.op, f.value, ctx)
    if s.typed:
        compare = f"{s.typed} AND {compare}"
    return f"({s.expr} IS NOT NULL AND {compare})"


def scalar_present(s: Scalar) -> str:
    if s.kind == "boolean":
        return f"({s.expr} IS NOT NULL AND {s.expr} IN ('true', 'false'))"
    if s.kind == "number":
        return f"({s.expr} IS NOT NULL)"
    return f"({s.expr} IS NOT NULL AND {s.expr} <> '')"


def scalar_compare(s: Scalar, op: str, value: object, ctx: Ctx) -> str:
    """The comparison itself; NULL only when s.expr is NULL (the caller guards that)."""
    if s.kind == "boolean":
        return f"{s.expr} = {ctx.param('true' if value else 'false')}"
    if s.kind == "number":
        return f"{s.expr} {SQL_OPS[op]} {ctx.param(value, 'numeric')}"
    assert isinstance(value, str)  # check_compare let only strings through for the rest
    if s.kind == "dateTime":
        return ordered(s.expr, op, ctx.param(stored_timestamp(value)), ctx.d)
    x = s.expr if s.case_exact or s.lowered else f"lower({s.expr})"

    def p() -> str:  # the needle, folded like x; a fresh parameter at each use
        if s.case_exact:
            return ctx.param(value)
        if s.lowered:
            return ctx.param(value.lower())
        return f"lower({ctx.param(value)})"

    # Substring tests by position, not LIKE: no wildcards to escape, and SQLite's LIKE would
    # ignore case even for caseExact attributes.
    if op == "co":
        return f"{'strpos' if ctx.d.pg else 'instr'}({x}, {p()}) > 0"
    if op == "sw":
        if ctx.d.pg:
            return f"left({x}, length({p()})) = {p()}"
        return f"substr({x}, 1, length({p()})) = {p()}"
    if op == "ew":
        if ctx.d.pg:
            return f"right({x}, length({p()})) = {p()}"
        return f"(length({x}) >= length({p()}) AND substr({x}, length({x}) - length({p()}) + 1) " \
               f"= {p()})"
    return ordered(x, op, p(), ctx.d)


def ordered(x: str, op: str, param: str, d: Dialect) -> str:
    # PostgreSQL orders text by the database collation; code point order matches Python.
    if d.pg and op != "eq":
        x = f'{x} COLLATE "C"'
    return f"{x} {SQL_OPS[op]} {param}"


def column_scalar(path: AttrPath, rtype: ResourceType, d: Dialect) -> Scalar | None:
    """Attributes kept in their own column of resources."""
    if path.schema != rtype.schema.id:
        return None
    key = (path.attr, path.sub)
    if key == ("id", None):
        return Scalar("r.id", "string", case_exact=True)
    if key == ("externalId", None):
        return Scalar("r.external_id", "string", case_exact=True)
    if key == ("userName", None) and rtype.name == "User":
        return Scalar("r.name_key", "string", lowered=True)
    if key == ("displayName", None):
        return Scalar("r.display_key", "string", lowered=True)
    if key == ("meta", "created"):
        return Scalar("r.created", "dateTime")
    if key == ("meta", "lastModified"):
        return Scalar("r.last_modified", "dateTime")
    if key == ("meta", "resourceType"):
        return Scalar("r.type", "string", case_exact=True)
    if key == ("meta", "version"):
        version = "r.version::text" if d.pg else "r.version"
        return Scalar(f"""('W/"' || {version} || '"')""", "string", case_exact=True)
    return None


def sort_key(s: Scalar) -> str:
    if s.kind == "string" and not (s.case_exact or s.lowered):
        return f"lower({s.expr})"
    return s.expr


# ---------------------------------------------------------------------------------------------
# JSON access


def safe(name: str) -> str:
    if not SAFE_NAME.match(name):
        raise ValueError(f"Attribute name unsafe for SQL: {name!r}")
    return name


def data_loc(path: AttrPath, rtype: ResourceType) -> Loc:
    """Where a single-valued attribute (or sub-attribute) lives in r.data."""
    keys: tuple[str, ...] = () if path.schema == rtype.schema.id else (path.schema,)
    keys += (path.attr,) + ((path.sub,) if path.sub else ())
    return Loc("r.data", keys)


def sqlite_path(keys: tuple[str, ...]) -> str:
    return "'$" + "".join(f'."{safe(k)}"' for k in keys) + "'"


def json_value(loc: Loc, d: Dialect) -> str:
    """PostgreSQL: the jsonb value; SQLite: json_extract's SQL value."""
    if d.pg:
        return loc.base + "".join(f"->'{safe(k)}'" for k in loc.keys)
    return f"json_extract({loc.base}, {sqlite_path(loc.keys)})" if loc.keys else loc.base


def json_text(loc: Loc, d: Dialect) -> str:
    if not d.pg:
        return json_value(loc, d)
    if not loc.keys:
        return f"({loc.base} #>> '{{}}')"
    head = loc.base + "".join(f"->'{safe(k)}'" for k in loc.keys[:-1])
    return f"({head}->>'{safe(loc.keys[-1])}')"


def sqlite_type(loc: Loc) -> str:
    if not loc.keys:
        assert loc.sqlite_type is not None
        return loc.sqlite_type
    return f"json_type({loc.base}, {sqlite_path(loc.keys)})"


def json_scalar(loc: Loc, attr: Attribute, case_exact: bool, d: Dialect,
                loose: bool = False) -> Scalar:
    """``loose``: the value was stored as sent (a custom extension), of any type."""
    kind = attr.type
    present = any_value(loc, d) if loose else None
    if kind == "boolean":
        expr = f"({json_value(loc, d)})::text" if d.pg else sqlite_type(loc)
        return Scalar(expr, "boolean", present=present)
    if kind in ("integer", "decimal"):
        if d.pg:
            value = json_value(loc, d)
            expr = f"(CASE WHEN jsonb_typeof({value}) = 'number' THEN ({value})::numeric END)"
        else:
            expr = f"(CASE WHEN {sqlite_type(loc)} IN ('integer', 'real') " \
                   f"THEN {json_value(loc, d)} END)"
        return Scalar(expr, "number", present=present)
    typed = f"{json_kind(loc, d)} = '{'string' if d.pg else 'text'}'" if loose else None
    return Scalar(json_text(loc, d), "dateTime" if kind == "dateTime" else "string",
                  case_exact=case_exact, present=present, typed=typed)


def json_kind(loc: Loc, d: Dialect) -> str:
    """The JSON type of a value (NULL when there is none): jsonb_typeof's or json_type's
    names."""
    return f"jsonb_typeof({json_value(loc, d)})" if d.pg else sqlite_type(loc)


def any_value(loc: Loc, d: Dialect) -> str:
    """A value is stored (canonical data holds no empty ones), whatever its type."""
    return f"({json_kind(loc, d)} IS NOT NULL AND {json_kind(loc, d)} <> 'null')"


def object_present(loc: Loc, d: Dialect) -> str:
    """A non-empty JSON object (pr on a complex attribute or element)."""
    if d.pg:
        value = json_value(loc, d)
        return f"(coalesce(jsonb_typeof({value}), '') = 'object' AND {value} <> '{{}}'::jsonb)"
    if not loc.keys:
        return f"(coalesce({sqlite_type(loc)}, '') = 'object' AND {loc.base} <> '{{}}')"
    return f"(coalesce({sqlite_type(loc)}, '') = 'object' AND {json_value(loc, d)} <> '{{}}')"


# ---------------------------------------------------------------------------------------------
# Multi-valued attributes


def elements_of(path: AttrPath, rtype: ResourceType, d: Dialect) -> Elements:
    attr, _sub = lookup(path, rtype)
    if (rtype.name, attr.name) in ID_REFERENCES and path.schema == rtype.schema.id:
        if attr.name == "members":
            return Elements("members m", "m.group_id = r.id", attr, member_column="m.member_id")
        return Elements("members m", "m.member_id = r.id", attr, member_column="m.group_id")
    array = data_loc(AttrPath(path.schema, path.attr), rtype)
    if as_sent(path, rtype):
        return Elements(one_or_many(array, d), TRUE, attr,
                        json=Loc("e.v") if d.pg else Loc("e.value", sqlite_type="e.type"))
    if d.pg:
        value = json_value(array, d)
        source = (f"jsonb_array_elements(CASE WHEN jsonb_typeof({value}) = 'array' "
                  f"THEN {value} ELSE '[]'::jsonb END) AS e(v)")
        return Elements(source, TRUE, attr, json=Loc("e.v"))
    source = f"json_each(r.data, {sqlite_path(array.keys)}) AS e"
    return Elements(source, TRUE, attr, json=Loc("e.value", sqlite_type="e.type"))


def one_or_many(array: Loc, d: Dialect) -> str:
    """The elements of a value stored as sent (a custom extension): a list's items, or the
    value itself when it is not a list (stored before a multi-valued declaration)."""
    kind = json_kind(array, d)
    value = json_value(array, d)
    if d.pg:
        return (f"jsonb_array_elements(CASE WHEN {kind} = 'array' THEN {value} "
                f"WHEN {kind} IS NULL OR {kind} = 'null' THEN '[]'::jsonb "
                f"ELSE jsonb_build_array({value}) END) AS e(v)")
    # json_extract gives an object's JSON text, a boolean as 1 or 0: each is wrapped apart.
    return (f"json_each(CASE WHEN {kind} = 'array' THEN {value} "
            f"WHEN {kind} IS NULL OR {kind} = 'null' THEN '[]' "
            f"WHEN {kind} = 'object' THEN json_array(json({value})) "
            f"WHEN {kind} IN ('true', 'false') THEN '[' || {kind} || ']' "
            f"ELSE json_array({value}) END) AS e")


def element_scalar(elements: Elements, sub: str | None, case_exact: bool,
                   d: Dialect, loose: bool = False) -> Scalar:
    attr = elements.attr
    if elements.member_column is not None:
        if sub != "value":
            raise invalid(f"Filtering on {attr.name}.{sub} is not supported; use value")
        return Scalar(elements.member_column, "string", case_exact=True)
    assert elements.json is not None
    if sub is None:  # a simple multi-valued attribute: the element is the value
        return json_scalar(elements.json, attr, case_exact, d, loose)
    target = attr.sub(sub)
    assert target is not None
    return json_scalar(element_field(elements.json, sub, d), target, case_exact, d, loose)


def element_field(element: Loc, sub: str, d: Dialect) -> Loc:
    if d.pg:
        return Loc(element.base, (sub,))
    # json_each gives strings as bare text, which json_extract would reject as malformed JSON.
    return Loc(f"(CASE WHEN {element.sqlite_type} = 'object' THEN {element.base} END)", (sub,))


def first_element(elements: Elements, value: str, d: Dialect) -> str:
    """The sort value of the primary element, else of the first one."""
    primary = elements.attr.sub("primary")
    assert elements.json is not None
    if d.pg:
        rank = "CASE WHEN e.v->'primary' = 'true'::jsonb THEN 0 ELSE 1 END, " if primary else ""
        source = elements.source.replace(" AS e(v)", " WITH ORDINALITY AS e(v, n)")
        return f"(SELECT {value} FROM {source} ORDER BY {rank}e.n LIMIT 1)"
    flag = sqlite_type(element_field(elements.json, "primary", d))
    rank = f"CASE WHEN {flag} = 'true' THEN 0 ELSE 1 END, " if primary else ""
    return f"(SELECT {value} FROM {elements.source} ORDER BY {rank}e.key LIMIT 1)"


# ---------------------------------------------------------------------------------------------
# schemas


def schemas_sql(f: Compare | Present, ctx: Ctx) -> str:
    """`schemas` holds the core URN and each extension with data; decided per URN here."""
    rtype = ctx.rtype
    if isinstance(f, Present):
        return TRUE
    if f.value is None:
        return TRUE if f.op == "ne" else FALSE
    urns = [(rtype.schema.id, TRUE)] + [
        (ext.id, object_present(Loc("r.data", (ext.id,)), ctx.d)) for ext, _ in rtype.extensions
    ]
    op = "eq" if f.op == "ne" else f.op
    hits = [cond for urn, cond in urns if compare_one(urn, op, f.value, "reference", False)]
    found = f"({' OR '.join(hits)})" if hits else FALSE
    return f"(NOT {found})" if f.op == "ne" else found
