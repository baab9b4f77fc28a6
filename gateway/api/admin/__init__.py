"""The admin API under /admin/v1 (JSON, admin bearer token): the same service functions the
CLI calls, one module per area, assembled in `routes`."""
