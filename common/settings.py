"""Settings from the environment, every name prefixed `CLIENTKEYS_`.

Each variable is declared once, in VARIABLES: its name, the Settings field whose
default it has, its kind with its bounds (common.setting_kinds) and the
processes that read it. load_settings loops over that table; the README's
Settings tables and each command's --help are checked against it.

A bad value raises SettingsError with one line that names the variable; the
entry point prints it and exits, so nobody reads a traceback to fix a typo.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path

from common.keyring import Keyring, KeyringError, SecretKeyring
from common.keyring_file import FileKeyring, read_keyring_file
from common.secret_grace import GRACE_LIMIT_S
from common.setting_kinds import (
    PREFIX,
    Choice,
    FilePath,
    Flag,
    Integer,
    KeySetUrl,
    Kind,
    Network,
    Networks,
    Number,
    SettingsError,
    Text,
)
from common.store import OPERATIONS_RETENTION_MIN_H

__all__ = [
    "PREFIX",
    "VARIABLES",
    "Network",
    "Settings",
    "SettingsError",
    "Unreachable",
    "load_settings",
    "redact_url",
]

LOG_FORMATS = ("json", "console")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
_NAMESPACE_RE = re.compile(r"^[a-z][a-z0-9_.-]{0,62}$")


class Unreachable(SettingsError):
    """A broker or database named by a setting did not answer at start-up."""

    def __init__(self, what: str, url: str, exc: BaseException) -> None:
        super().__init__(redact_url(f"cannot reach {what} at {url}: "
                                    f"{type(exc).__name__}: {str(exc)[:200]}"))


def redact_url(url: str) -> str:
    """The URL without its password, for messages."""
    return re.sub(r"(//[^:/@]+):[^@/]*@", r"\1:***@", url)


@dataclass(frozen=True)
class Settings:
    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    # The file amqp_url was read from, if any: each process's own broker user and password.
    amqp_url_file: Path | None = None
    mongodb_uri: str = "mongodb://127.0.0.1:27017/clientkeys"
    namespace: str = "clientkeys"
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    # The worker's own small HTTP port: /healthz, /readyz and /metrics (worker.health).
    worker_http_port: int = 8081
    # json: one JSON object per line (production); console: aligned text for a terminal.
    log_format: str = "json"
    log_level: str = "INFO"
    # How often a gateway refreshes the gauges that need a query (api.views.stats).
    metrics_poll_s: float = 10.0
    tokens_file: Path | None = None
    encryption_keys: str = ""
    # The keyring as a file that running processes follow (common.keyring_file).
    encryption_keys_file: Path | None = None
    # How often, at most, a process looks at that file for a change.
    keyring_check_interval_s: float = 1.0
    sync_wait_s: float = 5.0
    worker_prefetch: int = 32
    publish_timeout_s: float = 5.0
    retry_after_s: int = 5
    max_body_bytes: int = 64 * 1024
    # How long a request body may take to arrive in all (api.views.json_body); 408 after it.
    body_timeout_s: float = 15.0
    # Open GET /v1/events streams per caller (token subject) on each gateway
    # (api.views.live_events).
    event_streams_per_token: int = 5
    # Brute force (api.auth.limiter): failures allowed per window before 429.
    auth_failures_per_minute: int = 20      # per remote address
    secret_failures_per_minute: int = 10    # per client key and source
    # Reverse proxies whose X-Forwarded-For / Forwarded is believed (api.remote).
    trusted_proxies: tuple[Network, ...] = ()
    # How long audit entries are kept (a TTL index, common.store); 0 keeps them forever.
    audit_retention_days: int = 400
    # How long a finished operation is kept (a TTL index, common.store); at least as
    # long as an Idempotency-Key record, whose retry answers from the operation.
    operations_retention_h: int = 24
    # The longest grace a secret rotation may give the replaced secret (common.secret_grace).
    max_grace_s: int = 7 * 24 * 3600
    # Self-registration (api.views.registration): whether POST /oauth/register and the
    # OAuth 1.0a consumer-key requests take callers without an initial access token.
    open_registration: bool = False
    # Self-registered clients still pending this many days after they were made are
    # removed by the worker's sweep (worker.pending_sweep); 0 keeps them forever.
    pending_registration_ttl_days: int = 30
    # Requests to the self-registration endpoints per caller address per minute, per gateway.
    registrations_per_minute: int = 20
    # How often each gateway's read model is checked against MongoDB (api.verify.read_model):
    # against the clients written lately, and against every client.
    read_model_reconcile_s: float = 60.0
    read_model_full_reconcile_s: float = 3600.0
    # OAuth 1.0a checks (api.verify.oauth1_signatures): accepted clock skew either way, and
    # whether the signed URL must be https.
    oauth1_window_s: int = 300
    oauth1_require_https: bool = True
    # JWT bearer tokens of the platform's identity provider (api.auth.jwt_tokens).
    jwt_jwks_url: str | None = None
    jwt_public_key_file: Path | None = None
    jwt_hs256_secret_file: Path | None = None
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    jwt_permissions_claim: str = "permissions"
    jwt_subject_claim: str = "sub"
    jwt_leeway_s: float = 30.0
    # The longest a JWT may live (exp - iat, or exp - now without iat).
    jwt_max_lifetime_s: int = 86400
    jwks_cache_ttl_s: float = 300.0
    # At most one JWKS fetch per this many seconds, however many unknown `kid`s arrive.
    jwks_min_refresh_s: float = 30.0
    # private_key_jwt client assertions (api.verify.client_assertions): clock skew allowed
    # on exp, nbf and iat, and how far ahead exp may be.
    assertion_leeway_s: int = 30
    assertion_max_lifetime_s: int = 300
    # Whether a client's jwks_uri may resolve to a loopback, private, link-local or
    # unique-local address (api.verify.jwks_fetcher): tests and closed networks only.
    jwks_uri_allow_private: bool = False
    # An extra CA bundle (PEM) the gateway trusts for what it fetches (a client's jwks_uri).
    outbound_ca_file: Path | None = None

    @property
    def jwt_configured(self) -> bool:
        return any((self.jwt_jwks_url, self.jwt_public_key_file, self.jwt_hs256_secret_file))

    def keyring(self) -> Keyring:
        """The keyring as it is now, from the file or the variable (exactly one is set)."""
        if self.encryption_keys_file is not None:
            try:
                return read_keyring_file(self._keys_file())
            except KeyringError as exc:
                raise SettingsError(f"{PREFIX}ENCRYPTION_KEYS_FILE: {exc}") from None
        if not self.encryption_keys:
            raise SettingsError(
                f"{PREFIX}ENCRYPTION_KEYS is not set: give at least one key_id:base64url-key "
                "entry (32 random bytes), e.g. from `clientkeys keys new`, or set "
                f"{PREFIX}ENCRYPTION_KEYS_FILE"
            )
        try:
            return Keyring.parse(self.encryption_keys)
        except KeyringError as exc:
            raise SettingsError(f"{PREFIX}ENCRYPTION_KEYS: {exc}") from None

    def live_keyring(self) -> SecretKeyring:
        """The keyring a running process holds: it follows the keyring file, if there is one."""
        if self.encryption_keys_file is None:
            return self.keyring()
        try:
            return FileKeyring(self._keys_file(),
                               check_interval_s=self.keyring_check_interval_s)
        except KeyringError as exc:
            raise SettingsError(f"{PREFIX}ENCRYPTION_KEYS_FILE: {exc}") from None

    def _keys_file(self) -> Path:
        assert self.encryption_keys_file is not None
        if self.encryption_keys:
            raise SettingsError(f"set {PREFIX}ENCRYPTION_KEYS or {PREFIX}ENCRYPTION_KEYS_FILE, "
                                "not both")
        return self.encryption_keys_file

    def with_overrides(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]


class Process(StrEnum):
    """The processes and commands that read settings (`clientkeys <command>`)."""

    GATEWAY = "gateway"
    WORKER = "worker"
    DLQ = "dlq"
    KEYS = "keys"
    TOKENS = "tokens"
    EVENTS = "events"
    HEALTHCHECK = "healthcheck"


def _readers(*processes: Process) -> frozenset[Process]:
    return frozenset(processes)


_GATEWAY = _readers(Process.GATEWAY)
_SERVERS = _readers(Process.GATEWAY, Process.WORKER)
_BROKER = _readers(Process.GATEWAY, Process.WORKER, Process.DLQ, Process.EVENTS)
_DATABASE = _readers(Process.GATEWAY, Process.WORKER, Process.DLQ, Process.KEYS)


@dataclass(frozen=True)
class Variable:
    """One environment variable: its name (without the prefix), the field of Settings it
    sets (whose default is the variable's), its kind (parsing and bounds) and who reads it."""

    name: str
    field: str
    kind: Kind
    readers: frozenset[Process]

    @property
    def default(self) -> object:
        return getattr(_defaults(), self.field)

    def read(self, env: Mapping[str, str]) -> object:
        raw = env.get(PREFIX + self.name, "").strip()
        return self.kind.parse(self.name, raw) if raw else self.default


@functools.cache
def _defaults() -> Settings:
    return Settings()


def _var(name: str, kind: Kind, readers: frozenset[Process] = _GATEWAY) -> Variable:
    return Variable(name, name.lower(), kind, readers)


# Every setting, declared once. The README's Settings tables are checked against this
# (tests/unit/test_settings_table.py), and each command's --help lists its readers'.
VARIABLES: tuple[Variable, ...] = (
    _var("AMQP_URL", Text(schemes=("amqp://", "amqps://")), _BROKER),
    _var("AMQP_URL_FILE", FilePath(), _BROKER),
    _var("MONGODB_URI", Text(schemes=("mongodb://", "mongodb+srv://")), _DATABASE),
    _var("NAMESPACE", Text(_NAMESPACE_RE, "lower-case letters, digits, '_', '.' or '-' and "
                           "start with a letter"), _BROKER),
    _var("HTTP_HOST", Text(), _readers(*_SERVERS, Process.HEALTHCHECK)),
    _var("HTTP_PORT", Integer(0, 65535), _readers(Process.GATEWAY, Process.HEALTHCHECK)),
    _var("WORKER_HTTP_PORT", Integer(0, 65535),
         _readers(Process.WORKER, Process.HEALTHCHECK)),
    _var("LOG_FORMAT", Choice(LOG_FORMATS), _SERVERS),
    _var("LOG_LEVEL", Choice(LOG_LEVELS, upper=True), _SERVERS),
    _var("METRICS_POLL_S", Number(1, 3600)),
    _var("TOKENS_FILE", FilePath(), _readers(Process.GATEWAY, Process.TOKENS)),
    _var("ENCRYPTION_KEYS", Text(), _DATABASE),
    _var("ENCRYPTION_KEYS_FILE", FilePath(), _DATABASE),
    _var("SYNC_WAIT_S", Number(0, 60)),
    _var("WORKER_PREFETCH", Integer(1, 1000), _readers(Process.WORKER)),
    _var("PUBLISH_TIMEOUT_S", Number(0.1, 60), _SERVERS),
    _var("BODY_TIMEOUT_S", Number(1, 300)),
    _var("EVENT_STREAMS_PER_TOKEN", Integer(1, 500)),
    _var("AUTH_FAILURES_PER_MINUTE", Integer(1, 100_000)),
    _var("SECRET_FAILURES_PER_MINUTE", Integer(1, 100_000)),
    _var("TRUSTED_PROXIES", Networks()),
    _var("AUDIT_RETENTION_DAYS", Integer(0, 36_500)),
    # Never below the 24 h an Idempotency-Key is kept: a retry answers from its operation.
    _var("OPERATIONS_RETENTION_H", Integer(OPERATIONS_RETENTION_MIN_H, 24 * 400), _SERVERS),
    _var("MAX_GRACE_S", Integer(0, GRACE_LIMIT_S)),
    _var("OPEN_REGISTRATION", Flag()),
    _var("PENDING_REGISTRATION_TTL_DAYS", Integer(0, 3650), _readers(Process.WORKER)),
    _var("REGISTRATIONS_PER_MINUTE", Integer(1, 100_000)),
    _var("READ_MODEL_RECONCILE_S", Number(1, 3600)),
    _var("READ_MODEL_FULL_RECONCILE_S", Number(1, 86_400)),
    _var("OAUTH1_WINDOW_S", Integer(10, 3600)),
    _var("OAUTH1_REQUIRE_HTTPS", Flag()),
    _var("JWT_JWKS_URL", KeySetUrl()),
    _var("JWT_PUBLIC_KEY_FILE", FilePath()),
    _var("JWT_HS256_SECRET_FILE", FilePath()),
    _var("JWT_ISSUER", Text()),
    _var("JWT_AUDIENCE", Text()),
    _var("JWT_PERMISSIONS_CLAIM", Text()),
    _var("JWT_SUBJECT_CLAIM", Text()),
    _var("JWT_LEEWAY_S", Number(0, 300)),
    _var("JWT_MAX_LIFETIME_S", Integer(60, 366 * 86400)),
    _var("ASSERTION_LEEWAY_S", Integer(0, 300)),
    _var("ASSERTION_MAX_LIFETIME_S", Integer(10, 3600)),
    _var("JWKS_URI_ALLOW_PRIVATE", Flag()),
    _var("OUTBOUND_CA_FILE", FilePath()),
)


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if env is None else env
    values = {variable.field: variable.read(env) for variable in VARIABLES}
    values["amqp_url"] = _amqp_url(env, values)
    return Settings(**values)  # type: ignore[arg-type]


def _amqp_url(env: Mapping[str, str], values: Mapping[str, object]) -> str:
    """The broker URL, or the file holding it (a per-process secret: its password)."""
    url_file = values["amqp_url_file"]
    if url_file is None:
        return str(values["amqp_url"])
    if env.get(PREFIX + "AMQP_URL", "").strip():
        raise SettingsError(f"set {PREFIX}AMQP_URL or {PREFIX}AMQP_URL_FILE, not both")
    try:
        url = Path(str(url_file)).read_text().strip()
    except OSError as exc:
        raise SettingsError(f"{PREFIX}AMQP_URL_FILE: cannot read {url_file}: "
                            f"{exc.strerror}") from None
    if not url.startswith(("amqp://", "amqps://")):
        raise SettingsError(f"{PREFIX}AMQP_URL_FILE: {url_file} must hold one amqp:// "
                            "or amqps:// URL")
    return url
