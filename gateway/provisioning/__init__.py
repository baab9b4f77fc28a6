"""The SCIM service, free of HTTP: reads, writes, membership, /Bulk, root /.search, and
rendering stored rows as SCIM JSON."""
