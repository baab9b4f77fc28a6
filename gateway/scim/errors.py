"""SCIM errors (RFC 7644 section 3.12): a GatewayError that also carries a scimType."""

from __future__ import annotations

from typing import Any

from gateway.errors import GatewayError

ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"

# scimType values RFC 7644 names, with the status each belongs to.
SCIM_TYPES = {
    "invalidFilter": 400,
    "tooMany": 400,
    "uniqueness": 409,
    "mutability": 400,
    "invalidSyntax": 400,
    "invalidPath": 400,
    "noTarget": 400,
    "invalidValue": 400,
    "invalidVers": 400,
    "sensitive": 403,
}


class ScimError(GatewayError):
    """An error that answers a SCIM client with a SCIM error body."""

    def __init__(self, status: int, detail: str, scim_type: str | None = None, *,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(detail, status, headers=headers)
        self.scim_type = scim_type

    def body(self) -> dict[str, Any]:
        return error_body(self)

    def __repr__(self) -> str:
        return f"ScimError({self.status}, {self.detail!r}, {self.scim_type!r})"


def error_body(error: GatewayError) -> dict[str, Any]:
    """The SCIM error body of any refusal (a ScimError adds its scimType)."""
    body: dict[str, Any] = {"schemas": [ERROR_SCHEMA], "status": str(error.status),
                  "detail": error.detail}
    scim_type = getattr(error, "scim_type", None)
    if scim_type:
        body["scimType"] = scim_type
    return body
