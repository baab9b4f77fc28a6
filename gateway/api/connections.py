"""HTTP connections as ``serve`` runs them: uvicorn's h11 protocol with deadlines for a
request's headers and body, and a limit on open connections.

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

A connection past ``max_connections`` open at once is answered 503 and closed at once, before
it can hold anything.
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

REQUEST_TIMEOUT = (b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain\r\n"
                   b"content-length: 20\r\nconnection: close\r\n\r\nrequest took too long")
BUSY = (b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain\r\n"
        b"content-length: 21\r\nconnection: close\r\n\r\ntoo many connections\n")


class GuardedH11Protocol(H11Protocol):
    header_timeout = 10.0
    body_timeout = 60.0
    max_connections = 1000

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.deadline: asyncio.TimerHandle | None = None
        self.waiting_for: str | None = None  # "headers", "body" or None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.max_connections:
            transport.write(BUSY)
            transport.close()
            return
        self.track()

    def connection_lost(self, exc: Exception | None) -> None:
        self.arm(None)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self.track()

    def on_response_complete(self) -> None:
        super().on_response_complete()  # may start on a pipelined request
        self.track()

    def track(self) -> None:
        """Arm the deadline that fits where the request is now."""
        state = self.conn.their_state
        if state is h11.IDLE and self.conn.our_state is h11.IDLE:
            if self.waiting_for != "headers":
                self.arm("headers", self.header_timeout)
        elif state is h11.SEND_BODY:
            if self.waiting_for != "body":
                self.arm("body", self.body_timeout)
        elif self.waiting_for is not None:
            self.arm(None)

    def arm(self, what: str | None, seconds: float = 0.0) -> None:
        if self.deadline is not None:
            self.deadline.cancel()
            self.deadline = None
        self.waiting_for = what
        if what is not None and not self.transport.is_closing():
            self.deadline = self.loop.call_later(seconds, self.expire)

    def expire(self) -> None:
        self.deadline = None
        if self.transport.is_closing():
            return
        if self.waiting_for == "body" and self.flow.read_paused:
            # The app is not reading yet: the client is not the one that is late.
            self.deadline = self.loop.call_later(1.0, self.expire)
            return
        if self.cycle is None or not self.cycle.response_started:
            self.transport.write(REQUEST_TIMEOUT)
        self.waiting_for = None
        self.transport.close()


def protocol_for(header_timeout: float, body_timeout: float,
                 max_connections: int) -> type[GuardedH11Protocol]:
    """The protocol class uvicorn runs (``http=``), with the settings' deadlines."""
    return type("ConfiguredH11Protocol", (GuardedH11Protocol,), {
        "header_timeout": header_timeout, "body_timeout": body_timeout,
        "max_connections": max_connections})
