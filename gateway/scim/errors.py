"""SCIM errors (RFC 7644 section 3.12) as one exception type."""

from __future__ import annotations

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


class ScimError(Exception):
    """An error that answers the client with a SCIM error body."""

    def __init__(self, status: int, detail: str, scim_type: str | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.scim_type = scim_type

    def body(self) -> dict:
        body: dict = {"schemas": [ERROR_SCHEMA], "status": str(self.status), "detail": self.detail}
        if self.scim_type:
            body["scimType"] = self.scim_type
        return body

    def __repr__(self) -> str:
        return f"ScimError({self.status}, {self.detail!r}, {self.scim_type!r})"


def bad_request(detail: str, scim_type: str | None = "invalidValue") -> ScimError:
    return ScimError(400, detail, scim_type)


def not_found(detail: str = "Resource not found") -> ScimError:
    return ScimError(404, detail)
