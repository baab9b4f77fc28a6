"""A real HTTP webhook receiver on a free loopback port (http.server in a thread)."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from gateway.testing import eventually

# What a test's gateway must allow to deliver to a receiver here: webhooks reach only public
# addresses unless the operator lists a network (webhook_allow_networks).
LOOPBACK = ["127.0.0.0/8", "::1/128"]

# policy(event, attempt) -> HTTP status to answer, or "hang" to answer late (after release)
Policy = Callable[[dict, int], "int | str"]


def verify(secret: str, header: str, body: bytes) -> bool:
    """What a receiver does (the same few lines as in docs/events.md)."""
    parts = dict(item.split("=", 1) for item in header.split(","))
    expected = hmac.new(secret.encode(), f"{parts['t']}.".encode() + body,
                        hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts["v1"])


class Receiver:
    def __init__(self, secret: str, policy: Policy | None = None) -> None:
        self.secret = secret
        self.policy = policy or (lambda event, attempt: 200)
        self.lock = threading.Lock()
        self.requests: list[dict] = []  # every request, in arrival order
        self.accepted: list[dict] = []  # events answered 2xx, in order
        self.attempts: dict[int, int] = {}
        self.release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                event = json.loads(body)
                with receiver.lock:
                    attempt = receiver.attempts.get(event["seq"], 0) + 1
                    receiver.attempts[event["seq"]] = attempt
                    receiver.requests.append({"event": event, "headers": dict(self.headers),
                                              "valid": verify(receiver.secret,
                                                              self.headers["X-Gateway-Signature"],
                                                              body)})
                status = receiver.policy(event, attempt)
                if status == "hang":
                    receiver.release.wait(30)
                    status = 503  # too late: the sender has given up on this one
                if 200 <= status < 300:
                    with receiver.lock:
                        receiver.accepted.append(event)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def accepted_seqs(self) -> list[int]:
        with self.lock:
            return [e["seq"] for e in self.accepted]

    async def wait_for(self, count: int, within: float = 60.0) -> list[dict]:
        """Until `count` events were accepted (a ceiling for a stuck test, not a measure)."""
        def enough() -> list[dict] | None:
            with self.lock:
                return list(self.accepted) if len(self.accepted) >= count else None

        try:
            return await eventually(enough, within=within, every=0.02)
        except AssertionError:
            with self.lock:
                raise AssertionError(
                    f"receiver accepted {len(self.accepted)} of {count} events") from None
