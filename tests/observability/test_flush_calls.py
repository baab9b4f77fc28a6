"""The calls with which a reader in one of serve's workers has every worker flush: a call
is answered once every worker has answered it, each in its own slot."""

from __future__ import annotations

from gateway.observability.flush_calls import FlushCalls


def test_a_call_is_answered_when_every_worker_has_answered_it(tmp_path):
    path = str(tmp_path / "flush-calls")
    FlushCalls.create(path)
    first, second = FlushCalls(path, 0, 2), FlushCalls(path, 1, 2)
    number = second.call()
    assert first.called() == number == 1
    assert not second.answered(number)
    first.answer(number)
    assert not second.answered(number)  # the other worker has not flushed yet
    second.answer(number)
    assert first.answered(number) and second.answered(number)
    later = first.call()
    assert later == 2 and not first.answered(later)
