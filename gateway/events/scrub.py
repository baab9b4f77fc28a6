"""Secrets never reach the sync log or events: what is taken out before anything is stored.

A secret is any attribute the schema marks ``returned: never`` or ``writeOnly`` (the User's
``password``, and whatever a plugin's extension marks so). A client can name one in many
forms, and each is scrubbed, case-insensitively, in accepted and refused writes alike:

- a key, bare (``password``) or URN-qualified
  (``urn:ietf:params:scim:schemas:core:2.0:User:password``), at any depth;
- a key inside an extension object (``{"urn:...:Ext": {"secret": ...}}``) or inside its
  complex parent (``{"creds": {"secret": ...}}`` for ``creds.secret``);
- a PATCH operation whose ``path`` names it (its ``value`` is dropped), with or without a
  value filter;
- a key of a PATCH value object without a path, where keys are paths (Entra sends these).

Bulk operations carry the same bodies under ``data`` and are covered by the same walk.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import msgspec

from gateway.scim.schema import Attribute, Registry, ResourceType, by_identity

_json = msgspec.json
_FILTER = re.compile(r"\[.*\]")  # a value filter inside a path: `emails[type eq "x"].value`


class Secrets(msgspec.Struct, frozen=True):
    anywhere: frozenset[str]  # lower-cased names dropped at any depth: "password"
    paths: frozenset[str]  # lower-cased paths: "urn:...:user:password", "creds.secret"
    words: tuple[str, ...]  # the last name of each: a document without any holds no secret

    def is_path(self, text: str) -> bool:
        """Whether a key or PATCH path (lower-cased) names a secret or a part of one."""
        if text in self.anywhere or text in self.paths:
            return True
        bare = _FILTER.sub("", text) if "[" in text else text
        if bare in self.anywhere or bare in self.paths:
            return True
        head, dot, _ = bare.rpartition(".")
        return bool(dot) and (head in self.paths or head in self.anywhere)


NONE = Secrets(frozenset(), frozenset(), ())


def _secret(attr: Attribute) -> bool:
    return attr.returned == "never" or attr.mutability == "writeOnly"


@by_identity
def _of_type(rtype: ResourceType) -> Secrets:
    anywhere: set[str] = set()
    paths: set[str] = set()
    for schema in rtype.schemas:
        urn = schema.id.lower()
        for attr in schema.attributes:
            name = attr.name.lower()
            if _secret(attr):
                if schema is rtype.schema:
                    anywhere.add(name)
                paths.update({name, f"{urn}:{name}"})
            for sub in attr.sub_attributes:
                if _secret(sub):
                    sub_name = f"{name}.{sub.name.lower()}"
                    paths.update({sub_name, f"{urn}:{sub_name}"})
    return _merged([Secrets(frozenset(anywhere), frozenset(paths), ())])


def _merged(found: Iterable[Secrets]) -> Secrets:
    anywhere: frozenset[str] = frozenset().union(*(s.anywhere for s in found))
    paths: frozenset[str] = frozenset().union(*(s.paths for s in found))
    words = {p.rsplit(":", 1)[-1].rsplit(".", 1)[-1] for p in anywhere | paths}
    return Secrets(anywhere, paths, tuple(sorted(words)))


_MEMO: dict[int, tuple[tuple[ResourceType, ...], Secrets]] = {}


def secrets_of(registry: Registry) -> Secrets:
    """Every secret of every resource type the gateway serves (plugins may add some).

    Every write asks and the answer rarely changes: it is memoised per registry, and
    recomputed when the registry's types are not the ones it was computed from (comparing
    tuples of the same objects costs an identity test per type)."""
    types = tuple(registry.types.values())
    hit = _MEMO.get(id(registry))
    if hit is None or hit[0] != types:
        hit = _MEMO[id(registry)] = (types, _merged([_of_type(rtype) for rtype in types]))
    return hit[1]


def scrub(value: Any, secrets: Secrets, parent: str = "") -> Any:
    """A copy of decoded JSON without the secrets' values."""
    if isinstance(value, dict):
        out = {}
        path = _path(value)
        for key, item in value.items():
            lowered = key.lower() if isinstance(key, str) else ""
            if secrets.is_path(lowered) or (parent and (
                    f"{parent}.{lowered}" in secrets.paths
                    or f"{parent}:{lowered}" in secrets.paths)):
                continue
            if path is not None and lowered == "value":
                if secrets.is_path(path):
                    continue
                # An operation's value sits at its path: `{"path": "urn:...:Ext",
                # "value": {"secret": ...}}` names urn:...:Ext:secret.
                out[key] = scrub(item, secrets, path)
                continue
            out[key] = scrub(item, secrets, lowered)
        return out
    if isinstance(value, list):
        return [scrub(item, secrets, parent) for item in value]
    return value


def _path(operation: dict) -> str | None:
    """The lower-cased `path` of a PATCH operation (`{"op", "path", "value"}`), if any."""
    for key, path in operation.items():
        if isinstance(key, str) and key.lower() == "path" and isinstance(path, str):
            return path.strip().lower()
    return None


def clean(value: Any, secrets: Secrets) -> tuple[Any, str]:
    """The value without secrets, and its JSON. Encoding first and scrubbing only when a
    secret's name appears at all keeps the common case (no secret: the core never stores
    one) from copying the whole document."""
    text = _json.encode(value).decode()
    if secrets.words:
        lowered = text.lower()
        if any(word in lowered for word in secrets.words):
            value = scrub(value, secrets)
            text = _json.encode(value).decode()
    return value, text


def dump(value: Any, secrets: Secrets) -> str | None:
    return None if value is None else clean(value, secrets)[1]
