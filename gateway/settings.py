"""Settings: the TOML config file, then environment overrides, as one msgspec Struct."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import msgspec

from gateway.errors import GatewayError

DEFAULT_CONFIG = "identity-gateway.toml"


class ConfigError(GatewayError):
    """A configuration the gateway cannot run with: startup stops with this message."""

    status = 500


class Settings(msgspec.Struct, kw_only=True):
    database: str = "var/gateway.db"
    host: str = "127.0.0.1"
    port: int = 8080
    base_url: str | None = None  # public URL the IdPs use; default http://host:port
    migrate: bool = False  # apply pending migrations at startup
    plugins: list[str] = []  # entry-point names of enabled plugins
    max_body_bytes: int = 2 * 1024 * 1024
    default_page_size: int = 100
    max_page_size: int = 1000
    bulk_max_operations: int = 1000
    bulk_max_payload: int = 2 * 1024 * 1024
    scheduler_interval: float = 5.0  # seconds between lifecycle scheduler runs
    sync_log_retention: str | None = None  # e.g. "90d": older sync-log entries are pruned
    retention_interval: float = 3600.0  # seconds between pruning runs
    webhook_max_attempts: int = 10  # failed attempts before a delivery is dead-lettered
    webhook_backoff: float = 5.0  # seconds before the first retry; doubles each attempt
    webhook_backoff_max: float = 3600.0  # longest wait between two attempts
    webhook_timeout: float = 10.0  # seconds a receiver has to answer
    webhook_poll_interval: float = 2.0  # seconds between outbox polls when nothing wakes it
    webhook_concurrency: int = 8  # deliveries in flight at once (different resources)
    log_format: str | None = None  # "json" or "text"; serve: json unless stdout is a terminal
    metrics_token: str | None = None  # bearer token for /metrics (or its sha256$ hash)
    activity_flush_interval: float = 5.0  # seconds between writes of provider activity
    config: dict = {}  # the whole parsed file, for plugins' own sections

    @property
    def public_url(self) -> str:
        return (self.base_url or f"http://{self.host}:{self.port}").rstrip("/")


def load_settings(path: str | None = None, **overrides: object) -> Settings:
    """Read the config file (if any), apply environment variables, then explicit overrides."""
    config: dict = {}
    chosen = path or os.environ.get("IDENTITY_GATEWAY_CONFIG")
    if chosen is None and Path(DEFAULT_CONFIG).exists():
        chosen = DEFAULT_CONFIG
    if chosen:
        with open(chosen, "rb") as fh:
            config = tomllib.load(fh)
    values: dict = dict(config.get("gateway", {}))
    values["plugins"] = list(config.get("plugins", {}).get("enabled", []))
    env = {
        "database": os.environ.get("DATABASE"),
        "host": os.environ.get("HOST"),
        "port": os.environ.get("PORT"),
        "base_url": os.environ.get("GATEWAY_BASE_URL"),
    }
    values.update({k: v for k, v in env.items() if v})
    values.update({k: v for k, v in overrides.items() if v is not None})
    values["config"] = config
    return msgspec.convert(values, Settings, strict=False)
