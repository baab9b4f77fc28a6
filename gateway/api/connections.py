"""HTTP connections as ``serve`` runs them: uvicorn's h11 protocol with deadlines for a
request's headers and body, a bound on the size of its headers, and limits on open
connections that no one client address can use up.

uvicorn closes a connection that stays idle between requests (``timeout_keep_alive``), but
once a client has sent a byte of a request it waits for the rest for ever: a client that
drips its headers a byte at a time, or stops half-way through its body, holds a connection
(and, for a body, a request task) as long as it likes, and a few hundred such clients hold
them all. This protocol gives each request two absolute deadlines, which a drip cannot push
back:

- ``header_timeout`` seconds from the moment the connection waits for a request until its
  headers are complete; past it the client is answered 408 and the connection closed.
- ``body_timeout`` seconds from the end of the headers until the end of the body; past it
  the connection is closed (the request sees a disconnect). Time during which the app
  itself is not reading (uvicorn pauses the socket when a request's body is not being
  consumed) does not count against the client.

A request line and headers larger than ``max_header_bytes`` are answered 431 and the
connection closed, however the bytes are spread over reads, and for a request pipelined
behind another too. (h11 refuses only a head still incomplete past its size; one that
arrives whole in a read is parsed whatever its size.) A client answered 408 or 431 may
still be sending: the connection is half-closed so that the answer is not lost to a reset.

Connections are counted by client address (the socket's peer, an IPv6 /64 as one), so that
one address cannot take every place:

- past ``max_connections_per_client`` of its own, its next connection is answered 503;
- past ``max_connections`` in all, a newcomer takes the place of the connection that has
  waited longest for headers among those of the address holding the most, when that address
  holds more than the newcomer's; otherwise the newcomer is answered 503. A connection with
  a request in flight is never the one closed.

So an address's time waiting for headers is bounded too: at most its share of connections,
each for ``header_timeout``, and none of it while another address needs the place, which a
full process takes back at once. (Shorter header deadlines for a busy address would give no
one a place sooner than that, and would only make a flooder's connections churn faster.)
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Hashable
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from gateway.accounts.throttle import client_key

REQUEST_TIMEOUT = (b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain\r\n"
                   b"content-length: 20\r\nconnection: close\r\n\r\nrequest took too long")
BUSY = (b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain\r\n"
        b"content-length: 21\r\nconnection: close\r\n\r\ntoo many connections\n")
TOO_LARGE = (b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: text/plain\r\n"
             b"content-length: 26\r\nconnection: close\r\n\r\nrequest headers too large\n")
BLANK_LINE = re.compile(b"\n\r?\n")  # where h11 ends a request's head
LINGER = 2.0  # seconds a refused client may go on sending before the connection is closed


class Peer:
    """The connections of one client address: open, and waiting for a request's headers."""

    __slots__ = ("open", "waiting")

    def __init__(self) -> None:
        self.open = 0
        self.waiting = 0


class Peers:
    """Every open connection of one server, by client address (whatever client_key makes of
    it); the connections waiting for headers in the order they started waiting."""

    def __init__(self) -> None:
        self.by_key: dict[Hashable, Peer] = {}
        self.waiting: dict[GuardedH11Protocol, None] = {}  # oldest first

    def join(self, key: Hashable) -> Peer:
        peer = self.by_key.get(key)
        if peer is None:
            peer = self.by_key[key] = Peer()
        peer.open += 1
        return peer

    def leave(self, key: Hashable, peer: Peer) -> None:
        peer.open -= 1
        if not peer.open:
            del self.by_key[key]

    def start_waiting(self, conn: GuardedH11Protocol) -> None:
        self.waiting[conn] = None
        conn.peer.waiting += 1

    def stop_waiting(self, conn: GuardedH11Protocol) -> None:
        del self.waiting[conn]
        conn.peer.waiting -= 1

    def making_room(self, newcomer: Peer) -> GuardedH11Protocol | None:
        """The connection to close for a newcomer when every place is taken: the one waiting
        longest for headers of the address holding the most, if it holds more."""
        busiest = max((p for p in self.by_key.values() if p.waiting), key=lambda p: p.open,
                      default=None)
        if busiest is None or busiest.open <= newcomer.open:
            return None
        return next((conn for conn in self.waiting
                     if conn.peer is busiest and not conn.transport.is_closing()), None)


class GuardedH11Protocol(H11Protocol):
    header_timeout = 10.0
    body_timeout = 60.0
    max_header_bytes = 16 * 1024
    max_connections = 1000
    max_connections_per_client = 500
    peers = Peers()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.deadline: asyncio.TimerHandle | None = None
        self.waiting_for: str | None = None  # "headers", "body" or None
        self.head = 0  # bytes received while waiting for headers
        self.lingering = False  # answered and half-closed: what still comes is dropped
        self.key: Hashable = ""
        self.peer = Peer()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.key = client_key(self.client[0] if self.client else None)
        self.peer = self.peers.join(self.key)
        if self.peer.open > self.max_connections_per_client or not self.has_room():
            self.refuse(BUSY)
            return
        self.track()

    def has_room(self) -> bool:
        if len(self.connections) <= self.max_connections:
            return True
        victim = self.peers.making_room(self.peer)
        if victim is None:
            return False
        victim.time_out(linger=False)  # its place is wanted now
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        self.arm(None)
        self.peers.leave(self.key, self.peer)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.lingering:
            return
        if self.waiting_for == "headers":
            self.head += len(data)
            # While h11 waits for a head it keeps every byte of it: with `data`, the head so far.
            if self.head > self.max_header_bytes and not self.fits(
                    self.conn.trailing_data[0] + data[:self.max_header_bytes + 1]):
                self.refuse(TOO_LARGE, linger=True)
                return
        super().data_received(data)
        self.track()

    def fits(self, head: bytes) -> bool:
        """Whether the request head that `head` begins ends within max_header_bytes, or
        still may."""
        limit = self.max_header_bytes
        return len(head) <= limit or BLANK_LINE.search(head, 0, limit) is not None

    def on_response_complete(self) -> None:
        pipelined = self.pipelined()
        if not self.fits(pipelined):
            self.refuse(TOO_LARGE, linger=True)
            return
        super().on_response_complete()  # may start on a pipelined request
        self.track()
        if self.waiting_for == "headers":  # the start of the next head is already here
            self.head = len(pipelined)

    def pipelined(self) -> bytes:
        """What the client sent after the request just answered. uvicorn stops reading once
        a request is whole, so it waits in h11's buffer and the next head is parsed from
        there, not in data_received."""
        if (self.conn.their_state is h11.DONE and self.flow.read_paused
                and not self.transport.is_closing()):
            return self.conn.trailing_data[0]
        return b""

    def track(self) -> None:
        """Arm the deadline that fits where the request is now."""
        state = self.conn.their_state
        if state is h11.IDLE and self.conn.our_state is h11.IDLE:
            if self.waiting_for != "headers":
                self.arm("headers")
        elif state is h11.SEND_BODY:
            if self.waiting_for != "body":
                self.arm("body")
        elif self.waiting_for is not None:
            self.arm(None)

    def arm(self, what: str | None) -> None:
        if self.deadline is not None:
            self.deadline.cancel()
            self.deadline = None
        if self.waiting_for == "headers":
            self.peers.stop_waiting(self)
        self.waiting_for = None
        if what is None or self.transport.is_closing():
            return
        self.waiting_for = what
        if what == "headers":
            self.head = 0
            self.peers.start_waiting(self)
        seconds = self.header_timeout if what == "headers" else self.body_timeout
        self.deadline = self.loop.call_later(seconds, self.expire)

    def expire(self) -> None:
        self.deadline = None
        if self.transport.is_closing():
            return
        if self.waiting_for == "body" and self.flow.read_paused:
            # The app is not reading yet: the client is not the one that is late.
            self.deadline = self.loop.call_later(1.0, self.expire)
            return
        self.time_out(linger=True)

    def time_out(self, linger: bool) -> None:
        started = self.cycle is not None and self.cycle.response_started
        self.refuse(None if started else REQUEST_TIMEOUT, linger)

    def refuse(self, answer: bytes | None, linger: bool = False) -> None:
        """Send `answer` and close. With `linger`, close only our side, and drop what the
        client still sends until it closes too or LINGER passes: closing with its bytes
        unread would reset the connection, and a reset can destroy the answer before the
        client has read it."""
        self.arm(None)
        self._unset_keepalive_if_required()
        if answer is None or not linger or not self.transport.can_write_eof():
            if answer is not None:
                self.transport.write(answer)
            self.transport.close()
            return
        self.transport.write(answer)
        self.transport.write_eof()
        self.lingering = True
        self.flow.resume_reading()  # to see the client's end (then the transport closes)
        self.deadline = self.loop.call_later(LINGER, self.transport.close)


def protocol_for(header_timeout: float, body_timeout: float, max_header_bytes: int,
                 max_connections: int,
                 max_connections_per_client: int | None) -> type[GuardedH11Protocol]:
    """The protocol class uvicorn runs (``http=``), with the settings' limits (an address's
    share is half the connections unless set) and a table of peers of its own."""
    per_client = max_connections_per_client or max(1, max_connections // 2)
    return type("ConfiguredH11Protocol", (GuardedH11Protocol,), {
        "header_timeout": header_timeout, "body_timeout": body_timeout,
        "max_header_bytes": max_header_bytes, "max_connections": max_connections,
        "max_connections_per_client": per_client, "peers": Peers()})
