"""SCIM filters (RFC 7644 section 3.4.2.2): text -> AST (`gateway.scim.ast`) -> text.

Semantics decisions (the RFC leaves them open; `gateway.scim.evaluate` carries them out):
- `ne` is the negation of `eq`: true when no value equals, so also when the attribute is
  absent; `x ne v` and `not (x eq v)` always agree. Every other operator on an absent
  attribute is false.
- `eq null` means "not present", `ne null` means "present"; other operators reject null.
- `schemas` is accepted as a multi-valued pseudo-attribute: the core schema URN plus the URN
  of each extension the resource has data for.
- Group `members.value` and User `groups.value` compare exactly: they hold resource ids,
  which are caseExact.
- Chains of one operator (`a or b or c`) become balanced trees; and/or are associative, and
  this keeps the AST depth logarithmic in the filter length for recursive consumers.
- `attr[expr].sub op value` (and `attr[expr].sub pr`), the PATCH path form that Entra sends
  for a matching property such as `emails[type eq "work"].value eq "x"`, is not in the RFC's
  filter grammar; it is read as `attr[(expr) and sub op value]`: one element must satisfy
  both, so a user whose home email is x but whose work email is not is not selected. Both
  spellings give the same AST, hence the same SQL.
"""

from __future__ import annotations

import json
import re
from typing import Any

import msgspec

from gateway.scim.ast import (
    COMPARE_OPS,
    MAX_DEPTH,
    MAX_FILTER_LENGTH,
    SCHEMAS_ATTR,
    SUBSTRING_OPS,
    And,
    AttrPath,
    Compare,
    Filter,
    Not,
    Or,
    Present,
    ValueFilter,
    invalid,
    lookup,
    parse_datetime,
)
from gateway.scim.errors import ScimError
from gateway.scim.schema import Attribute, ResourceType

_PUNCT = "()[]"
_SIMPLE = re.compile(r'\s*([A-Za-z][\w$-]*(?:\.[A-Za-z][\w$-]*)?)\s+'
                     r'(eq|ne|co|sw|ew|gt|ge|lt|le)\s+"([^"\\\x00-\x1f]*)"\s*\Z',
                     re.IGNORECASE | re.ASCII)
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?\Z")


class Token(msgspec.Struct, frozen=True):
    kind: str  # "(" ")" "[" "]" "string" "word" "end"
    text: str
    pos: int
    value: Any = None


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch in _PUNCT:
            tokens.append(Token(ch, ch, i))
            i += 1
        elif ch == '"':
            end = _string_end(text, i)
            try:
                value = json.loads(text[i:end])
                value.encode()  # a lone surrogate (`"\\ud800"`) is no text any store keeps
            except (ValueError, UnicodeEncodeError):
                raise invalid(f"Malformed string at position {i} in filter") from None
            tokens.append(Token("string", text[i:end], i, value))
            i = end
        else:
            start = i
            while i < n and not text[i].isspace() and text[i] not in _PUNCT and text[i] != '"':
                i += 1
            tokens.append(Token("word", text[start:i], start))
    tokens.append(Token("end", "", n))
    return tokens


def _string_end(text: str, start: int) -> int:
    """Index just past the closing quote of the JSON string starting at text[start]."""
    i = start + 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
        elif text[i] == '"':
            return i + 1
        else:
            i += 1
    raise invalid(f"Unterminated string at position {start} in filter")


# ---------------------------------------------------------------------------------------------
# Parser


class Parser:
    """Recursive descent over the token list; also used by `gateway.scim.path`."""

    def __init__(self, text: str, rtype: ResourceType) -> None:
        if len(text) > MAX_FILTER_LENGTH:
            raise invalid(f"Filter is longer than {MAX_FILTER_LENGTH} characters")
        self.rtype = rtype
        self.tokens = tokenize(text)
        self.i = 0
        self.depth = 0

    # token helpers
    def peek(self) -> Token:
        return self.tokens[self.i]

    def next(self) -> Token:
        tok = self.tokens[self.i]
        if tok.kind != "end":
            self.i += 1
        return tok

    def keyword(self, *words: str) -> str | None:
        tok = self.peek()
        if tok.kind == "word" and tok.text.lower() in words:
            self.i += 1
            return tok.text.lower()
        return None

    def expect(self, kind: str, what: str) -> Token:
        tok = self.next()
        if tok.kind != kind:
            raise invalid(f"Expected {what} at position {tok.pos}, found {describe(tok)}")
        return tok

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise invalid(f"Filter is nested deeper than {MAX_DEPTH} levels")

    # grammar
    def parse(self) -> Filter:
        if self.peek().kind == "end":
            raise invalid("Empty filter")
        result = self.or_expr(None)
        tok = self.peek()
        if tok.kind != "end":
            raise invalid(f"Unexpected {describe(tok)} at position {tok.pos} in filter")
        return result

    def or_expr(self, outer: tuple[str, Attribute] | None) -> Filter:
        items = [self.and_expr(outer)]
        while self.keyword("or"):
            items.append(self.and_expr(outer))
        return balanced(Or, items)

    def and_expr(self, outer: tuple[str, Attribute] | None) -> Filter:
        items = [self.unary(outer)]
        while self.keyword("and"):
            items.append(self.unary(outer))
        return balanced(And, items)

    def unary(self, outer: tuple[str, Attribute] | None) -> Filter:
        tok = self.peek()
        if tok.kind == "word" and tok.text.lower() == "not":
            self.next()
            self.expect("(", "'(' after 'not'")
            return Not(self.group(outer))
        if tok.kind == "(":
            self.next()
            return self.group(outer)
        if tok.kind != "word":
            raise invalid(f"Expected an attribute at position {tok.pos}, found {describe(tok)}")
        self.next()
        if outer is not None:
            path = self.inner_path(tok, outer)
        else:
            path = self.attr_path(tok)
            if self.peek().kind == "[":
                return self.value_path(path, tok)
        return self.attr_expr(path, tok)

    def group(self, outer: tuple[str, Attribute] | None) -> Filter:
        self.enter()
        result = self.or_expr(outer)
        self.expect(")", "')'")
        self.depth -= 1
        return result

    def value_path(self, path: AttrPath, tok: Token) -> Filter:
        """`attr[expr]`, or `attr[expr].sub op value` as `attr[(expr) and sub op value]`."""
        found = self.value_filter(path, tok)
        attr, _sub = lookup(path, self.rtype)
        sub = self.sub_attribute(attr)
        if sub is None:
            return found
        label = Token("word", f"{tok.text}[...].{sub.name}", tok.pos)
        leaf = self.attr_expr(AttrPath(path.schema, path.attr, sub.name), label)
        return ValueFilter(path, And(found.expr, leaf))

    def sub_attribute(self, attr: Attribute) -> Attribute | None:
        """The `.sub` after `attr[...]`, if one follows; the same in filters and PATCH paths."""
        tok = self.peek()
        if tok.kind != "word" or not tok.text.startswith("."):
            return None
        self.next()
        name = tok.text[1:]
        if not name:
            raise invalid(f"Expected a sub-attribute name after '.' at position {tok.pos}")
        sub = attr.sub(name)
        if sub is None:
            raise invalid(f"'{attr.name}' has no sub-attribute '{name}'")
        return sub

    def value_filter(self, path: AttrPath, tok: Token) -> ValueFilter:
        attr, sub = lookup(path, self.rtype)
        if sub is not None or attr.type != "complex" or not attr.multi_valued:
            raise invalid(
                f"'{tok.text}' is not a multi-valued complex attribute; it cannot take [filter]"
            )
        self.next()
        self.enter()
        if self.peek().kind == "]":
            raise invalid(f"Empty [] after '{tok.text}'")
        expr = self.or_expr((path.schema, attr))
        self.expect("]", "']'")
        self.depth -= 1
        return ValueFilter(path, expr)

    def attr_path(self, tok: Token) -> AttrPath:
        return attr_path(tok.text, self.rtype)

    def inner_path(self, tok: Token, outer: tuple[str, Attribute]) -> AttrPath:
        """A name inside `attr[...]`: a sub-attribute of the outer attribute."""
        urn, attr = outer
        if tok.kind == "word" and self.peek().kind == "[":
            raise invalid("Nested [] filters are not allowed")
        sub = attr.sub(tok.text)
        if sub is None:
            raise invalid(f"Unknown sub-attribute '{tok.text}' of '{attr.name}' in filter")
        return AttrPath(urn, attr.name, sub.name)

    def attr_expr(self, path: AttrPath, tok: Token) -> Filter:
        op_tok = self.next()
        op = op_tok.text.lower() if op_tok.kind == "word" else ""
        if op == "pr":
            return Present(path)
        if op not in COMPARE_OPS:
            if op_tok.kind == "[":
                raise invalid("Nested [] filters are not allowed")
            raise invalid(
                f"Expected an operator after '{tok.text}' at position {op_tok.pos}, "
                f"found {describe(op_tok)}"
            )
        value = self.comp_value()
        return check_compare(Compare(path, op, value), self.rtype, tok.text)

    def comp_value(self) -> str | int | float | bool | None:
        tok = self.next()
        if tok.kind == "string":
            return tok.value
        if tok.kind == "word":
            lowered = tok.text.lower()
            if lowered in ("true", "false"):
                return lowered == "true"
            if lowered == "null":
                return None
            match = _NUMBER.match(tok.text)
            if match:
                return float(tok.text) if match.group(1) or match.group(2) else int(tok.text)
        raise invalid(f"Expected a value at position {tok.pos}, found {describe(tok)}")


def attr_path(text: str, rtype: ResourceType) -> AttrPath:
    """A top-level attribute path, resolved to canonical names."""
    if text.lower() in ("schemas", f"{rtype.schema.id.lower()}:schemas"):
        return AttrPath(rtype.schema.id, SCHEMAS_ATTR.name)
    try:
        urn, attr, sub = rtype.resolve(text)
    except ScimError as exc:
        raise invalid(f"{exc.detail} in filter") from None
    if attr.returned == "never" or (sub is not None and sub.returned == "never"):
        raise invalid(f"Attribute '{text}' cannot be used in a filter")
    return AttrPath(urn, attr.name, sub.name if sub else None)


def describe(tok: Token) -> str:
    return "the end of the filter" if tok.kind == "end" else f"'{tok.text}'"


def balanced(cls: type[And] | type[Or], items: list[Filter]) -> Filter:
    if len(items) == 1:
        return items[0]
    mid = len(items) // 2
    return cls(balanced(cls, items[:mid]), balanced(cls, items[mid:]))


def check_compare(node: Compare, rtype: ResourceType, label: str) -> Compare:
    """Type-check a comparison; `emails co x` becomes `emails.value co x`."""
    attr, sub = lookup(node.path, rtype)
    target = sub or attr
    if target.type == "complex":  # RFC 7644: the filter applies to the value sub-attribute
        value_sub = target.sub("value")
        if value_sub is None:
            raise invalid(f"'{label}' is complex; compare one of its sub-attributes")
        node = Compare(AttrPath(node.path.schema, node.path.attr, value_sub.name),
                       node.op, node.value)
        target = value_sub
    op, value = node.op, node.value
    if value is None:
        if op not in ("eq", "ne"):
            raise invalid(f"'{op}' cannot compare with null")
        return node
    kind = target.type
    if kind == "boolean":
        if op not in ("eq", "ne") or not isinstance(value, bool):
            raise invalid(f"'{label}' is boolean: only eq/ne with true or false")
    elif kind in ("integer", "decimal"):
        if op in SUBSTRING_OPS or isinstance(value, bool) or not isinstance(value, (int, float)):
            raise invalid(f"'{label}' is a number: compare it with eq/ne/gt/ge/lt/le and a number")
        if kind == "integer" and isinstance(value, float) and not value.is_integer():
            raise invalid(f"'{label}' is an integer")
    elif not isinstance(value, str):
        raise invalid(f"'{label}' is a {kind}: compare it with a string value")
    elif kind == "dateTime":
        if op in SUBSTRING_OPS:
            raise invalid(f"'{label}' is a dateTime: use eq/ne/gt/ge/lt/le")
        if parse_datetime(value) is None:
            raise invalid(f"'{value}' is not a dateTime such as 2011-05-13T04:42:34Z")
    return node


def parse_filter(text: str, rtype: ResourceType) -> Filter:
    """Parse a SCIM filter; every error is ScimError(400, ..., "invalidFilter")."""
    if not isinstance(text, str):
        raise invalid("The filter must be a string")
    simple = _SIMPLE.match(text) if len(text) <= MAX_FILTER_LENGTH else None
    if simple is not None and simple.group(1).lower() != "not":
        # `userName eq "x"`, the lookup an IdP sends before every create: the same AST as
        # the parser's, without tokenizing. A string without escapes is its own value.
        name, op, value = simple.groups()
        return check_compare(Compare(attr_path(name, rtype), op.lower(), value), rtype, name)
    try:
        return Parser(text, rtype).parse()
    except RecursionError:
        raise invalid("Filter is nested too deeply") from None


# ---------------------------------------------------------------------------------------------
# Formatter


def format_filter(f: Filter) -> str:
    """Canonical text that parses back to an equal AST."""
    return _fmt(f, bare=True, inner=False)


def _fmt(f: Filter, bare: bool, inner: bool) -> str:
    if isinstance(f, (And, Or)):
        word = "and" if isinstance(f, And) else "or"
        text = f"{_fmt(f.left, False, inner)} {word} {_fmt(f.right, False, inner)}"
        return text if bare else f"({text})"
    if isinstance(f, Not):
        return f"not ({_fmt(f.expr, True, inner)})"
    if isinstance(f, ValueFilter):
        return f"{format_path(f.path)}[{_fmt(f.expr, True, True)}]"
    name = f.path.sub if inner else format_path(f.path)
    if isinstance(f, Present):
        return f"{name} pr"
    return f"{name} {f.op} {format_value(f.value)}"


def format_path(path: AttrPath) -> str:
    """Bare names for the core schema, URN-qualified for extensions."""
    core = path.schema.startswith("urn:ietf:params:scim:schemas:core:")
    name = path.attr if core else f"{path.schema}:{path.attr}"
    return f"{name}.{path.sub}" if path.sub else name


def format_value(value: str | int | float | bool | None) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return repr(value)
