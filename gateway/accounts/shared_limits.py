"""Token buckets that every worker process of one `serve` shares, so that the limits on
failed authentication and on token requests hold for the host, not once per worker.

`serve --workers N` makes one file (``BucketFile.create``) before it starts the workers;
each maps it into memory. The file holds a random salt, the time each limiter was last
spent, then a table of SLOTS buckets per limiter: a bucket is the salted BLAKE2b digest of
its key (so that nobody who does not know the salt can aim keys at one slot), its tokens and
the monotonic time it was last spent (CLOCK_MONOTONIC, one clock for every process of the
host). A key lives in one of PROBES slots from where its digest points; when they are all
taken, the one spent longest ago is forgotten, as the in-memory limiter forgets its least
recently used key past MAX_KEYS.

Every decision (read a bucket, take from it) runs under an exclusive ``flock`` of the file,
so concurrent requests in different workers cannot both spend the last token. The lock is
held for a few microseconds and never across an await. One question needs no lock: every
request asks whether its client must wait, and while a limiter has not been spent for as
long as a bucket takes to fill (a minute), every bucket of it is full and the answer is no.
"""

from __future__ import annotations

import fcntl
import hashlib
import mmap
import os
import secrets
import struct
from collections.abc import Hashable, Iterator
from contextlib import contextmanager

SLOTS = 16384  # buckets per limiter (the in-memory limiter keeps 10,000 keys)
PROBES = 16  # slots a key may live in
SALT = 16  # bytes
SLOT = struct.Struct("=16sdd")  # key digest, tokens, stamp
STAMP = struct.Struct("=d")  # a limiter's last spending (aligned: written by one store)
EMPTY = bytes(16)


def size(tables: int) -> int:
    return SALT + tables * STAMP.size + tables * SLOTS * SLOT.size


class BucketFile:
    """The mapped file, with the lock that every decision takes."""

    def __init__(self, path: str, tables: int) -> None:
        self.fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
        self.tables = tables
        try:
            self.map = mmap.mmap(self.fd, size(tables))
        except BaseException:
            os.close(self.fd)
            raise
        self.salt = bytes(self.map[:SALT])

    @staticmethod
    def create(path: str, tables: int) -> None:
        """A new file (owner-only): a fresh salt and empty tables."""
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            os.ftruncate(fd, size(tables))
            os.pwrite(fd, secrets.token_bytes(SALT), 0)
        finally:
            os.close(fd)

    @contextmanager
    def locked(self) -> Iterator[mmap.mmap]:
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        try:
            yield self.map
        finally:
            fcntl.flock(self.fd, fcntl.LOCK_UN)

    def digest(self, key: Hashable) -> bytes:
        found = hashlib.blake2b(repr(key).encode(), digest_size=16, key=self.salt).digest()
        return found if found != EMPTY else b"\x01" + found[1:]

    def close(self) -> None:
        self.map.close()
        os.close(self.fd)


class SharedLimiter:
    """The Limiter interface (gateway.accounts.throttle) over table `index` of the file."""

    def __init__(self, file: BucketFile, index: int, per_minute: int) -> None:
        self.file = file
        self.stamp = SALT + index * STAMP.size
        self.base = SALT + file.tables * STAMP.size + index * SLOTS * SLOT.size
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self.refill = self.capacity / self.rate  # seconds from empty to full

    def _slot(self, table: mmap.mmap, digest: bytes, claim: bool) -> int | None:
        """The offset of the key's bucket; None when it has none and `claim` is False, else
        a free slot, or the one among its PROBES spent longest ago."""
        start = int.from_bytes(digest[:8], "little") % SLOTS
        free = oldest = None
        oldest_stamp = float("inf")
        for probe in range(PROBES):
            offset = self.base + ((start + probe) % SLOTS) * SLOT.size
            held = table[offset:offset + 16]
            if held == digest:
                return offset
            if held == EMPTY:
                if free is None:
                    free = offset
                continue
            stamp = SLOT.unpack_from(table, offset)[2]
            if stamp < oldest_stamp:
                oldest, oldest_stamp = offset, stamp
        if not claim:
            return None
        return free if free is not None else oldest

    def _level(self, table: mmap.mmap, offset: int | None, digest: bytes, now: float) -> float:
        if offset is None or table[offset:offset + 16] != digest:
            return self.capacity
        _, tokens, stamp = SLOT.unpack_from(table, offset)
        return min(self.capacity, tokens + max(0.0, now - stamp) * self.rate)

    def _wait(self, level: float) -> float:
        return 0.0 if level >= 1.0 else (1.0 - level) / self.rate

    def quiet(self, now: float) -> bool:
        """Whether nothing was spent for a whole refill, read without the lock. A stamp
        being written as it is read reads differently twice; the lock then decides."""
        table = self.file.map
        first = STAMP.unpack_from(table, self.stamp)[0]
        return now - first >= self.refill and first == STAMP.unpack_from(table, self.stamp)[0]

    def _spent(self, table: mmap.mmap, now: float) -> None:
        if now > STAMP.unpack_from(table, self.stamp)[0]:
            STAMP.pack_into(table, self.stamp, now)

    def wait(self, key: Hashable, now: float) -> float:
        """Seconds until the key may go again; 0 when it may go now."""
        if self.quiet(now):
            return 0.0
        digest = self.file.digest(key)
        with self.file.locked() as table:
            offset = self._slot(table, digest, claim=False)
            if offset is None:
                return 0.0
            return self._wait(self._level(table, offset, digest, now))

    def take(self, key: Hashable, now: float) -> None:
        self.spend(key, now)

    def spend(self, key: Hashable, now: float) -> float:
        """Take a token: 0 when there was one, else the seconds until there is one."""
        digest = self.file.digest(key)
        with self.file.locked() as table:
            offset = self._slot(table, digest, claim=True)
            assert offset is not None
            level = self._level(table, offset, digest, now)
            SLOT.pack_into(table, offset, digest, max(0.0, level - 1.0), now)
            self._spent(table, now)
            return self._wait(level)

    def take_if_free(self, key: Hashable, now: float) -> float:
        """Take a token only when there is one: 0 when taken, else the seconds to wait."""
        digest = self.file.digest(key)
        with self.file.locked() as table:
            offset = self._slot(table, digest, claim=True)
            assert offset is not None
            level = self._level(table, offset, digest, now)
            if level < 1.0:
                return self._wait(level)
            SLOT.pack_into(table, offset, digest, level - 1.0, now)
            self._spent(table, now)
            return 0.0
