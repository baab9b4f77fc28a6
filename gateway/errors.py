"""The one error base class: a request that cannot be carried out, with the HTTP status it
is answered with.

Every refusal the gateway raises on purpose is a ``GatewayError``. Each surface renders it in
its own shape: SCIM routes as a SCIM error body, the admin API as ``{"detail", "status"}``,
the CLI as one line on standard error. Anything else that escapes is a bug (answered 500).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class GatewayError(Exception):
    """A refusal: ``detail`` says why, ``status`` is the HTTP status that answers it, and
    ``headers`` are response headers that belong to it (a 401's ``WWW-Authenticate``, a
    429's ``Retry-After``)."""

    status: int = 400

    def __init__(self, detail: str, status: int | None = None, *,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        if status is not None:
            self.status = status
        self.headers: dict[str, str] = dict(headers or {})

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.detail!r}, {self.status})"


def did_you_mean(word: str, known: Iterable[str]) -> str:
    """" (did you mean 'port'?)" for the known word closest to a mistyped one, ignoring
    case; "" when none is close."""
    by_lower = {k.lower(): k for k in known}
    close = difflib.get_close_matches(word.lower(), list(by_lower), n=1, cutoff=0.6)
    return f" (did you mean '{by_lower[close[0]]}'?)" if close else ""


class NotFound(GatewayError):
    status = 404


class Conflict(GatewayError):
    status = 409
