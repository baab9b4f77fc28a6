"""The buckets serve's workers share: real processes spending from one mapped file take no
more tokens than the limit gives, and keys keep buckets of their own."""

from __future__ import annotations

import fcntl
import multiprocessing
import os
import threading
import time

from gateway.accounts.shared_limits import BucketFile, SharedLimiter
from gateway.accounts.throttle import LIMITERS, Client, Throttle, make_shared
from gateway.settings import Settings


def spend_many(path: str, key: str, times: int, start, results) -> None:
    limiter = SharedLimiter(BucketFile(path, LIMITERS), 0, 60)
    start.wait()
    granted = sum(1 for _ in range(times) if limiter.spend(key, time.monotonic()) == 0.0)
    results.put(granted)


def test_processes_spending_one_key_at_once_get_no_more_than_the_limit(tmp_path):
    path = str(tmp_path / "limits")
    make_shared(path)
    context = multiprocessing.get_context("spawn")
    start, results = context.Event(), context.Queue()
    workers = [context.Process(target=spend_many, args=(path, "10.0.0.1", 50, start, results))
               for _ in range(4)]
    for worker in workers:
        worker.start()
    start.set()
    granted = [results.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(60)
    # 200 attempts within well under a second: the 60 tokens of the minute, and one or two
    # regained meanwhile at most (one a second).
    assert 60 <= sum(granted) <= 62, granted


def test_a_throttle_on_the_file_counts_with_every_other_one(tmp_path):
    path = str(tmp_path / "limits")
    make_shared(path)
    settings = Settings(auth_failures_per_client=3, limits_file=path)
    first, second = Throttle(settings), Throttle(settings)
    client, other = Client("192.0.2.1", "192.0.2.0/24"), Client("198.51.100.7", "198.51.100.0/24")
    assert [first.failed("p", client), second.failed("p", client), first.failed("p", client)] \
        == [0.0, 0.0, 0.0]
    assert second.own_wait(client) > 0 and first.own_wait(client) > 0  # spent on either
    assert first.own_wait(other) == 0.0 and second.failed("p", other) == 0.0
    assert second.token_issue("p") == 0.0


def test_a_full_table_forgets_the_bucket_spent_longest_ago(tmp_path):
    path = str(tmp_path / "limits")
    make_shared(path)
    limiter = SharedLimiter(BucketFile(path, LIMITERS), 0, 1)
    limiter.spend("first", 1.0)
    assert limiter.wait("first", 1.0) > 0
    for n in range(40_000):  # more keys than slots: the oldest are forgotten, as in memory
        limiter.spend(f"key{n}", 2.0 + n * 1e-6)
    assert limiter.wait("first", 2.5) == 0.0
    assert limiter.wait("key39999", 2.5) > 0


def test_without_recent_failures_no_request_waits_for_the_lock(tmp_path):
    """Every request asks whether its client must wait; with no failure within a minute,
    the answer needs no lock, so a worker holding it holds up no other worker's requests.
    A failure anywhere brings the question back under the lock, and its answer with it."""
    path = str(tmp_path / "limits")
    make_shared(path)
    settings = Settings(auth_failures_per_client=1, limits_file=path)
    mine, others = Throttle(settings), Throttle(settings)
    client = Client("192.0.2.1", "192.0.2.0/24")
    held = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(held, fcntl.LOCK_EX)  # another worker, inside a decision
        answered: list[float] = []
        asking = threading.Thread(target=lambda: answered.append(mine.own_wait(client)))
        asking.start()
        asking.join(30)
        assert answered == [0.0]
        fcntl.flock(held, fcntl.LOCK_UN)
    finally:
        os.close(held)
    assert others.failed("p", client) == 0.0  # spends the client's one token
    assert mine.own_wait(client) > 0
