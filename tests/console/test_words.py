"""What the console says, without a browser: values in words, times as a <time> with how
long ago, actors by name."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gateway.console import words
from gateway.console.render import when

NOW = datetime(2026, 3, 2, 14, 15, 4, tzinfo=UTC)


@pytest.mark.parametrize(("delta", "said"), [
    (timedelta(seconds=20), "just now"), (timedelta(minutes=3, seconds=59), "3 minutes ago"),
    (timedelta(minutes=1), "1 minute ago"), (timedelta(hours=-2, minutes=-1), "in 2 hours"),
    (timedelta(days=3), "3 days ago"), (timedelta(days=400), "1 year ago"),
])
def test_how_long_ago(delta, said):
    assert words.relative(NOW - delta, NOW) == said


def test_a_time_is_a_time_element_in_utc_with_how_long_ago():
    shown = when("2026-03-02T14:12:00.123456Z", now=NOW)
    assert shown == ('<time datetime="2026-03-02T14:12:00Z" data-when>'
                     '<span class="when-at">2026-03-02 14:12:00 UTC</span> '
                     '<span class="when-ago">(3 minutes ago)</span></time>')
    assert when(None) == "" and when("not a time") == "not a time"


def test_values_in_words():
    assert words.value(None) == "—" and words.value("") == "—" and words.value([]) == "—"
    assert (words.value(True), words.value(False)) == ("yes", "no")
    assert words.value(["member", "admin"]) == "member, admin"
    hold = {"user": None, "matter": "Case <1>", "placed_by": "legal@example.com",
            "placed_at": "2026-03-02T14:12:00.000000Z", "released_at": None, "active": True}
    assert words.value(hold) == ("matter: Case &lt;1&gt;; placed by: legal@example.com; "
                                 "placed at: 2026-03-02 14:12:00 UTC; active: yes")
    assert "(3 minutes ago)" in words.value(hold, time=lambda t: when(t, now=NOW))
    assert words.label("costCenter") == "cost center"


def test_actors_in_words():
    names = {"p1": "Okta production"}
    assert words.actor("console:alice") == "admin alice (console)"
    assert words.actor("provider:p1", names) == "Okta production (IdP)"
    assert words.actor("org_mapping") == "org_mapping apply"
    assert words.actor("scheduler") == "gateway scheduler"
    assert words.operation("block") == "blocked"
    assert words.operation("legal_hold_release") == "legal hold released"
