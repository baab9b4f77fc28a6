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
CORE_SECTIONS = ("gateway", "plugins", "console")
# Environment variables that override [gateway] keys.
ENVIRONMENT = {"DATABASE": "database", "HOST": "host", "PORT": "port",
               "GATEWAY_BASE_URL": "base_url", "IDENTITY_GATEWAY_TRACE_HOOKS": "trace_hooks",
               "IDENTITY_GATEWAY_WORKERS": "workers"}
POSTGRES_SCHEMES = ("postgresql", "postgres")
KEYS_VARIABLE = "IDENTITY_GATEWAY_SECRET_KEYS"  # Fernet keys for webhook secrets, first new
SSO_SECRET_VARIABLE = "IDENTITY_GATEWAY_SSO_CLIENT_SECRET"  # the console's OIDC client secret
KEY_FILE = Path("identity-gateway") / "secret-keys"  # under the user's config folder

Port = Annotated[int, Meta(ge=1, le=65535)]
Bytes = Annotated[int, Meta(ge=1024, le=1024**3)]
Seconds = Annotated[float, Meta(gt=0, le=86400)]


class ConfigError(GatewayError):
    """A configuration the gateway cannot run with: startup stops with this message."""

    status = 500


class SsoSettings(msgspec.Struct, kw_only=True):
    """The console's single sign-on (`[console.sso]`, or the Settings page): an OpenID
    Connect client of the company's identity provider (docs/console.md, "Single sign-on")."""

    issuer: str  # discovery at <issuer>/.well-known/openid-configuration
    client_id: str
    # The file's value or IDENTITY_GATEWAY_SSO_CLIENT_SECRET (which wins); never shown.
    client_secret: str | None = None
    name: str = ""  # "Sign in with <name>"; the issuer's host when empty
    scopes: str = "openid profile email"
    roles_claim: str = "groups"  # the ID token claim whose values give a role
    admin_values: list[str] = []
    auditor_values: list[str] = []
    only: bool = False  # password sign-in refused but for the break_glass accounts
    break_glass: list[str] = []

    @property
    def label(self) -> str:
        return self.name or (urlsplit(self.issuer).hostname or self.issuer)


SSO_KEYS = tuple(f.name for f in msgspec.structs.fields(SsoSettings))
LOOPBACK_HOSTS = ("localhost",)


class Settings(msgspec.Struct, kw_only=True):
    database: str = "var/gateway.db"
    # SQLite: "full" (default) fsyncs each commit, so an acknowledged write survives a power
    # loss or an OS crash; "normal" fsyncs only at checkpoints (faster; such a crash can lose
    # the writes of the last seconds, though a crash of the gateway process alone cannot).
    sqlite_synchronous: Literal["full", "normal"] = "full"
    host: str = "127.0.0.1"
    port: Port = 8080
    # serve's worker processes on one socket; None: one per core the process may run on.
    # The per-process limits below are shared out among them (see per_worker).
    workers: Annotated[int, Meta(ge=1, le=256)] | None = None
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
    # The file webhook secret keys are kept in when IDENTITY_GATEWAY_SECRET_KEYS is not set:
    # the first start creates it (docs/deploy.md, "Webhook secret keys"). Default:
    # $XDG_CONFIG_HOME/identity-gateway/secret-keys (~/.config/...); "" for none.
    secret_keys_file: str | None = None
    # from IDENTITY_GATEWAY_SECRET_KEYS, else secret_keys_file; never the config file
    secret_keys: list[str] = []
    log_format: Literal["json", "text"] | None = None  # serve: json unless stdout is a terminal
    metrics_token: str | None = None  # bearer token for /metrics (or its sha256$ hash)
    activity_flush_interval: Seconds = 5.0  # seconds between writes of provider activity
    console_sso: SsoSettings | None = None  # [console.sso]; None: from the Settings page
    # A log line for every call of a plugin's hook (docs/plugins.md, "Tracing hooks").
    trace_hooks: bool = False
    config: dict = {}  # the whole parsed file, for plugins' own sections
    config_path: str | None = None  # the file it was read from (None: no config file)
    limits_file: str | None = None  # serve's workers: the buckets they share (set by serve)
    worker_dir: str | None = None  # serve's workers: the folder of what they share
    worker_slot: int = 0  # serve's workers: this one's place among them

    @property
    def process_count(self) -> int:
        """The worker processes serve runs: `workers`, or one per core it may run on."""
        return self.workers or available_cores()

    @property
    def public_url(self) -> str:
        return (self.base_url or f"http://{self.host}:{self.port}").rstrip("/")


# Keys of [gateway]: everything but what comes from elsewhere.
GATEWAY_KEYS = tuple(f.name for f in msgspec.structs.fields(Settings)
                     if f.name not in ("plugins", "config", "config_path", "secret_keys",
                                     "console_sso", "limits_file", "worker_dir",
                                     "worker_slot"))
# Keys given on the command line, as their flags.
FLAGS = {"database": "--database", "host": "--host", "port": "--port", "migrate": "--migrate",
         "log_format": "--log-format", "trace_hooks": "--trace-hooks", "workers": "--workers"}
# Bounds each process keeps on what it holds itself (connections, argon2 checks and their
# memory, deliveries in flight): with N worker processes on one host each keeps its share,
# so that together they never hold more than the setting says. (The limits on failed
# authentication and token requests are shared by the workers instead: limits_file.)
PER_PROCESS = ("max_connections", "max_connections_per_client", "console_password_checks",
               "webhook_concurrency")


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
    for key, value in config.get("console", {}).items():
        if key != "sso":
            raise ConfigError(f"{where}: unknown key '{key}' in [console]"
                              f"{did_you_mean(key, ['sso'])}; the console's section is "
                              "[console.sso]")
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: 'console.sso' must be a table ([console.sso])")
        for name in value:
            if name not in SSO_KEYS:
                raise ConfigError(f"{where}: unknown key '{name}' in [console.sso]"
                                  f"{did_you_mean(name, SSO_KEYS)}")


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
    values["config"] = config
    values["config_path"] = chosen
    sso = config.get("console", {}).get("sso")
    if sso is not None:
        values["console_sso"] = read_sso(sso, f"{where}: [console.sso]")
    try:
        settings = msgspec.convert(values, Settings, strict=False)
    except msgspec.ValidationError as exc:
        raise ConfigError(explain(exc, source)) from None
    check(settings, source)
    resolve_keys(settings, source)
    return settings


def read_sso(values: dict, where: str, need_secret: bool = True) -> SsoSettings:
    """[console.sso] (or the Settings page's form) as SsoSettings, the client secret from
    the environment when set there; a ConfigError names the key."""
    values = dict(values)
    if os.environ.get(SSO_SECRET_VARIABLE):
        values["client_secret"] = os.environ[SSO_SECRET_VARIABLE]
    try:
        sso = msgspec.convert(values, SsoSettings, strict=False)
    except msgspec.ValidationError as exc:
        text = str(exc)
        reason, _, at = text.rpartition(" - at `$.")
        key = at.rstrip("`").split(".")[0].split("[")[0] if reason else ""
        if "missing required field" in text:
            key = text.rsplit("`", 2)[-2]
            reason = "is missing"
        raise ConfigError(f"{where} {key}: {reason[:1].lower()}{reason[1:]}") from None
    check_sso(sso, where, need_secret)
    return sso


def check_sso(sso: SsoSettings, where: str, need_secret: bool = True) -> None:
    """What the types cannot say about a single sign-on configuration."""
    def fail(key: str, message: str) -> ConfigError:
        return ConfigError(f"{where} {key}: {message}")

    parts = urlsplit(sso.issuer.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query \
            or parts.fragment:
        raise fail("issuer", f"'{sso.issuer}' is not an https URL such as "
                             "https://login.microsoftonline.com/<tenant>/v2.0")
    if parts.scheme == "http" and not loopback(parts.hostname):
        raise fail("issuer", f"'{sso.issuer}' is not https: the identity provider's answers "
                             "must come over TLS (http only on this machine's loopback)")
    if not sso.client_id.strip():
        raise fail("client_id", "is empty: give the application (client) ID the identity "
                                "provider shows for the gateway")
    if need_secret and not sso.client_secret:
        raise fail("client_secret", f"is missing: set {SSO_SECRET_VARIABLE} (or "
                                    "client_secret in [console.sso])")
    if "openid" not in sso.scopes.split():
        raise fail("scopes", f"'{sso.scopes}' lacks 'openid'")
    if not sso.roles_claim.strip():
        raise fail("roles_claim", "is empty: name the ID token claim that carries the user's "
                                  "groups (such as groups)")
    if not sso.admin_values and not sso.auditor_values:
        raise fail("admin_values", "and auditor_values are both empty: nobody could sign in; "
                                   "list the claim values (group IDs or names) of each role")
    both = sorted(set(sso.admin_values) & set(sso.auditor_values))
    if both:
        raise fail("auditor_values", f"'{both[0]}' is in admin_values too; give each value "
                                     "one role")
    if sso.only and not sso.break_glass:
        raise fail("break_glass", "is empty while only = true: name at least one local "
                                  "account that may still sign in with its password when the "
                                  "identity provider cannot be reached")


def loopback(host: str) -> bool:
    if host in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


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


def resolve_keys(settings: Settings, source: dict[str, str]) -> None:
    """The webhook secret keys: those of IDENTITY_GATEWAY_SECRET_KEYS, else those of the key
    file (none before the first start creates it), whose path becomes absolute."""
    given = split_keys(os.environ.get(KEYS_VARIABLE, ""))
    if given:
        settings.secret_keys, settings.secret_keys_file = given, None
        return
    chosen = settings.secret_keys_file
    path = default_key_file() if chosen is None else Path(chosen) if chosen else None
    settings.secret_keys_file = str(path.absolute()) if path else None
    if path is not None:
        where = source.get("secret_keys_file", "secret_keys_file (the default)")
        outside_database(path, settings.database, where)
        settings.secret_keys = read_key_file(path)


def split_keys(text: str) -> list[str]:
    """Keys separated by commas or lines; a line starting with # is a comment."""
    lines = (line for line in text.splitlines() if not line.lstrip().startswith("#"))
    return [key.strip() for line in lines for key in line.split(",") if key.strip()]


def default_key_file() -> Path | None:
    """$XDG_CONFIG_HOME/identity-gateway/secret-keys, else ~/.config/...: the user's, so that
    the CLI run next to `serve` by the same account reads it too."""
    base = os.environ.get("XDG_CONFIG_HOME", "")
    if not os.path.isabs(base):  # unset, or relative: the XDG spec says to ignore it
        try:
            base = str(Path.home() / ".config")
        except RuntimeError:  # no home folder to be found
            return None
    return Path(base) / KEY_FILE


def outside_database(path: Path, database: str, where: str) -> None:
    """A copy of the database's folder must not hold the key its secrets are sealed with."""
    if "://" in database:
        return
    folder = Path(os.path.realpath(database)).parent
    if Path(os.path.realpath(path)).is_relative_to(folder):
        raise ConfigError(f"{where}: the webhook secret key file {path} is inside the "
                          f"database's folder {folder}, so a copy of that folder would hold "
                          "both the encrypted secrets and their key; give the database a "
                          "folder of its own, or set secret_keys_file to a path outside it")


def read_key_file(path: Path) -> list[str]:
    """The keys of the file ([] when there is none yet), refused when other users may read
    or change it, as ssh refuses such a private key."""
    try:
        text, info = path.read_text(), path.stat()
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ConfigError(f"cannot read the webhook secret key file {path}: {reason}") from None
    if too_open(info):
        raise ConfigError(f"the webhook secret key file {path} is open to other users (mode "
                          f"{info.st_mode & 0o777:04o}); only its owner may read it: "
                          f"chmod 600 {path}")
    keys = split_keys(text)
    if not keys:
        raise ConfigError(f"the webhook secret key file {path} holds no key (`identity-gateway "
                          "secrets new-key --add` adds one)")
    return keys


def too_open(info: os.stat_result) -> bool:
    """Others may never read or write it; its group may not either, unless another account
    owns the file (a secret the orchestrator mounts, readable by the gateway's group)."""
    if info.st_mode & 0o007:
        return True
    return info.st_uid == os.geteuid() and bool(info.st_mode & 0o070)


def check_database(database: str, source: dict[str, str]) -> None:
    where = source.get("database", "database")
    if not database.strip():
        raise ConfigError(f"{where}: the database is empty; give a SQLite file or a "
                          "postgresql:// URL")
    scheme, sep, _ = database.partition("://")
    if sep and scheme.lower() not in POSTGRES_SCHEMES:
        raise ConfigError(f"{where}: unsupported database URL scheme '{scheme}://': give a "
                          "SQLite file path or a postgresql:// URL")


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity, which containers narrow)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


def per_worker(settings: Settings, workers: int, worker_dir: str | None = None,
               slot: int = 0) -> Settings:
    """The settings worker `slot` of `workers` runs with: each bound in PER_PROCESS divided
    among them, rounded down but at least 1, so that the host as a whole stays within the
    configured value (a bound set below the number of workers lets each hold one), and the
    folder of what they share (the limits' buckets, the flush calls)."""
    if workers <= 1:
        return settings
    shares = {key: max(1, value // workers) for key in PER_PROCESS
              if (value := getattr(settings, key)) is not None}
    limits = str(Path(worker_dir) / "limits") if worker_dir else None
    return msgspec.structs.replace(settings, workers=workers, limits_file=limits,
                                   worker_dir=worker_dir, worker_slot=slot, **shares)
