"""Before and after of a change, attribute by attribute, for the sync log and a user's
history: every leaf by its path, the changed ones marked."""

from __future__ import annotations

from typing import Any

import msgspec


def flatten(value: Any, prefix: str = "") -> dict[str, str]:
    """Every leaf of a JSON value by its path (``emails[0].value``), as JSON text."""
    out: dict[str, str] = {}
    if isinstance(value, dict) and value:
        for key in sorted(value):
            out.update(flatten(value[key], f"{prefix}.{key}" if prefix else str(key)))
    elif isinstance(value, list) and value:
        for i, item in enumerate(value):
            out.update(flatten(item, f"{prefix}[{i}]"))
    elif value is not None or prefix:
        out[prefix or "(value)"] = msgspec.json.encode(value).decode()
    return out


def diff(before: Any, after: Any, *, received: bool = False) -> list[dict]:
    """The paths of before and after side by side, the changed ones marked (none when
    `received`: what an IdP sent that the resource already had)."""
    old, new = flatten(before), flatten(after)
    return [{"path": path, "before": old.get(path), "after": new.get(path),
             "changed": not received and old.get(path) != new.get(path)}
            for path in sorted(old.keys() | new.keys())]
