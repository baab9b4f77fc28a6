"""Request bodies in, SCIM JSON out, errors as SCIM error bodies."""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from gateway.errors import GatewayError
from gateway.scim.errors import ScimError, error_body

SCIM_JSON = "application/scim+json"
ACCEPTED_TYPES = ("application/scim+json", "application/json")
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


def error_response(error: GatewayError, headers: dict | None = None) -> ScimResponse:
    """Any refusal as a SCIM error body, with the headers it carries."""
    return ScimResponse(error_body(error), status_code=error.status,
                        headers={**error.headers, **(headers or {})})


def admin_error_response(error: GatewayError) -> JsonResponse:
    """Any refusal in the admin API's shape: {"detail", "status"} (and a scimType when the
    refusal came from the SCIM layer, e.g. a local user's attribute)."""
    body: dict = {"detail": error.detail, "status": error.status}
    scim_type = getattr(error, "scim_type", None)
    if scim_type:
        body["scimType"] = scim_type
    return JsonResponse(body, status_code=error.status, headers=error.headers)


def created(body: Any, location: str | None = None) -> JsonResponse:
    """A 201 answer for an admin route that created something."""
    return JsonResponse(body, status_code=201,
                        headers={"Location": location} if location else None)


def depth(value: Any, limit: int = MAX_DEPTH) -> int:
    """Nesting depth of decoded JSON, stopping early past the limit."""
    stack = [(value, 1)]
    deepest = 0
    while stack:
        item, level = stack.pop()
        deepest = max(deepest, level)
        if deepest > limit:
            return deepest
        if isinstance(item, dict):
            stack.extend((v, level + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, level + 1) for v in item)
    return deepest


async def read_json(request: Request, limit: int) -> Any:
    """The decoded body, or a SCIM error: wrong type 415, too large 413, bad JSON 400."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype and ctype not in ACCEPTED_TYPES:
        raise ScimError(415, f"Content-Type must be {SCIM_JSON} or application/json, "
                             f"not {ctype}")
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise ScimError(413, f"The request body is over the {limit}-byte limit")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ScimError(413, f"The request body is over the {limit}-byte limit")
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw.strip():
        raise ScimError(400, "The request needs a JSON body", "invalidSyntax")
    try:
        body = msgspec.json.decode(raw)
    except msgspec.DecodeError as exc:
        raise ScimError(400, f"The body is not valid JSON: {exc}", "invalidSyntax") from None
    # A body with fewer brackets than the limit cannot be nested past it: no walk needed.
    if raw.count(b"[") + raw.count(b"{") >= MAX_DEPTH and depth(body) > MAX_DEPTH:
        raise ScimError(400, f"The body is nested deeper than {MAX_DEPTH} levels",
                        "invalidSyntax")
    if b"\\u0000" in raw and has_nul(body):
        raise ScimError(400, "Text may not contain the NUL character (\\u0000)", "invalidValue")
    return body


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
