"""Secrets never reach the sync log or events: what is taken out before anything is stored."""

from __future__ import annotations

from typing import Any

import msgspec

_json = msgspec.json

# Attributes never written to the sync log or events, at any depth.
SECRET_KEYS = {"password"}


def scrub(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: scrub(v) for k, v in value.items() if k.lower() not in SECRET_KEYS}
    if isinstance(value, list):
        return [scrub(v) for v in value]
    return value


def clean(value: Any) -> tuple[Any, str]:
    """The value without secrets, and its JSON. Encoding first and scrubbing only when a
    secret's name appears at all keeps the common case (no secret: the core never stores
    one) from copying the whole document."""
    text = _json.encode(value).decode()
    if any(key in text.lower() for key in SECRET_KEYS):
        value = scrub(value)
        text = _json.encode(value).decode()
    return value, text


def dump(value: Any) -> str | None:
    return None if value is None else clean(value)[1]
