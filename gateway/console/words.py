"""How the console says things to a person: who did something (an admin, an IdP, a plugin's
run), what they did, and values in words instead of `None` and `True`."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from markupsafe import Markup, escape

from gateway.clock import parse_time

# Operations in the words an admin reads; any other is shown with its underscores as spaces.
OPERATIONS = {
    "create": "created", "update": "updated", "replace": "replaced", "patch": "changed",
    "delete": "deleted", "lifecycle": "lifecycle step", "disable": "disabled",
    "enable": "enabled", "map": "mapping changed",
    "block": "blocked", "unblock": "unblocked", "deactivate": "deactivated",
    "reactivate": "reactivated",
    "console_sign_in": "signed in to the console",
    "console_role_change": "console role changed",
    "deactivation_guard_trip": "mass-deactivation guard tripped",
    "deactivation_guard_release": "held deactivation released",
    "deactivation_guard_discard": "held deactivation discarded",
    "deactivation_guard_update": "guard settings changed",
}
# The last word of any other operation (a plugin's `<thing>_<verb>`) as done.
VERBS = {"place": "placed", "release": "released", "discard": "discarded", "add": "added",
         "remove": "removed", "apply": "applied", "set": "set", "change": "changed",
         "update": "changed", "create": "created", "delete": "deleted", "rename": "renamed"}
# Actors that are the gateway itself or one of its runs rather than a person or an IdP.
SYSTEM_ACTORS = {"scheduler": "gateway scheduler", "deactivation_guard": "deactivation guard",
                 "admin": "admin (API)", "sso": "single sign-on"}
EMPTY = "—"
# A stored time (RFC 3339), told apart from other text so that it is shown as a time.
TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$")
CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def operation(value: str | None) -> str:
    if not value:
        return EMPTY
    if value in OPERATIONS:
        return OPERATIONS[value]
    *thing, verb = value.split("_")
    return " ".join([*thing, VERBS.get(verb, verb)])


def actor(value: str | None, provider_names: Mapping[str, str] | None = None) -> str:
    """`console:alice` -> `admin alice (console)`; `provider:<id>` -> `<name> (IdP)`; a
    plugin's run (`org_mapping`) -> `org_mapping apply`."""
    if not value:
        return EMPTY
    kind, _, rest = value.partition(":")
    if kind == "console" and rest:
        return f"admin {rest} (console)"
    if kind == "provider" and rest:
        return f"{(provider_names or {}).get(rest, rest)} (IdP)"
    if kind == "admin" and rest:
        return f"admin {rest} (API)"
    if value in SYSTEM_ACTORS:
        return SYSTEM_ACTORS[value]
    return f"{value} apply" if not rest else value


def value(given: Any, time: Callable[[str], Any] | None = None) -> Markup:
    """Any value as words: nothing is `—`, booleans are yes / no, a list its items joined
    by commas, a mapping `key: value` pairs (its empty ones left out), a time through
    `time` (the console's `when`; else to the second in UTC). Never `None`, `True` or JSON."""
    if given is None or given == "" or given == [] or given == {}:
        return Markup(EMPTY)
    if given is True:
        return Markup("yes")
    if given is False:
        return Markup("no")
    if isinstance(given, Mapping):
        pairs = [Markup("{0}: {1}").format(label(str(k)), value(v, time))
                 for k, v in given.items() if v is not None and v != "" and v != []]
        return Markup("; ").join(pairs) if pairs else Markup(EMPTY)
    if isinstance(given, list | tuple):
        return Markup(", ").join(value(item, time) for item in given)
    if isinstance(given, str) and TIME.match(given):
        try:
            return Markup(escape(time(given))) if time else escape(plain_time(given))
        except ValueError:
            pass
    return escape(str(given))


def label(key: str) -> str:
    """A field's name as words: `placed_by` and `placedBy` -> `placed by`."""
    return CAMEL.sub(" ", key).replace("_", " ").lower()


def plain_time(text: str) -> str:
    moment = parse_time(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


UNITS = (("year", 365 * 86400), ("month", 30 * 86400), ("day", 86400), ("hour", 3600),
         ("minute", 60))


def relative(moment: datetime, now: datetime) -> str:
    """How far a moment is from now: `3 minutes ago`, `in 2 hours`, `just now` (console.js
    says the same as time passes)."""
    seconds = (now - moment).total_seconds()
    if abs(seconds) < 60:
        return "just now"
    for unit, size in UNITS:
        count = int(abs(seconds) // size)
        if count:
            text = f"{count} {unit}{'' if count == 1 else 's'}"
            return f"{text} ago" if seconds > 0 else f"in {text}"
    return "just now"
