"""HTTP connections as ``serve`` runs them: uvicorn's httptools protocol (llhttp, on uvloop)
with deadlines for a request's headers and body, a bound on the size of its headers, and
limits on open connections that no one client address can use up.

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
behind another too (after the answers to the requests before it). llhttp bounds no head: the
bytes are counted here, from where each head starts to the blank line that ends it, and the
parser is fed a head at a time (and a body of known length at a time), so that a head
pipelined behind another request is counted from its own first byte (behind a chunked body,
from the next read: the read before it is bounded anyway). A client answered 408
or 431 may still be sending: the connection is half-closed so that the answer is not lost to
a reset.

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

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from gateway.accounts.throttle import client_key

REQUEST_TIMEOUT = (b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain\r\n"
                   b"content-length: 20\r\nconnection: close\r\n\r\nrequest took too long")
BUSY = (b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain\r\n"
        b"content-length: 21\r\nconnection: close\r\n\r\ntoo many connections\n")
TOO_LARGE = (b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: text/plain\r\n"
             b"content-length: 26\r\nconnection: close\r\n\r\nrequest headers too large\n")
BLANK_LINE = re.compile(b"\n\r?\n")  # where a request's head ends
LINGER = 2.0  # seconds a refused client may go on sending before the connection is closed
UNKNOWN = -1  # the length of a body still to come when it is chunked


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
        self.waiting: dict[GuardedProtocol, None] = {}  # oldest first

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

    def start_waiting(self, conn: GuardedProtocol) -> None:
        self.waiting[conn] = None
        conn.peer.waiting += 1

    def stop_waiting(self, conn: GuardedProtocol) -> None:
        del self.waiting[conn]
        conn.peer.waiting -= 1

    def making_room(self, newcomer: Peer) -> GuardedProtocol | None:
        """The connection to close for a newcomer when every place is taken: the one waiting
        longest for headers of the address holding the most, if it holds more."""
        busiest = max((p for p in self.by_key.values() if p.waiting), key=lambda p: p.open,
                      default=None)
        if busiest is None or busiest.open <= newcomer.open:
            return None
        return next((conn for conn in self.waiting
                     if conn.peer is busiest and not conn.transport.is_closing()), None)


class GuardedProtocol(HttpToolsProtocol):
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
        self.in_body = False  # the parser is between a head's end and its message's end
        self.body_left = 0  # bytes of that body still to come, or UNKNOWN
        self.head = 0  # bytes of the head being received so far
        self.head_tail = b""  # its last bytes: a blank line may straddle two reads
        self.refusal: bytes | None = None  # an answer waiting for the ones before it
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
        """Feed the parser a head, or a body of known length, at a time, so that each head
        is counted from its own first byte."""
        while data and not self.lingering and self.refusal is None:
            if not self.in_body:
                end = self.head_end(data)
                if end is None:
                    self.refuse_when_answered(TOO_LARGE)
                    break
            else:  # a chunked body is fed to the end of the read: its end is not known here
                end = self.body_left if self.body_left > 0 else len(data)
            piece, data = data[:end], data[end:]
            super().data_received(piece)
            if self.transport.is_closing():
                return
        self.track()

    def head_end(self, data: bytes) -> int | None:
        """How much of `data` belongs to the head being received: up to its blank line, or
        all of it; None when the head goes past max_header_bytes."""
        room = self.max_header_bytes - self.head
        tail = self.head_tail
        found = BLANK_LINE.search(tail + data[:room])
        if found is not None:
            self.head, self.head_tail = 0, b""
            return found.end() - len(tail)
        if len(data) > room:
            return None
        self.head += len(data)
        self.head_tail = (tail + data)[-2:]
        return len(data)

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        self.in_body = True
        self.body_left = self.content_length()

    def content_length(self) -> int:
        """The body still to come, as its headers give it (llhttp has checked them)."""
        length = 0
        for name, value in self.headers:
            if name == b"transfer-encoding":
                return UNKNOWN
            if name == b"content-length":
                length = int(value)
        return length

    def on_body(self, body: bytes) -> None:
        if self.body_left != UNKNOWN:
            self.body_left -= len(body)
        super().on_body(body)

    def on_message_complete(self) -> None:
        self.in_body = False
        self.body_left = 0
        super().on_message_complete()

    def answering(self) -> bool:
        """Whether a request of this connection is being answered or waits its turn."""
        return bool(self.pipeline) or (
            self.cycle is not None and not self.cycle.response_complete)

    def refuse_when_answered(self, answer: bytes) -> None:
        """Refuse at once, or after the answers to the requests before this one (uvicorn
        stops reading while it answers them)."""
        if self.answering():
            self.refusal = answer
            self.flow.pause_reading()
            self.arm(None)
        else:
            self.refuse(answer, linger=True)

    def on_response_complete(self) -> None:
        if self.refusal is not None and not self.pipeline:
            if not self.transport.is_closing():
                self.refuse(self.refusal, linger=True)
            return
        super().on_response_complete()  # may start on a pipelined request
        self.track()

    def track(self) -> None:
        """Arm the deadline that fits where the request is now."""
        if self.in_body:
            if self.waiting_for != "body":
                self.arm("body")
        elif not self.answering() and self.refusal is None:
            if self.waiting_for != "headers":
                self.arm("headers")
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
                 max_connections_per_client: int | None) -> type[GuardedProtocol]:
    """The protocol class uvicorn runs (``http=``), with the settings' limits (an address's
    share is half the connections unless set) and a table of peers of its own."""
    per_client = max_connections_per_client or max(1, max_connections // 2)
    return type("ConfiguredProtocol", (GuardedProtocol,), {
        "header_timeout": header_timeout, "body_timeout": body_timeout,
        "max_header_bytes": max_header_bytes, "max_connections": max_connections,
        "max_connections_per_client": per_client, "peers": Peers()})
