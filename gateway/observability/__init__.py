"""What an operator watches: the request middleware (request id, trace context, access log,
metrics, activity), Prometheus metrics, JSON logs, health and readiness, and the
per-provider activity record."""
