"""W3C traceparent parsing: the spec's valid and invalid headers."""

import pytest

from gateway.observability.tracing import parse, trace_for

VALID = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def test_a_valid_traceparent_is_taken_apart():
    assert parse(VALID) == ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", "01")


@pytest.mark.parametrize("header", [
    "", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",  # three fields
    "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",  # upper case
    "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  # zero trace id
    "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  # zero parent id
    "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  # version ff
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",  # 00 has four fields
    "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",  # short trace id
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1z",  # flags not hex
])
def test_an_invalid_traceparent_is_ignored(header):
    assert parse(header) is None


def test_a_later_version_may_append_fields():
    assert parse("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-next")


def test_the_gateway_joins_a_trace_as_a_span_of_its_own():
    trace = trace_for(VALID)
    version, trace_id, parent, flags = trace.traceparent.split("-")
    assert (version, trace_id, flags) == ("00", "4bf92f3577b34da6a3ce929d0e0e4736", "01")
    assert parent == trace.span_id != "00f067aa0ba902b7"
    assert trace.parent_id == "00f067aa0ba902b7"


def test_without_a_traceparent_a_trace_starts_here():
    trace = trace_for("garbage", "ab" * 16)
    assert trace.trace_id == "ab" * 16 and trace.parent_id is None
    assert parse(trace.traceparent)[0] == "ab" * 16
