"""Our own User extension: `orgName` names the organization a user belongs to."""

from __future__ import annotations

from gateway.plugin import Attribute, Schema

URN = "urn:ietf:params:scim:schemas:extension:identity-gateway:2.0:User"
ORG_NAME = f"{URN}:orgName"

EXTENSION = Schema(
    id=URN,
    name="IdentityGatewayUser",
    description="Application attributes of a user set by the identity provider",
    attributes=(
        Attribute(name="orgName", description="The name of the user's organization in the "
                  "application; used when the provider's organization mapping method is "
                  "'attribute' with this attribute."),
    ),
)
