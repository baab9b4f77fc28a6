"""Settings: the TOML config file, then environment overrides, as one msgspec Struct.

Everything is checked before anything else happens: an unknown key (with the closest known
one), a value of the wrong type or out of its bounds, a duration or URL that cannot be read,
a database URL of a scheme the gateway has no store for. Each ends startup with one line
(`ConfigError`) naming the file, the section and the key, or the environment variable.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from importlib.metadata import entry_points
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import msgspec
from msgspec import Meta

from gateway.clock import parse_duration
from gateway.errors import GatewayError, did_you_mean

DEFAULT_CONFIG = "identity-gateway.toml"
PLUGIN_GROUP = "identity_gateway.plugins"
CORE_SECTIONS = ("gateway", "plugins")
# Environment variables that override [gateway] keys.
ENVIRONMENT = {"DATABASE": "database", "HOST": "host", "PORT": "port",
               "GATEWAY_BASE_URL": "base_url", "IDENTITY_GATEWAY_TRACE_HOOKS": "trace_hooks"}
POSTGRES_SCHEMES = ("postgresql", "postgres")
KEYS_VARIABLE = "IDENTITY_GATEWAY_SECRET_KEYS"  # Fernet keys for webhook secrets, first new

Port = Annotated[int, Meta(ge=1, le=65535)]
Bytes = Annotated[int, Meta(ge=1024, le=1024**3)]
Seconds = Annotated[float, Meta(gt=0, le=86400)]


class ConfigError(GatewayError):
    """A configuration the gateway cannot run with: startup stops with this message."""

    status = 500


class Settings(msgspec.Struct, kw_only=True):
    database: str = "var/gateway.db"
    # SQLite: "full" (default) fsyncs each commit, so an acknowledged write survives a power
    # loss or an OS crash; "normal" fsyncs only at checkpoints (faster; such a crash can lose
    # the writes of the last seconds, though a crash of the gateway process alone cannot).
    sqlite_synchronous: Literal["full", "normal"] = "full"
    host: str = "127.0.0.1"
    port: Port = 8080
    base_url: str | None = None  # public URL the IdPs use; default http://host:port
    migrate: bool = False  # apply pending migrations at startup
    plugins: list[str] = []  # entry-point names of enabled plugins
    max_body_bytes: Bytes = 2 * 1024 * 1024
    default_page_size: Annotated[int, Meta(ge=1, le=10000)] = 100
    max_page_size: Annotated[int, Meta(ge=1, le=10000)] = 1000
    # values of one multi-valued attribute (not Group members, which are rows)
    max_attribute_values: Annotated[int, Meta(ge=1, le=100000)] = 200
    patch_max_operations: Annotated[int, Meta(ge=1, le=100000)] = 1000  # in one PATCH
    bulk_max_operations: Annotated[int, Meta(ge=1, le=100000)] = 1000
    bulk_max_payload: Bytes = 2 * 1024 * 1024
    scheduler_interval: Seconds = 5.0  # seconds between lifecycle scheduler runs
    # characters of a refused body (and of its error) the sync log keeps
    sync_log_excerpt: Annotated[int, Meta(ge=256, le=1024**2)] = 4096
    sync_log_retention: str | None = None  # e.g. "90d": older sync-log entries are pruned
    retention_interval: Seconds = 3600.0  # seconds between pruning runs
    webhook_max_attempts: Annotated[int, Meta(ge=1, le=1000)] = 10  # then dead-lettered
    webhook_backoff: Seconds = 5.0  # seconds before the first retry; doubles each attempt
    webhook_backoff_max: Seconds = 3600.0  # longest wait between two attempts
    webhook_timeout: Annotated[float, Meta(gt=0, le=600)] = 10.0  # a receiver's time to answer
    webhook_poll_interval: Seconds = 2.0  # seconds between outbox polls when nothing wakes it
    webhook_concurrency: Annotated[int, Meta(ge=1, le=1000)] = 8  # deliveries in flight
    # CIDR networks webhooks may reach besides public addresses (e.g. ["10.20.0.0/16"]):
    # loopback, private, link-local and the other internal ranges are refused otherwise.
    webhook_allow_networks: list[str] = []
    console_idle_timeout: str = "30m"  # a console session unused this long ends
    console_session_lifetime: str = "12h"  # and any console session ends this long after sign-in
    # Console sign-in (docs/deploy.md, "Console sign-in"). Failed sign-ins for one name from
    # one client address before that address is locked out of it, and the first lock-out;
    # each further failure doubles it (at most 15m).
    console_lockout_after: Annotated[int, Meta(ge=1, le=100)] = 5
    console_lockout: str = "1m"
    # Failed sign-ins for one name from every address (browsers that signed in as it aside)
    # before its password checks are spaced console_name_slowdown apart.
    console_name_slowdown_after: Annotated[int, Meta(ge=1, le=10_000)] = 20
    console_name_slowdown: str = "10s"
    console_sign_ins_per_client: Annotated[int, Meta(ge=1, le=10_000)] = 20  # a minute
    console_password_checks: Annotated[int, Meta(ge=1, le=64)] = 2  # at once, 64 MiB each
    # Limits and protections (docs/deploy.md, "Limits and protections").
    header_timeout: Annotated[float, Meta(ge=1, le=300)] = 10.0  # s to send request headers
    body_timeout: Annotated[float, Meta(ge=1, le=3600)] = 60.0  # s to send a request body
    keep_alive_timeout: Annotated[float, Meta(ge=1, le=300)] = 5.0  # s an idle connection stays
    max_connections: Annotated[int, Meta(ge=1, le=100_000)] = 1000  # open at once, per process
    # open at once from one client address (an IPv6 /64); None: half of max_connections
    max_connections_per_client: Annotated[int, Meta(ge=1, le=100_000)] | None = None
    max_header_bytes: Annotated[int, Meta(ge=1024, le=1024**2)] = 16 * 1024  # request line+headers
    shutdown_timeout: Annotated[float, Meta(ge=0, le=600)] = 10.0  # s in-flight requests get
    forwarded_allow_ips: str = "127.0.0.1"  # proxies whose X-Forwarded-For is believed
    auth_failures_per_client: Annotated[int, Meta(ge=1, le=100_000)] = 60  # a minute
    auth_failures_per_network: Annotated[int, Meta(ge=1, le=1_000_000)] = 300  # a minute
    auth_failures_per_provider: Annotated[int, Meta(ge=1, le=1_000_000)] = 600  # a minute
    token_requests_per_client: Annotated[int, Meta(ge=1, le=100_000)] = 60  # a minute
    token_requests_per_provider: Annotated[int, Meta(ge=1, le=1_000_000)] = 120  # a minute
    auth_failure_retention: str = "30d"  # how long failure counts are kept
    secret_keys: list[str] = []  # from IDENTITY_GATEWAY_SECRET_KEYS only, never the file
    log_format: Literal["json", "text"] | None = None  # serve: json unless stdout is a terminal
    metrics_token: str | None = None  # bearer token for /metrics (or its sha256$ hash)
    activity_flush_interval: Seconds = 5.0  # seconds between writes of provider activity
    # A log line for every call of a plugin's hook (docs/plugins.md, "Tracing hooks").
    trace_hooks: bool = False
    config: dict = {}  # the whole parsed file, for plugins' own sections
    config_path: str | None = None  # the file it was read from (None: no config file)

    @property
    def public_url(self) -> str:
        return (self.base_url or f"http://{self.host}:{self.port}").rstrip("/")


# Keys of [gateway]: everything but what comes from elsewhere.
GATEWAY_KEYS = tuple(f.name for f in msgspec.structs.fields(Settings)
                     if f.name not in ("plugins", "config", "config_path", "secret_keys"))
# Keys given on the command line, as their flags.
FLAGS = {"database": "--database", "host": "--host", "port": "--port", "migrate": "--migrate",
         "log_format": "--log-format", "trace_hooks": "--trace-hooks"}


def read_config(chosen: str) -> dict:
    """The parsed file; any way it cannot be read is a ConfigError naming the file."""
    try:
        with open(chosen, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config file '{chosen}' does not exist") from None
    except IsADirectoryError:
        raise ConfigError(f"config file '{chosen}' is a directory") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file '{chosen}': {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{chosen}: not valid TOML: {exc}") from None


def check_sections(config: dict, where: str) -> None:
    """Core sections take only their own keys; other sections must belong to a plugin."""
    installed = sorted(ep.name for ep in entry_points(group=PLUGIN_GROUP))
    known = [*CORE_SECTIONS, *installed]
    for section, value in config.items():
        if section not in known:
            raise ConfigError(f"{where}: unknown section [{section}]"
                              f"{did_you_mean(section, known)}; the sections are "
                              f"{', '.join(f'[{k}]' for k in known)}")
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: '{section}' must be a table ([{section}])")
    for key in config.get("gateway", {}):
        if key not in GATEWAY_KEYS:
            raise ConfigError(f"{where}: unknown key '{key}' in [gateway]"
                              f"{did_you_mean(key, GATEWAY_KEYS)}")
    plugins = config.get("plugins", {})
    for key in plugins:
        if key != "enabled":
            raise ConfigError(f"{where}: unknown key '{key}' in [plugins]"
                              f"{did_you_mean(key, ['enabled'])}")
    enabled = plugins.get("enabled", [])
    if not isinstance(enabled, list) or not all(isinstance(p, str) for p in enabled):
        raise ConfigError(f"{where}: [plugins] enabled must be a list of plugin names")


def load_settings(path: str | None = None, **overrides: object) -> Settings:
    """Read the config file (if any), apply environment variables, then explicit overrides
    (the command line), and check the result."""
    chosen = path or os.environ.get("IDENTITY_GATEWAY_CONFIG")
    if chosen is None and Path(DEFAULT_CONFIG).exists():
        chosen = DEFAULT_CONFIG
    config = read_config(chosen) if chosen else {}
    where = chosen or "the defaults"
    check_sections(config, where)
    values: dict[str, Any] = dict(config.get("gateway", {}))
    source = {key: f"{where}: [gateway] {key}" for key in values}
    for variable, key in ENVIRONMENT.items():
        if os.environ.get(variable):
            values[key] = os.environ[variable]
            source[key] = f"environment variable {variable}"
    for key, value in overrides.items():
        if value is not None:
            values[key] = value
            source[key] = f"{FLAGS.get(key, key)}"
    values["plugins"] = list(config.get("plugins", {}).get("enabled", []))
    values["secret_keys"] = [k.strip() for k in os.environ.get(KEYS_VARIABLE, "").split(",")
                             if k.strip()]
    values["config"] = config
    values["config_path"] = chosen
    try:
        settings = msgspec.convert(values, Settings, strict=False)
    except msgspec.ValidationError as exc:
        raise ConfigError(explain(exc, source)) from None
    check(settings, source)
    return settings


def explain(exc: msgspec.ValidationError, source: dict[str, str]) -> str:
    """msgspec's "Expected `int` >= 1, got 0 - at `$.port`" as "<where port came from>: ..."."""
    text = str(exc)
    reason, _, at = text.rpartition(" - at `$.")
    key = at.rstrip("`").split(".")[0].split("[")[0] if reason else ""
    if not key:
        return f"configuration: {text}"
    return f"{source.get(key, key)}: {reason[0].lower()}{reason[1:]}"


# Duration settings and their bounds in seconds.
DURATIONS = (("console_idle_timeout", 60, 7 * 86400), ("console_session_lifetime", 60, 30 * 86400),
             ("console_lockout", 1, 3600), ("console_name_slowdown", 1, 3600),
             ("auth_failure_retention", 3600, 3650 * 86400))


def check(settings: Settings, source: dict[str, str]) -> None:
    """What a type cannot say: durations, URLs, networks, the database's scheme, page sizes."""
    def fail(key: str, message: str) -> ConfigError:
        return ConfigError(f"{source.get(key, key)}: {message}")

    if settings.sync_log_retention not in (None, ""):
        try:
            seconds = parse_duration(settings.sync_log_retention)
        except ValueError as exc:
            raise fail("sync_log_retention", str(exc)) from None
        if not 60 <= seconds <= 100 * 365 * 86400:
            raise fail("sync_log_retention", "must be between 1m and 36500d (leave it out to "
                                             "keep the sync log forever)")
    for key, low, high in DURATIONS:
        try:
            seconds = parse_duration(getattr(settings, key))
        except ValueError as exc:
            raise fail(key, str(exc)) from None
        if not low <= seconds <= high:
            raise fail(key, f"must be between {low:g}s and {high:g}s")
    if settings.base_url is not None:
        parts = urlsplit(settings.base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query \
                or parts.fragment:
            raise fail("base_url", f"'{settings.base_url}' is not an http or https URL such "
                                   "as https://scim.example.com")
    for entry in settings.webhook_allow_networks:
        try:
            ipaddress.ip_network(entry)
        except ValueError as exc:
            raise fail("webhook_allow_networks", f"'{entry}' is not a CIDR network such as "
                                                 f"10.20.0.0/16 or fd00::/8 ({exc})") from None
    check_database(settings.database, source)
    if settings.default_page_size > settings.max_page_size:
        raise fail("default_page_size", f"is larger than max_page_size "
                                        f"({settings.max_page_size})")


def check_database(database: str, source: dict[str, str]) -> None:
    where = source.get("database", "database")
    if not database.strip():
        raise ConfigError(f"{where}: the database is empty; give a SQLite file or a "
                          "postgresql:// URL")
    scheme, sep, _ = database.partition("://")
    if sep and scheme.lower() not in POSTGRES_SCHEMES:
        raise ConfigError(f"{where}: unsupported database URL scheme '{scheme}://': give a "
                          "SQLite file path or a postgresql:// URL")
