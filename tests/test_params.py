"""The one parser for integers a request spells: what it takes, what it refuses, and the
400 it refuses with (naming the parameter)."""

from __future__ import annotations

import pytest

from gateway.params import INT64_MAX, ParamError, parse_int


@pytest.mark.parametrize(("raw", "kw", "value"), [
    ("0", {}, 0), ("42", {}, 42), ("007", {}, 7), (str(INT64_MAX), {}, INT64_MAX),
    ("0" * 50 + "1", {}, 1),
    ("-5", {"low": -10}, -5), (f"-{INT64_MAX}", {"low": -INT64_MAX}, -INT64_MAX),
    ("5000", {"low": 1, "high": 1000, "clamp": True}, 1000),
    ("-5", {"low": 1, "high": 1000, "clamp": True}, 1),
    (12, {}, 12), (INT64_MAX, {}, INT64_MAX),
])
def test_what_it_takes(raw, kw, value):
    assert parse_int(raw, "n", **kw) == value


@pytest.mark.parametrize(("raw", "kw"), [
    ("\u00b2", {}), ("\u0663", {}), ("\uff11", {}), ("1_000", {}), (" 1", {}), ("1 ", {}),
    ("+1", {}), ("1e30", {}), ("1.0", {}), ("", {}), ("-", {"low": -1}), ("0x10", {}),
    ("-1", {}), ("-0", {}),  # no '-' where negatives are not allowed, not even -0
    (str(INT64_MAX + 1), {}), ("99999999999999999999", {}), ("9" * 5000, {}),
    (f"-{INT64_MAX + 1}", {"low": -(2**64)}), ("11", {"high": 10}), ("4", {"low": 5}),
    ("99999999999999999999", {"high": 1000, "clamp": True}),  # clamped only within 64 bits
    (2**63, {}), (-1, {}), (10**400, {}), (True, {}),
])
def test_what_it_refuses(raw, kw):
    with pytest.raises(ParamError) as refused:
        parse_int(raw, "cursor", **kw)
    assert refused.value.status == 400
    assert refused.value.detail.startswith("'cursor' must be a whole number from ")


def test_the_refusal_quotes_a_long_value_shortened():
    with pytest.raises(ParamError) as refused:
        parse_int("x" * 10_000, "after")
    assert refused.value.detail == (f"'after' must be a whole number from 0 to {INT64_MAX}, "
                                    f"not '{'x' * 40}…'")
