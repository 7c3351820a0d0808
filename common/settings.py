"""Settings from the environment, every name prefixed `CLIENTKEYS_`.

A bad value raises SettingsError with one line that names the variable; the
entry point prints it and exits, so nobody reads a traceback to fix a typo.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit

from common.keyring import Keyring, KeyringError, SecretKeyring
from common.keyring_file import FileKeyring, read_keyring_file
from common.secret_grace import GRACE_LIMIT_S
from common.store import OPERATIONS_RETENTION_MIN_H

PREFIX = "CLIENTKEYS_"
LOG_FORMATS = ("json", "console")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
_NAMESPACE_RE = re.compile(r"^[a-z][a-z0-9_.-]{0,62}$")
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class SettingsError(ValueError):
    """One clear line about one setting."""


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
    # How often each gateway's read model is checked against MongoDB (api.verify.read_model).
    read_model_reconcile_s: float = 60.0
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


def _number(env: Mapping[str, str], name: str, default: float, *, minimum: float,
            maximum: float, integer: bool) -> float:
    raw = env.get(PREFIX + name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw) if integer else float(raw)
    except ValueError:
        kind = "an integer" if integer else "a number"
        raise SettingsError(f"{PREFIX}{name} must be {kind}, not {raw!r}") from None
    if not minimum <= value <= maximum:
        raise SettingsError(f"{PREFIX}{name} must be between {minimum:g} and {maximum:g}")
    return value


def _networks(env: Mapping[str, str], name: str) -> tuple[Network, ...]:
    raw = env.get(PREFIX + name, "")
    networks = []
    for part in (p.strip() for p in raw.split(",")):
        if not part:
            continue
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise SettingsError(f"{PREFIX}{name} must be comma-separated IP addresses or "
                                f"CIDR networks, not {part[:60]!r}") from None
    return tuple(networks)


def _jwks_url(url: str) -> str | None:
    if not url:
        return None
    try:
        parts = urlsplit(url)
        scheme, host = parts.scheme, parts.hostname
    except ValueError:
        scheme, host = "", None
    loopback = host in ("localhost", "127.0.0.1", "::1")
    if not host or not (scheme == "https" or (scheme == "http" and loopback)):
        raise SettingsError(f"{PREFIX}JWT_JWKS_URL must be an https:// URL "
                            "(http:// only on a loopback host)")
    return url


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if env is None else env
    defaults = Settings()

    def text(name: str, default: str) -> str:
        value = env.get(PREFIX + name, "").strip()
        return value or default

    namespace = text("NAMESPACE", defaults.namespace)
    if not _NAMESPACE_RE.fullmatch(namespace):
        raise SettingsError(
            f"{PREFIX}NAMESPACE must be lower-case letters, digits, '_', '.' or '-' "
            f"and start with a letter, not {namespace!r}"
        )
    mongodb_uri = text("MONGODB_URI", defaults.mongodb_uri)
    if not mongodb_uri.startswith(("mongodb://", "mongodb+srv://")):
        raise SettingsError(f"{PREFIX}MONGODB_URI must start with mongodb:// or mongodb+srv://")
    amqp_url = _amqp_url(text("AMQP_URL", ""), text("AMQP_URL_FILE", ""), defaults.amqp_url)
    tokens = text("TOKENS_FILE", "")
    keys_file = text("ENCRYPTION_KEYS_FILE", "")
    return Settings(
        amqp_url=amqp_url,
        amqp_url_file=_path(text("AMQP_URL_FILE", "")),
        mongodb_uri=mongodb_uri,
        namespace=namespace,
        http_host=text("HTTP_HOST", defaults.http_host),
        http_port=int(_number(env, "HTTP_PORT", defaults.http_port, minimum=0, maximum=65535,
                              integer=True)),
        worker_http_port=int(_number(env, "WORKER_HTTP_PORT", defaults.worker_http_port,
                                     minimum=0, maximum=65535, integer=True)),
        log_format=_choice(env, "LOG_FORMAT", defaults.log_format, LOG_FORMATS),
        log_level=_choice(env, "LOG_LEVEL", defaults.log_level, LOG_LEVELS, upper=True),
        metrics_poll_s=_number(env, "METRICS_POLL_S", defaults.metrics_poll_s, minimum=1,
                               maximum=3600, integer=False),
        tokens_file=Path(tokens) if tokens else None,
        encryption_keys=text("ENCRYPTION_KEYS", ""),
        encryption_keys_file=Path(keys_file) if keys_file else None,
        sync_wait_s=_number(env, "SYNC_WAIT_S", defaults.sync_wait_s, minimum=0, maximum=60,
                            integer=False),
        worker_prefetch=int(_number(env, "WORKER_PREFETCH", defaults.worker_prefetch,
                                    minimum=1, maximum=1000, integer=True)),
        publish_timeout_s=_number(env, "PUBLISH_TIMEOUT_S", defaults.publish_timeout_s,
                                  minimum=0.1, maximum=60, integer=False),
        body_timeout_s=_number(env, "BODY_TIMEOUT_S", defaults.body_timeout_s, minimum=1,
                               maximum=300, integer=False),
        event_streams_per_token=int(_number(
            env, "EVENT_STREAMS_PER_TOKEN", defaults.event_streams_per_token, minimum=1,
            maximum=500, integer=True)),
        auth_failures_per_minute=int(_number(
            env, "AUTH_FAILURES_PER_MINUTE", defaults.auth_failures_per_minute, minimum=1,
            maximum=100_000, integer=True)),
        secret_failures_per_minute=int(_number(
            env, "SECRET_FAILURES_PER_MINUTE", defaults.secret_failures_per_minute, minimum=1,
            maximum=100_000, integer=True)),
        trusted_proxies=_networks(env, "TRUSTED_PROXIES"),
        audit_retention_days=int(_number(
            env, "AUDIT_RETENTION_DAYS", defaults.audit_retention_days, minimum=0,
            maximum=36_500, integer=True)),
        operations_retention_h=int(_number(
            env, "OPERATIONS_RETENTION_H", defaults.operations_retention_h,
            minimum=OPERATIONS_RETENTION_MIN_H, maximum=24 * 400, integer=True)),
        max_grace_s=int(_number(env, "MAX_GRACE_S", defaults.max_grace_s, minimum=0,
                                maximum=GRACE_LIMIT_S, integer=True)),
        read_model_reconcile_s=_number(
            env, "READ_MODEL_RECONCILE_S", defaults.read_model_reconcile_s, minimum=1,
            maximum=3600, integer=False),
        oauth1_window_s=int(_number(env, "OAUTH1_WINDOW_S", defaults.oauth1_window_s,
                                    minimum=10, maximum=3600, integer=True)),
        oauth1_require_https=_flag(env, "OAUTH1_REQUIRE_HTTPS", defaults.oauth1_require_https),
        jwt_jwks_url=_jwks_url(text("JWT_JWKS_URL", "")),
        jwt_public_key_file=_path(text("JWT_PUBLIC_KEY_FILE", "")),
        jwt_hs256_secret_file=_path(text("JWT_HS256_SECRET_FILE", "")),
        jwt_issuer=text("JWT_ISSUER", "") or None,
        jwt_audience=text("JWT_AUDIENCE", "") or None,
        jwt_permissions_claim=text("JWT_PERMISSIONS_CLAIM", defaults.jwt_permissions_claim),
        jwt_subject_claim=text("JWT_SUBJECT_CLAIM", defaults.jwt_subject_claim),
        jwt_leeway_s=_number(env, "JWT_LEEWAY_S", defaults.jwt_leeway_s, minimum=0,
                             maximum=300, integer=False),
        jwt_max_lifetime_s=int(_number(env, "JWT_MAX_LIFETIME_S", defaults.jwt_max_lifetime_s,
                                       minimum=60, maximum=366 * 86400, integer=True)),
    )


def _choice(env: Mapping[str, str], name: str, default: str, allowed: tuple[str, ...], *,
            upper: bool = False) -> str:
    raw = env.get(PREFIX + name, "").strip()
    value = (raw.upper() if upper else raw.lower()) if raw else default
    if value not in allowed:
        raise SettingsError(f"{PREFIX}{name} must be one of {', '.join(allowed)}, not {raw!r}")
    return value


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(PREFIX + name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{PREFIX}{name} must be true or false, not {raw!r}")


def _amqp_url(url: str, url_file: str, default: str) -> str:
    """The broker URL, or the file holding it (a per-process secret: its password)."""
    if url and url_file:
        raise SettingsError(f"set {PREFIX}AMQP_URL or {PREFIX}AMQP_URL_FILE, not both")
    if url_file:
        try:
            url = Path(url_file).read_text().strip()
        except OSError as exc:
            raise SettingsError(f"{PREFIX}AMQP_URL_FILE: cannot read {url_file}: "
                                f"{exc.strerror}") from None
        if not url.startswith(("amqp://", "amqps://")):
            raise SettingsError(f"{PREFIX}AMQP_URL_FILE: {url_file} must hold one amqp:// "
                                "or amqps:// URL")
        return url
    url = url or default
    if not url.startswith(("amqp://", "amqps://")):
        raise SettingsError(f"{PREFIX}AMQP_URL must start with amqp:// or amqps://")
    return url


def _path(value: str) -> Path | None:
    return Path(value) if value else None
