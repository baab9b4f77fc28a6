"""The SCIM protocol, free of HTTP and storage."""
