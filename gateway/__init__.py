"""identity-gateway: a plugin-based SCIM 2.0 identity gateway."""

__version__ = "0.1.0"
