"""The write turn serve's workers take on one SQLite file: a process that gives it back
while another waits cannot take it again before that one has had it."""

from __future__ import annotations

import multiprocessing
import time

from gateway.store.sqlite import _Turn


def wait_in_line(path: str, waiting, got, release) -> None:
    turn = _Turn(path)
    waiting.set()
    turn.take()
    got.set()
    release.wait(30)
    turn.give_back()


def test_the_turn_goes_to_the_process_waiting_for_it(tmp_path):
    path = str(tmp_path / "gateway.db-lock")
    mine = _Turn(path)
    assert mine.try_take()
    context = multiprocessing.get_context("spawn")
    waiting, got, release = context.Event(), context.Event(), context.Event()
    other = context.Process(target=wait_in_line, args=(path, waiting, got, release))
    other.start()
    try:
        assert waiting.wait(30)
        time.sleep(0.5)  # the other process is blocked in line by now
        assert not got.is_set()  # the turn is held here
        mine.give_back()
        assert not mine.try_take()  # the other one waits: it goes first
        assert got.wait(30)
        assert not mine.try_take()  # held there now
        release.set()
        mine.take()  # given back there: taken here, waiting in line
        mine.give_back()
    finally:
        release.set()
        other.join(30)
    assert other.exitcode == 0
