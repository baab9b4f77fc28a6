"""HTTP: the SCIM routes, discovery, the admin API."""
