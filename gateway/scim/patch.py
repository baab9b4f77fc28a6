"""PatchOp (RFC 7644 section 3.5.2) applied to the canonical stored shape of a resource.

Semantics decisions (where the RFC is open or silent):
- Request shape errors (not an object, missing PatchOp schema, no `Operations`, unknown `op`,
  more than MAX_OPERATIONS operations, a no-path add/replace whose value is not an object)
  are `invalidSyntax`.
- Unknown attribute names, in a `path` or as a key of a no-path value object, are
  `invalidPath` (a no-path key is itself parsed as a path: `name.givenName`,
  `urn:...:enterprise:2.0:User:department` and `emails[type eq "work"].value` all work).
  An unknown sub-attribute inside a value object is `invalidSyntax` (from resource.check_value).
  A value of the wrong type is `invalidValue`; add without a value is `invalidValue`.
- `schemas` cannot be a path (`invalidPath`); in a no-path value object it is ignored.
  `id` as a path is `mutability`; as a no-path key it is ignored when it equals
  `resource_id` (Okta sends the resource's own id with a group rename) or when the caller does
  not pass `resource_id`, and is `mutability` otherwise.
- readOnly targets (`id`, `meta`, `meta.*`, User `groups`, readOnly sub-attributes such as
  `manager.displayName`) are `mutability`. Removing a required attribute (userName, Group
  displayName) is `mutability`; replacing it with an empty value is `invalidValue`. An
  immutable attribute may be set while absent; changing or removing it is `mutability`.
- `password` (writeOnly, returned never) is accepted and dropped: the gateway keeps none.
- remove without a path is `noTarget`. replace with a value filter that matches no element is
  `noTarget`. remove with a filter that matches nothing, or of an absent attribute, is a
  successful no-op (retries by IdPs stay idempotent).
- add with a value filter that matches nothing creates an element when the filter is made of
  `sub eq value` terms joined by `and` (Entra sends `emails[type eq "work"].value` for a user
  with no work email); any other unmatched add filter is `noTarget`.
- Complex single-valued targets (add or replace without a sub-attribute) are merged
  sub-attribute by sub-attribute, as RFC 7644 3.5.2.3 describes for replace; a sub-attribute
  the value names with "" or null is cleared (so `{"value": ""}` clears a manager). An add to
  a filtered element merges the same way.
- Multi-valued add appends; an element equal to one already present (strings compared
  case-insensitively unless caseExact) is not added again. A sub path without a filter on a
  multi-valued attribute (`emails.type`) applies to every element.
- remove of a multi-valued attribute with a value list removes the listed elements: matched by
  their `value` sub-attribute when given, else by whole-element equality.
- At most one `primary: true` per multi-valued attribute: after each operation, the element
  that operation set primary last wins; the others that were primary get `primary: false`
  (RFC 7644 3.5.2). Elements that had no `primary` are left without one.
- Group `members` are never materialised; operations on them become MemberChange entries, in
  request order. Member filters may only be `value eq "id"` terms joined by `or`
  (else `invalidFilter`); member sub-attribute paths are `invalidPath`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import msgspec

from gateway.scim import custom
from gateway.scim.ast import And, AttrPath, Compare, Filter, Or, lookup
from gateway.scim.custom import Undeclared
from gateway.scim.errors import ScimError
from gateway.scim.evaluate import element_matches
from gateway.scim.path import PatchPath, parse_path
from gateway.scim.resource import (
    check_single,
    check_value,
    copy_data,
    find_key,
    is_empty,
    prune,
    too_many,
)
from gateway.scim.schema import ID, META, PATCH_OP, Attribute, ResourceType, by_identity

MAX_OPERATIONS = 1000
OPS = ("add", "replace", "remove")


class PatchOperation(msgspec.Struct, frozen=True):
    op: str
    path: str | None = None
    value: Any = None


class MemberChange(msgspec.Struct, frozen=True):
    action: str  # "add" | "remove" | "replace" | "remove_all"
    ids: tuple[str, ...] = ()


class PatchResult(msgspec.Struct):
    data: dict
    member_changes: list[MemberChange]
    changed: bool


# ---------------------------------------------------------------------------------------------
# Request parsing


def syntax(detail: str) -> ScimError:
    return ScimError(400, detail, "invalidSyntax")


def parse_patch_request(body: Any, max_operations: int = MAX_OPERATIONS) -> list[PatchOperation]:
    """Validate a PatchOp message and return its operations, ops lower-cased."""
    if not isinstance(body, dict):
        raise syntax("A PATCH body must be a JSON object")
    schemas = body.get(find_key(body, "schemas") or "schemas")
    if not isinstance(schemas, list) or not any(
        isinstance(s, str) and s.lower() == PATCH_OP.lower() for s in schemas
    ):
        raise syntax(f"A PATCH body must have \"schemas\": [\"{PATCH_OP}\"]")
    raw_ops = body.get(find_key(body, "Operations") or "Operations")
    if not isinstance(raw_ops, list) or not raw_ops:
        raise syntax("A PATCH body must have a non-empty \"Operations\" list")
    if len(raw_ops) > max_operations:
        raise syntax(f"A PATCH request may have at most {max_operations} operations; this "
                     f"one has {len(raw_ops)}")
    return [_parse_operation(raw, i + 1) for i, raw in enumerate(raw_ops)]


def _parse_operation(raw: Any, number: int) -> PatchOperation:
    if not isinstance(raw, dict):
        raise syntax(f"Operation {number} must be a JSON object")
    op = raw.get(find_key(raw, "op") or "op")
    if not isinstance(op, str) or op.lower() not in OPS:
        raise syntax(f"Operation {number}: \"op\" must be one of add, replace, remove")
    path = raw.get(find_key(raw, "path") or "path")
    if path is not None and not isinstance(path, str):
        raise syntax(f"Operation {number}: \"path\" must be a string")
    value = raw.get(find_key(raw, "value") or "value")
    return PatchOperation(op=op.lower(), path=path or None, value=value)


# ---------------------------------------------------------------------------------------------
# Application


class _State:
    """The working copy of one PATCH request; discarded if any operation fails."""

    def __init__(self, data: dict, rtype: ResourceType, resource_id: str | None,
                 max_values: int | None, undeclared: Undeclared | None = None) -> None:
        self.data = copy_data(data)
        self.rtype = rtype
        self.resource_id = resource_id
        self.max_values = max_values
        self.undeclared = undeclared
        self.member_changes: list[MemberChange] = []


class _Raw(NamedTuple):
    """An attribute no schema declares (a provider's write keeps it as received)."""

    urn: str
    name: str
    sub: str | None


class _Target(NamedTuple):
    container: dict  # the resource, or its extension object
    attr: Attribute
    sub: Attribute | None
    where: Filter | None
    label: str


def apply_patch(data: dict, ops: list[PatchOperation], rtype: ResourceType, *,
                resource_id: str | None = None, max_values: int | None = None,
                between: Callable[[], object] | None = None,
                undeclared: Undeclared | None = None) -> PatchResult:
    """Apply all operations or none: returns the new data, or raises ScimError.

    ``max_values`` bounds the values of a multi-valued attribute (Group members excepted:
    they are rows, not values): an operation that would take one past it is refused, which
    also bounds what every later operation of the request can cost. ``between`` is called
    after each operation (a caller on a worker thread yields there). ``undeclared`` (a
    provider's write) decides what becomes of attributes no schema declares under an
    extension URN (gateway.scim.custom); without it they are refused."""
    state = _State(data, rtype, resource_id, max_values, undeclared)
    for number, op in enumerate(ops, 1):
        if between is not None and number > 1:
            between()
        try:
            _apply_operation(state, op)
        except ScimError as exc:
            raise ScimError(exc.status, f"Operation {number} ({op.op}): {exc.detail}",
                            exc.scim_type) from None
    new = prune(state.data)
    _check_invariants(data, new, rtype)
    changed = new != data or bool(state.member_changes)
    return PatchResult(data=new, member_changes=state.member_changes, changed=changed)


def _apply_operation(state: _State, op: PatchOperation) -> None:
    kind = op.op.lower()
    if kind not in OPS:
        raise syntax(f"Unknown op '{op.op}'")
    if not op.path:
        if kind == "remove":
            raise ScimError(400, "remove requires a path", "noTarget")
        for path, value in _expand(op.value, state):
            _apply_path(state, kind, path, value)
        return
    ext = _extension(op.path, state.rtype)
    if ext is None and state.undeclared is not None:
        ext = _undeclared_extension(op.path, op.value, kind, state)
    if ext is not None:  # the whole extension object as the target
        if kind == "remove":
            state.data.pop(find_key(state.data, ext) or ext, None)
            return
        for path, value in _expand({ext: op.value}, state):
            _apply_path(state, kind, path, value)
        return
    if op.path.strip().lower() == "schemas":
        raise ScimError(400, "'schemas' follows from the data and cannot be patched",
                        "invalidPath")
    _apply_path(state, kind, _parse(op.path, state), op.value)


def _parse(text: str, state: _State) -> PatchPath | _Raw:
    if state.undeclared is not None:
        found = custom.undeclared_path(text, state.rtype)
        if found is not None:
            return _Raw(*found)
    return parse_path(text, state.rtype)


def _undeclared_extension(path: str, value: Any, kind: str, state: _State) -> str | None:
    """A path that is an extension URN no schema has: the whole extension as the target (an
    object of attributes to add or replace, or everything under it to remove)."""
    if path[:4].lower() != "urn:" or not custom.is_container(path, state.rtype):
        return None
    if kind == "remove" and find_key(state.data, path) is None:
        return None  # an attribute's path, not an extension held
    if kind != "remove" and not isinstance(value, dict):
        return None
    urn = custom.open_urn(path, state.rtype)
    if urn is not None and kind != "remove":
        for name in value:
            if name.lower() != "schemas" and not custom.ATTRNAME.match(name):
                raise ScimError(400, f"Unknown attribute '{urn}:{name}'", "invalidPath")
    return urn


def _extension(path: str, rtype: ResourceType) -> str | None:
    if not path.lower().startswith("urn:"):
        return None
    schema = rtype.schema_by_urn(path)
    return schema.id if schema is not None and schema.id != rtype.schema.id else None


def _expand(value: Any, state: _State) -> Iterator[tuple[PatchPath | _Raw, Any]]:
    """A no-path value object -> one (path, value) per attribute it names."""
    if not isinstance(value, dict):
        raise syntax("Without a path, the value must be an object of attributes")
    rtype = state.rtype
    for key, item in value.items():
        lowered = key.lower()
        if lowered == "schemas":
            continue
        if lowered == "id":
            if state.resource_id is not None and item != state.resource_id:
                raise ScimError(400, "'id' is readOnly", "mutability")
            continue
        schema = rtype.schema_by_urn(key) if lowered.startswith("urn:") else None
        urn = schema.id if schema is not None else None
        if urn is None and state.undeclared is not None and isinstance(item, dict):
            urn = _undeclared_extension(key, item, "add", state)
        if urn is None:
            yield _parse(key, state), item
            continue
        if item is None:
            continue
        if not isinstance(item, dict):
            raise syntax(f"'{key}' must be an object of attributes")
        if urn == rtype.schema.id:
            yield from _expand(item, state)
            continue
        for name, sub_value in item.items():
            if name.lower() == "schemas":  # clients serialise extension objects with it
                continue
            yield _parse(f"{urn}:{name}", state), sub_value


def _apply_path(state: _State, kind: str, path: PatchPath | _Raw, value: Any) -> None:
    if isinstance(path, _Raw):
        _apply_raw(state, kind, path, value)
        return
    rtype = state.rtype
    try:
        attr, sub = lookup(AttrPath(path.attr.schema, path.attr.attr), rtype)
        sub_name = path.sub or path.attr.sub
        sub = attr.sub(sub_name) if sub_name else None
    except KeyError:
        raise ScimError(400, f"Unknown attribute '{path.attr.attr}'", "invalidPath") from None
    if sub_name and sub is None:
        raise ScimError(400, f"Unknown sub-attribute '{attr.name}.{sub_name}'", "invalidPath")
    if path.value_filter is not None and not attr.multi_valued:
        raise ScimError(400, f"'{attr.name}' is single-valued; it takes no [filter]",
                        "invalidPath")
    if _is_membership(rtype, path.attr.schema, attr):
        _members(state, kind, path.value_filter, sub, value)
        return
    if not _writable(attr, sub):
        return
    container = _container(state, path.attr.schema)
    label = attr.name + (f".{sub.name}" if sub else "")
    limit = state.max_values if attr.multi_valued else None
    if limit is not None and isinstance(value, list) and len(value) > limit:
        raise too_many(label, limit, len(value))
    had = len(container.get(attr.name) or ()) if limit is not None else 0
    target = _Target(container, attr, sub, path.value_filter, label)
    touched = _OPERATIONS[kind](target, value, rtype)
    if limit is not None:
        now = len(container.get(attr.name) or ())
        if now > limit and now > had:  # data stored before the limit may stay as it is
            raise too_many(label, limit, now)
    if attr.multi_valued and touched:
        _one_primary(container.get(attr.name) or [], touched)



def _is_membership(rtype: ResourceType, urn: str, attr: Attribute) -> bool:
    return rtype.name == "Group" and urn == rtype.schema.id and attr.name == "members"


def _writable(attr: Attribute, sub: Attribute | None) -> bool:
    """Raise for targets a client may never write; False for ones silently dropped."""
    name = attr.name + (f".{sub.name}" if sub else "")
    if attr is ID or attr is META or attr.mutability == "readOnly":
        raise ScimError(400, f"'{name}' is readOnly", "mutability")
    if sub is not None and sub.mutability == "readOnly":
        raise ScimError(400, f"'{name}' is readOnly", "mutability")
    return not any(a is not None and (a.returned == "never" or a.mutability == "writeOnly")
                   for a in (attr, sub))


def _container(state: _State, urn: str) -> dict:
    if urn == state.rtype.schema.id:
        return state.data
    ext = state.data.get(urn)
    if not isinstance(ext, dict):
        # Kept before its URN was declared, perhaps spelt otherwise: one object, as declared.
        held = find_key(state.data, urn)
        ext = state.data.pop(held) if held is not None else None
        if not isinstance(ext, dict):
            ext = {}
        state.data[urn] = ext
    return ext


def _apply_raw(state: _State, kind: str, raw: _Raw, value: Any) -> None:
    """An attribute no schema declares: set, added to or removed as received (sub-attribute
    paths reach one level into an object)."""
    assert state.undeclared is not None
    label = f"{raw.urn}:{raw.name}"
    if custom.is_secret(raw.name, state.rtype):
        return
    container = _container(state, raw.urn)
    key = find_key(container, raw.name) or raw.name
    if kind == "remove":
        if raw.sub is None:
            container.pop(key, None)
        elif isinstance(container.get(key), dict):
            parent = container[key]
            parent.pop(find_key(parent, raw.sub) or raw.sub, None)
        return
    if kind == "add" and value is None:
        raise ScimError(400, f"add '{label}' requires a value", "invalidValue")
    value = prune(copy_data(value))
    if raw.sub is not None:
        parent = container.get(key)
        parent = dict(parent) if isinstance(parent, dict) else {}
        parent[find_key(parent, raw.sub) or raw.sub] = value
        value = prune(parent)
    elif kind == "add" and isinstance(container.get(key), list):
        items = list(container[key])
        for item in value if isinstance(value, list) else [value]:
            if item not in items:
                items.append(item)
        value = items
    if is_empty(value):
        container.pop(key, None)
        return
    limit = state.max_values
    if limit is not None and isinstance(value, list) and len(value) > limit:
        raise too_many(label, limit, len(value))
    state.undeclared.allow(label, value, "invalidPath")
    container[key] = value


# ---------------------------------------------------------------------------------------------
# add / replace / remove on one target; each returns the elements of a multi-valued attribute
# it wrote, so that the one-primary rule can favour them.


def _add(t: _Target, value: Any, rtype: ResourceType) -> list[dict]:
    if value is None:
        raise ScimError(400, f"add '{t.label}' requires a value", "invalidValue")
    if t.where is not None:
        return _set_matching(t, value, rtype, create=True)
    if t.sub is not None:
        return _set_sub(t, value)
    if t.attr.multi_valued:
        return _append(t, value)
    if t.attr.type == "complex":
        _merge(t, value)
        return []
    return _set(t, value)


def _replace(t: _Target, value: Any, rtype: ResourceType) -> list[dict]:
    if t.where is not None:
        return _set_matching(t, value, rtype, create=False)
    if t.sub is not None:
        return _set_sub(t, value)
    if t.attr.type == "complex" and not t.attr.multi_valued and value is not None:
        _merge(t, value)
        return []
    return _set(t, value)


def _remove(t: _Target, value: Any, rtype: ResourceType) -> list[dict]:
    if t.where is not None:
        _remove_matching(t, rtype)
    elif t.sub is not None:
        _remove_sub(t)
    elif t.attr.multi_valued and value is not None:
        _remove_listed(t, value)
    else:
        if t.attr.required:
            raise ScimError(400, f"'{t.label}' is required and cannot be removed", "mutability")
        t.container.pop(t.attr.name, None)
    return []


_OPERATIONS = {"add": _add, "replace": _replace, "remove": _remove}


def _set(t: _Target, value: Any) -> list[dict]:
    checked = check_value(t.attr, value, t.label)
    if is_empty(checked):
        t.container.pop(t.attr.name, None)
        return []
    t.container[t.attr.name] = checked
    return checked if t.attr.multi_valued else []


def _merge(t: _Target, value: Any) -> None:
    checked = check_value(t.attr, value, t.label)
    cleared = _emptied(t.attr, value)
    if is_empty(checked) and not cleared:
        return
    current = t.container.get(t.attr.name)
    merged = dict(current) if isinstance(current, dict) else {}
    for name in cleared:
        merged.pop(name, None)
    merged.update(checked or {})
    t.container[t.attr.name] = merged


def _emptied(attr: Attribute, value: Any) -> list[str]:
    """The writable sub-attributes a complex value names with an empty value ("" or null):
    merging it clears them (canonical data holds no empty values)."""
    if not isinstance(value, dict):
        return []
    names = []
    for key, item in value.items():
        sub = attr.sub(key)
        if sub is not None and sub.mutability != "readOnly" and is_empty(item):
            names.append(sub.name)
    return names


def _append(t: _Target, value: Any) -> list[dict]:
    """Add the elements not already present: one pass over each list (a set of element
    keys), not a comparison of every pair."""
    items = _elements(t)
    seen = {_key(t.attr, old) for old in items}
    added = []
    for element in check_value(t.attr, value, t.label):
        key = _key(t.attr, element)
        if key not in seen:
            seen.add(key)
            items.append(element)
            added.append(element)
    return added


def _key(attr: Attribute, element: Any) -> Any:
    """A hashable key that two elements share exactly when they are equal: the same
    sub-attributes, strings compared case-insensitively unless caseExact, other values by
    type and value (true is not 1)."""
    if isinstance(element, dict):
        return frozenset((k, _scalar_key(attr.sub(k) or attr, v)) for k, v in element.items())
    return _scalar_key(attr, element)


def _scalar_key(attr: Attribute, value: Any) -> Any:
    if isinstance(value, str):
        return (str, value if attr.case_exact else value.lower())
    if isinstance(value, (dict, list)):  # not in checked data; compared as its JSON
        return (type(value), msgspec.json.encode(value))
    return (type(value), value)


def _set_sub(t: _Target, value: Any) -> list[dict]:
    """`name.givenName` (one parent) or `emails.type` (every element)."""
    assert t.sub is not None
    checked = check_value(t.sub, value, t.label)
    if not t.attr.multi_valued:
        parent = t.container.get(t.attr.name)
        parent = dict(parent) if isinstance(parent, dict) else {}
        _put(parent, t.sub.name, checked)
        t.container[t.attr.name] = parent
        return []
    items = _elements(t)
    if not items and not is_empty(checked):
        items.append({})
    for element in items:
        _put(element, t.sub.name, checked)
    return list(items)


def _set_matching(t: _Target, value: Any, rtype: ResourceType, create: bool) -> list[dict]:
    """`emails[type eq "work"]` (whole elements) or `emails[type eq "work"].value`."""
    assert t.where is not None
    if t.sub is not None:
        checked = check_value(t.sub, value, t.label)
    elif not isinstance(value, dict):  # a whole element is an object (null included)
        raise ScimError(400, f"'{t.label}[...]' takes an object of sub-attributes as its "
                             "value", "invalidValue")
    else:
        checked = check_single(t.attr, value, t.label)
    items = _elements(t)
    found = [el for el in items if element_matches(t.where, el, rtype)]
    if not found:
        seed = _seed(t.where, t.attr) if create else None
        if seed is None:
            raise ScimError(400, f"No '{t.attr.name}' element matches the filter", "noTarget")
        items.append(seed)
        found = [seed]
    for element in found:
        if t.sub is not None:
            _put(element, t.sub.name, checked)
        elif create:
            for name in _emptied(t.attr, value):
                element.pop(name, None)
            element.update(checked)
        else:
            element.clear()
            element.update(checked)
    return found


def _seed(where: Filter, attr: Attribute) -> dict | None:
    """The element an `a eq x and b eq y` filter describes; None for any other filter."""
    if isinstance(where, And):
        left, right = _seed(where.left, attr), _seed(where.right, attr)
        return None if left is None or right is None else {**left, **right}
    if isinstance(where, Compare) and where.op == "eq" and where.path.sub:
        sub = attr.sub(where.path.sub)
        if sub is None or sub.mutability == "readOnly" or where.value is None:
            return None
        return {sub.name: check_single(sub, where.value, f"{attr.name}.{sub.name}")}
    return None


def _remove_matching(t: _Target, rtype: ResourceType) -> None:
    assert t.where is not None
    items = t.container.get(t.attr.name)
    if not isinstance(items, list):
        return
    if t.sub is not None:
        for element in items:
            if element_matches(t.where, element, rtype):
                element.pop(t.sub.name, None)
        return
    t.container[t.attr.name] = [el for el in items if not element_matches(t.where, el, rtype)]


def _remove_sub(t: _Target) -> None:
    assert t.sub is not None
    current = t.container.get(t.attr.name)
    if isinstance(current, dict):
        current.pop(t.sub.name, None)
    elif isinstance(current, list):
        for element in current:
            if isinstance(element, dict):
                element.pop(t.sub.name, None)


def _remove_listed(t: _Target, value: Any) -> None:
    """Entra's `remove members` shape, for any multi-valued attribute: drop listed elements."""
    listed = check_value(t.attr, value, t.label)
    items = t.container.get(t.attr.name)
    if not isinstance(items, list):
        return
    value_sub = t.attr.sub("value")
    values, whole = set(), set()  # keys of the listed `value`s, and of the listed elements
    for wanted in listed:
        if value_sub is not None and isinstance(wanted, dict) and "value" in wanted:
            values.add(_scalar_key(value_sub, wanted["value"]))
        else:
            whole.add(_key(t.attr, wanted))

    def listed_match(element: Any) -> bool:
        if values and isinstance(element, dict) and "value" in element and \
                _scalar_key(value_sub or t.attr, element["value"]) in values:
            return True
        return bool(whole) and _key(t.attr, element) in whole

    t.container[t.attr.name] = [el for el in items if not listed_match(el)]


def _elements(t: _Target) -> list:
    items = t.container.get(t.attr.name)
    if not isinstance(items, list):
        items = t.container[t.attr.name] = []
    return items


def _put(element: dict, key: str, value: Any) -> None:
    if is_empty(value):
        element.pop(key, None)
    else:
        element[key] = value


def _one_primary(items: list, touched: list[dict]) -> None:
    """RFC 7643 2.4: at most one element is primary; the one this operation set wins, and
    RFC 7644 3.5.2: the others it displaced get "primary": false."""
    primaries = [el for el in items if isinstance(el, dict) and el.get("primary") is True]
    if len(primaries) < 2:
        return
    ids = {id(el) for el in primaries}
    winner = next((el for el in reversed(touched)
                   if id(el) in ids and el.get("primary") is True), primaries[0])
    for element in primaries:
        if element is not winner:
            element["primary"] = False


# ---------------------------------------------------------------------------------------------
# Group members: translated into row changes, never read


def _members(state: _State, kind: str, where: Filter | None, sub: Attribute | None,
             value: Any) -> None:
    if sub is not None:
        raise ScimError(400, "members can only be added or removed whole, not by sub-attribute",
                        "invalidPath")
    changes = state.member_changes
    if kind == "add":
        if where is not None:
            raise ScimError(400, "add to members takes no [filter]", "invalidPath")
        if value is None:
            raise ScimError(400, "add 'members' requires a value", "invalidValue")
        _emit(changes, "add", _member_ids(value))
    elif kind == "replace":
        if where is None:
            changes.append(MemberChange("replace", _member_ids(value)))
        else:
            _emit(changes, "remove", _filter_ids(where))
            _emit(changes, "add", _member_ids(value))
    elif where is not None:
        _emit(changes, "remove", _filter_ids(where))
    elif value is not None:
        _emit(changes, "remove", _member_ids(value))
    else:
        changes.append(MemberChange("remove_all"))


def _emit(changes: list[MemberChange], action: str, ids: tuple[str, ...]) -> None:
    if ids:
        changes.append(MemberChange(action, ids))


def _member_ids(value: Any) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [] if value is None else [value]
    ids: dict[str, None] = {}  # ordered set: the request order, each id once
    for item in items:
        key = find_key(item, "value") if isinstance(item, dict) else None
        member = item.get(key) if key else None
        if not isinstance(member, str) or not member:
            raise ScimError(400, "Each member must be an object with a string \"value\" (the id)",
                            "invalidValue")
        ids[member] = None
    return tuple(ids)


def _filter_ids(where: Filter) -> tuple[str, ...]:
    found: dict[str, None] = {}
    pending = [where]
    while pending:  # iterative: a long `or` chain must not hit the recursion limit
        node = pending.pop()
        if isinstance(node, Or):
            pending.extend((node.right, node.left))
        elif (isinstance(node, Compare) and node.op == "eq" and node.path.sub == "value"
              and isinstance(node.value, str)):
            found[node.value] = None
        else:
            raise ScimError(400, "members can only be selected by value "
                            "(members[value eq \"id\" or value eq \"id2\"])", "invalidFilter")
    return tuple(found)


# ---------------------------------------------------------------------------------------------
# Whole-resource checks


def _check_invariants(old: dict, new: dict, rtype: ResourceType) -> None:
    for urn, attr in _guarded(rtype):
        before, after = _get(old, urn, attr.name, rtype), _get(new, urn, attr.name, rtype)
        if attr.required and before is not None and after is None:
            raise ScimError(400, f"'{attr.name}' is required; it cannot be empty",
                            "invalidValue")
        if attr.mutability == "immutable" and before is not None and before != after:
            raise ScimError(400, f"'{attr.name}' is immutable", "mutability")
        if not attr.multi_valued and isinstance(before, dict):
            _check_immutable_subs(attr, before, after if isinstance(after, dict) else {})


def _check_immutable_subs(attr: Attribute, before: dict, after: dict) -> None:
    for sub in attr.sub_attributes:
        if sub.mutability == "immutable" and sub.name in before:
            if before.get(sub.name) != after.get(sub.name):
                raise ScimError(400, f"'{attr.name}.{sub.name}' is immutable", "mutability")


@by_identity
def _guarded(rtype: ResourceType) -> list[tuple[str, Attribute]]:
    """The attributes _check_invariants has something to check on: required or immutable
    ones, and single complex ones with an immutable sub-attribute (most have none)."""
    return [(schema.id, attr) for schema in rtype.schemas for attr in schema.attributes
            if attr.required or attr.mutability == "immutable"
            or (not attr.multi_valued and any(sub.mutability == "immutable"
                                              for sub in attr.sub_attributes))]


def _get(data: dict, urn: str, name: str, rtype: ResourceType) -> Any:
    container = data if urn == rtype.schema.id else data.get(urn)
    return container.get(name) if isinstance(container, dict) else None
