"""Request bodies in, SCIM JSON out, errors as SCIM error bodies."""

from __future__ import annotations

import re
from itertools import accumulate
from typing import Any
from urllib.parse import parse_qsl

import msgspec
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from gateway.errors import GatewayError
from gateway.params import ParamError, parse_int
from gateway.scim.errors import ScimError, error_body

SCIM_JSON = "application/scim+json"
ACCEPTED_TYPES = ("application/scim+json", "application/json")
FORM = "application/x-www-form-urlencoded"
MAX_DEPTH = 32
_encoder = msgspec.json.Encoder()


class ScimResponse(Response):
    media_type = SCIM_JSON

    def render(self, content: Any) -> bytes:
        return _encoder.encode(content)


class JsonResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return _encoder.encode(content)


def with_challenges(response: Response, error: GatewayError) -> Response:
    """A 401's challenges, each as a WWW-Authenticate value of its own (RFC 9110 11.6.1)."""
    for challenge in getattr(error, "challenges", ()):
        response.headers.append("WWW-Authenticate", challenge)
    return response


def error_response(error: GatewayError, headers: dict | None = None) -> ScimResponse:
    """Any refusal as a SCIM error body, with the headers it carries."""
    response = ScimResponse(error_body(error), status_code=error.status,
                            headers={**error.headers, **(headers or {})})
    with_challenges(response, error)
    return response


def admin_error_response(error: GatewayError) -> JsonResponse:
    """Any refusal in the admin API's shape: {"detail", "status"} (and a scimType when the
    refusal came from the SCIM layer, e.g. a local user's attribute)."""
    body: dict = {"detail": error.detail, "status": error.status}
    scim_type = getattr(error, "scim_type", None)
    if scim_type:
        body["scimType"] = scim_type
    response = JsonResponse(body, status_code=error.status, headers=error.headers)
    with_challenges(response, error)
    return response


def created(body: Any, location: str | None = None) -> JsonResponse:
    """A 201 answer for an admin route that created something."""
    return JsonResponse(body, status_code=201,
                        headers={"Location": location} if location else None)


# nesting() keeps only the bytes that decide it: brackets, quotes and backslashes. Then it
# drops whole strings (escapes included), so brackets inside strings do not count.
_STRUCTURE = b'[]{}"\\'
_OTHER = bytes(b for b in range(256) if b not in _STRUCTURE)
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_STEP = tuple(1 if b in b"[{" else -1 if b in b"]}" else 0 for b in range(256))


def nesting(raw: bytes) -> int:
    """How deep raw JSON text nests arrays and objects, counted on the bytes before any
    decoding: the decoder recurses once per level, so a body nested a thousand levels deep
    would exhaust the stack (a RecursionError, a 500) before a check on the decoded value
    could run. C-speed passes (translate, one regex) and a running sum over the brackets."""
    if raw.count(b"[") + raw.count(b"{") < MAX_DEPTH:  # too few brackets to reach the limit
        return 0
    brackets = _STRING.sub(b"", raw.translate(None, _OTHER))
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0)


def too_large(limit: int) -> ScimError:
    return ScimError(413, f"The request body is over the {limit}-byte limit")


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, read up to ``limit`` bytes and no further: a declared Content-Length
    over the limit is refused before a byte is read, and a body that streams past it
    (chunked, or longer than declared) is refused at the limit, so no request holds more
    than ``limit`` bytes. Every route reads its body here: JSON or form, core or plugin."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            length = parse_int(declared.strip(" \t"), "Content-Length")
        except ParamError:
            raise ScimError(400, "Content-Length must be a number of bytes") from None
        if length > limit:
            raise too_large(limit)
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise too_large(limit)
            chunks.append(chunk)
    except ClientDisconnect:
        raise ScimError(400, "The client went away before its body arrived") from None
    body = b"".join(chunks)
    # Kept where Starlette keeps a body it has read, so that a parser that reads the request
    # again (request.form() for a console form) parses these bytes instead of the stream.
    request._body = body
    return body


def parse_json(raw: bytes) -> Any:
    """Decoded JSON text, or a SCIM error 400: empty, nested too deep, or not JSON."""
    if not raw.strip():
        raise ScimError(400, "The request needs a JSON body", "invalidSyntax")
    if nesting(raw) >= MAX_DEPTH:  # a value inside n containers is at level n + 1
        raise ScimError(400, f"The body is nested deeper than {MAX_DEPTH} levels",
                        "invalidSyntax")
    try:
        body = msgspec.json.decode(raw)
    except msgspec.DecodeError as exc:
        raise ScimError(400, f"The body is not valid JSON: {exc}", "invalidSyntax") from None
    if b"\\u0000" in raw and has_nul(body):
        raise ScimError(400, "Text may not contain the NUL character (\\u0000)", "invalidValue")
    return body


def content_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


async def read_json(request: Request, limit: int) -> Any:
    """The decoded body, or a SCIM error: wrong type 415, too large 413, bad JSON 400."""
    ctype = content_type(request)
    if ctype and ctype not in ACCEPTED_TYPES:
        raise ScimError(415, f"Content-Type must be {SCIM_JSON} or application/json, "
                             f"not {ctype}")
    return parse_json(await read_body(request, limit))


async def read_form(request: Request, limit: int) -> list[tuple[str, str]]:
    """The name/value pairs of an application/x-www-form-urlencoded body in order, repeats
    kept, read through ``read_body``: wrong type 415, too large 413, not a form 400."""
    if content_type(request) != FORM:
        raise ScimError(415, f"Content-Type must be {FORM}")
    raw = await read_body(request, limit)
    try:
        return parse_qsl(raw.decode(), keep_blank_values=True, strict_parsing=bool(raw))
    except (UnicodeDecodeError, ValueError):
        raise ScimError(400, "The body is not a valid form") from None


def has_nul(value: Any) -> bool:
    """Whether any string (or key) holds U+0000, which PostgreSQL cannot store in text."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False
