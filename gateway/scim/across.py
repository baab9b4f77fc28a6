"""Filters and attribute lists applied across resource types (RFC 7644 3.4.3, root /.search).

A query at the server root names attributes that only some resource types define:
`userName eq "x"` is meaningful for Users, not for Groups. Each type gets its own AST, in
which a comparison on an attribute that type does not define is evaluated as on an
unassigned attribute (the same rule as an absent value, see gateway.scim.filter): `pr` and
comparisons are false, `ne` and `eq null` are true. A name no type defines is still an
error: 400 invalidFilter for a filter, 400 invalidPath for an attribute list.
"""

from __future__ import annotations

from collections.abc import Iterable

from gateway.scim.ast import COMPARE_OPS, SCHEMAS_ATTR, AttrPath, Filter, Not, Present, invalid
from gateway.scim.errors import ScimError
from gateway.scim.filter import Parser, Token, describe
from gateway.scim.path import parse_attr_list
from gateway.scim.schema import ResourceType


def always(rtype: ResourceType) -> Filter:
    """A node every resource satisfies: each one has an id."""
    return Present(AttrPath(rtype.schema.id, "id"))


def never(rtype: ResourceType) -> Filter:
    return Not(always(rtype))


class LenientParser(Parser):
    """The filter parser, with names this type does not define turned into constants."""

    def __init__(self, text: str, rtype: ResourceType) -> None:
        super().__init__(text, rtype)
        self.unknown: set[str] = set()

    def attr_path(self, tok: Token) -> AttrPath:
        lowered = tok.text.lower()
        if lowered not in (SCHEMAS_ATTR.name, f"{self.rtype.schema.id.lower()}:schemas"):
            try:
                self.rtype.resolve(tok.text)
            except ScimError:
                self.unknown.add(lowered)
                return None  # type: ignore[return-value]  # handled by the overrides below
        return super().attr_path(tok)

    def value_path(self, path: AttrPath | None, tok: Token) -> Filter:
        if path is not None:
            return super().value_path(path, tok)
        self.value_filter(path, tok)
        sub = self.peek()
        if sub.kind == "word" and sub.text.startswith("."):
            self.next()
            self.attr_expr(None, tok)  # read for its syntax: no element, so no element matches
        return never(self.rtype)

    def value_filter(self, path: AttrPath | None, tok: Token) -> Filter:  # type: ignore[override]
        if path is not None:
            return super().value_filter(path, tok)
        self.next()  # '['; the inner names belong to an attribute this type lacks
        depth_guard = len(self.tokens)
        while self.peek().kind not in ("]", "end") and depth_guard > 0:
            if self.peek().kind == "[":
                raise invalid("Nested [] filters are not allowed")
            self.next()
            depth_guard -= 1
        self.expect("]", "']'")
        return never(self.rtype)

    def attr_expr(self, path: AttrPath | None, tok: Token) -> Filter:
        if path is not None:
            return super().attr_expr(path, tok)
        op_tok = self.next()
        op = op_tok.text.lower() if op_tok.kind == "word" else ""
        if op == "pr":
            return never(self.rtype)
        if op not in COMPARE_OPS:
            raise invalid(f"Expected an operator after '{tok.text}' at position {op_tok.pos}, "
                          f"found {describe(op_tok)}")
        value = self.comp_value()
        if value is None and op not in ("eq", "ne"):
            raise invalid(f"'{op}' cannot compare with null")
        unassigned_true = op == "ne" if value is not None else op == "eq"
        return always(self.rtype) if unassigned_true else never(self.rtype)


def parse_across(text: str, rtypes: Iterable[ResourceType]) -> dict[str, Filter]:
    """One AST per type; 400 invalidFilter if the filter is bad for any type, or names an
    attribute that no type defines."""
    if not isinstance(text, str):
        raise invalid("The filter must be a string")
    parsed: dict[str, Filter] = {}
    unknown_everywhere: set[str] | None = None
    for rtype in rtypes:
        parser = LenientParser(text, rtype)
        try:
            parsed[rtype.name] = parser.parse()
        except RecursionError:
            raise invalid("Filter is nested too deeply") from None
        if unknown_everywhere is None:
            unknown_everywhere = set(parser.unknown)
        else:
            unknown_everywhere &= parser.unknown
    if unknown_everywhere:
        name = sorted(unknown_everywhere)[0]
        raise invalid(f"Unknown attribute '{name}' in filter: no resource type defines it")
    return parsed


def attr_lists_across(text: str | None, rtypes: Iterable[ResourceType]) -> dict[str, list]:
    """`attributes=` / `excludedAttributes=` split per type: each type keeps the names it
    defines (possibly none); 400 invalidPath for a name no type defines."""
    types = list(rtypes)
    out: dict[str, list[AttrPath]] = {t.name: [] for t in types}
    for name in (part.strip() for part in (text or "").split(",")):
        if not name:
            continue
        known = False
        for rtype in types:
            try:
                paths = parse_attr_list(name, rtype)
            except ScimError:
                continue
            known = True
            out[rtype.name] += [p for p in paths if p not in out[rtype.name]]
        if not known:
            raise ScimError(400, f"Unknown attribute '{name}': no resource type defines it",
                            "invalidPath")
    return out
