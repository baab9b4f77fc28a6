"""Integers from a request: the one parser for every number a client spells as text (a query
parameter, a path segment, a form field, a header), on every surface.

``str.isdigit()`` and ``int()`` are both too lenient for this: the first takes '²', which
``int()`` then refuses (a ValueError, a 500), and ``int()`` takes ' 12', '1_000' and Arabic-
Indic digits; neither bounds the value, and both stores refuse to bind an integer past 64
bits (another 500). Here a value is ASCII digits, with a leading '-' only where negatives
are allowed, within the range its use allows; anything else is a 400 naming the parameter,
which each surface renders in its own shape (SCIM, admin API, console page).
"""

from __future__ import annotations

from gateway.errors import GatewayError

INT64_MAX = 2**63 - 1  # the largest integer either store binds (and SQLite stores)
SHOWN = 40  # characters of a refused value quoted back


class ParamError(GatewayError):
    """A request value that is not a whole number within its range (answered 400)."""


def parse_int(raw: str | int, name: str, *, low: int = 0, high: int = INT64_MAX,
              clamp: bool = False) -> int:
    """The whole number ``raw`` spells, for the request value ``name``: ASCII digits (a
    leading '-' when ``low`` is negative or ``clamp`` is set), from ``low`` to ``high``.
    With ``clamp`` (a page size, a window), a number outside the range is brought into it,
    as long as it fits in 64 bits. An int (from a JSON body) gets the same range check.
    Anything else raises ParamError."""
    value = raw if isinstance(raw, int) and not isinstance(raw, bool) else _digits(raw, low,
                                                                                  clamp)
    if value is not None and -INT64_MAX <= value <= INT64_MAX:
        if clamp:
            return max(low, min(value, high))
        if low <= value <= high:
            return value
    raise ParamError(f"'{name}' must be a whole number from {low} to {high}, not "
                     f"'{_shown(raw)}'")


def _digits(raw: object, low: int, clamp: bool) -> int | None:
    if not isinstance(raw, str):
        return None
    negative = raw.startswith("-") and (low < 0 or clamp)
    digits = raw[1:] if negative else raw
    # Leading zeros are harmless; more significant digits than 2^63 has cannot fit, and
    # int() is never given a string of thousands of digits.
    if not (digits.isascii() and digits.isdigit()) or len(digits.lstrip("0")) > 19:
        return None
    return -int(digits) if negative else int(digits)


def _shown(raw: object) -> str:
    if isinstance(raw, int) and abs(raw) >= 10**SHOWN:
        return f"a number of more than {SHOWN} digits"  # str() of a huge int is slow
    text = str(raw)
    return text if len(text) <= SHOWN else text[:SHOWN] + "…"
