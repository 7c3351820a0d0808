"""Settings from the environment (common.settings)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from common.keyring import SecretSlot, client_secret_aad, new_key_entry
from common.settings import Settings, SettingsError, load_settings
from common.store import IDEMPOTENCY_TTL_S, OPERATIONS_RETENTION_MIN_H


def test_defaults() -> None:
    settings = load_settings({})
    assert settings.amqp_url == "amqp://guest:guest@127.0.0.1:5672/"
    assert settings.mongodb_uri == "mongodb://127.0.0.1:27017/clientkeys"
    assert settings.namespace == "clientkeys"
    assert settings.http_port == 8080
    assert settings.sync_wait_s == 5.0
    assert settings.http_host == "127.0.0.1"
    assert settings.tokens_file is None
    assert settings.encryption_keys == ""
    assert settings == Settings()


def test_empty_values_fall_back_to_defaults() -> None:
    names = ("AMQP_URL", "MONGODB_URI", "NAMESPACE", "HTTP_PORT", "SYNC_WAIT_S", "TOKENS_FILE")
    assert load_settings({f"CLIENTKEYS_{name}": "" for name in names}) == Settings()


def test_values_are_read() -> None:
    settings = load_settings({
        "CLIENTKEYS_AMQP_URL": "amqps://u:p@broker:5671/vhost",
        "CLIENTKEYS_MONGODB_URI": "mongodb+srv://db.example.com/ck",
        "CLIENTKEYS_NAMESPACE": "ck-test.1",
        "CLIENTKEYS_HTTP_PORT": "9000",
        "CLIENTKEYS_SYNC_WAIT_S": "0.5",
        "CLIENTKEYS_TOKENS_FILE": "/etc/ck/tokens",
        "UNRELATED": "ignored",
    })
    assert settings.amqp_url == "amqps://u:p@broker:5671/vhost"
    assert settings.mongodb_uri == "mongodb+srv://db.example.com/ck"
    assert settings.namespace == "ck-test.1"
    assert settings.http_port == 9000
    assert settings.sync_wait_s == 0.5
    assert settings.tokens_file == Path("/etc/ck/tokens")


def test_reads_os_environ_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("CLIENTKEYS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("CLIENTKEYS_HTTP_PORT", "8181")
    assert load_settings().http_port == 8181


@pytest.mark.parametrize(("name", "value"), [
    ("SYNC_WAIT_S", "abc"),
    ("SYNC_WAIT_S", "-1"),
    ("SYNC_WAIT_S", "61"),
    ("SYNC_WAIT_S", "nan"),
    ("HTTP_PORT", "70000"),
    ("HTTP_PORT", "-1"),
    ("HTTP_PORT", "80.5"),
    ("HTTP_PORT", "http"),
    ("NAMESPACE", "Bad Name"),
    ("NAMESPACE", "1abc"),
    ("MONGODB_URI", "http://x"),
    ("AMQP_URL", "http://x"),
    ("WORKER_PREFETCH", "0"),
    ("PUBLISH_TIMEOUT_S", "0"),
    ("MAX_GRACE_S", "-1"),
    ("MAX_GRACE_S", "2592001"),
    ("MAX_GRACE_S", "1.5"),
    ("WORKER_HTTP_PORT", "65536"),
    ("LOG_FORMAT", "xml"),
    ("LOG_LEVEL", "chatty"),
    ("METRICS_POLL_S", "0.5"),
])
def test_bad_value_names_the_variable(name: str, value: str) -> None:
    variable = f"CLIENTKEYS_{name}"
    with pytest.raises(SettingsError, match=re.escape(variable)) as info:
        load_settings({variable: value})
    assert "\n" not in str(info.value)


def test_the_longest_secret_grace_defaults_to_a_week_and_may_be_zero() -> None:
    assert load_settings({}).max_grace_s == 7 * 24 * 3600
    assert load_settings({"CLIENTKEYS_MAX_GRACE_S": "0"}).max_grace_s == 0
    assert load_settings({"CLIENTKEYS_MAX_GRACE_S": "2592000"}).max_grace_s == 30 * 24 * 3600


def test_keyring_without_keys_names_the_variable() -> None:
    with pytest.raises(SettingsError, match="CLIENTKEYS_ENCRYPTION_KEYS"):
        Settings().keyring()
    with pytest.raises(SettingsError, match="CLIENTKEYS_ENCRYPTION_KEYS"):
        load_settings({}).keyring()


def test_bad_keyring_names_the_variable_but_not_the_key() -> None:
    material = new_key_entry("k1").partition(":")[2][:30]
    with pytest.raises(SettingsError, match="CLIENTKEYS_ENCRYPTION_KEYS") as info:
        Settings(encryption_keys=f"k1:{material}").keyring()
    assert material not in str(info.value)


def test_keyring_from_settings() -> None:
    entry = new_key_entry("k1")
    keyring = load_settings({"CLIENTKEYS_ENCRYPTION_KEYS": f" {entry} "}).keyring()
    assert keyring.current_key_id == "k1"
    aad = client_secret_aad("client-a", SecretSlot.CURRENT)
    assert keyring.open(keyring.seal("a-very-long-secret", aad), aad) == "a-very-long-secret"


def test_operations_settings() -> None:
    defaults = load_settings({})
    assert (defaults.worker_http_port, defaults.log_format, defaults.log_level,
            defaults.metrics_poll_s) == (8081, "json", "INFO", 10.0)
    chosen = load_settings({"CLIENTKEYS_WORKER_HTTP_PORT": "0",
                            "CLIENTKEYS_LOG_FORMAT": "Console",
                            "CLIENTKEYS_LOG_LEVEL": "debug",
                            "CLIENTKEYS_METRICS_POLL_S": "2.5"})
    assert (chosen.worker_http_port, chosen.log_format, chosen.log_level,
            chosen.metrics_poll_s) == (0, "console", "DEBUG", 2.5)


def test_trusted_proxies_are_comma_separated_networks_of_either_family() -> None:
    assert load_settings({}).trusted_proxies == ()
    proxies = load_settings({"CLIENTKEYS_TRUSTED_PROXIES":
                             " 10.0.0.0/8, 192.0.2.7 ,2001:db8::/32,, ::1"}).trusted_proxies
    assert [str(network) for network in proxies] == [
        "10.0.0.0/8", "192.0.2.7/32", "2001:db8::/32", "::1/128"]


@pytest.mark.parametrize("value", ["10.0.0.0/33", "proxy.example.com", "10.0.0.1,nope",
                                   "2001:db8::/129", "10.0.0.0/8;10.1.0.0/16"])
def test_a_bad_trusted_proxy_names_the_variable(value: str) -> None:
    with pytest.raises(SettingsError, match="CLIENTKEYS_TRUSTED_PROXIES") as info:
        load_settings({"CLIENTKEYS_TRUSTED_PROXIES": value})
    assert "\n" not in str(info.value)


def test_audit_retention_defaults_to_400_days_and_0_keeps_forever() -> None:
    assert load_settings({}).audit_retention_days == 400
    assert load_settings({"CLIENTKEYS_AUDIT_RETENTION_DAYS": "0"}).audit_retention_days == 0
    assert load_settings({"CLIENTKEYS_AUDIT_RETENTION_DAYS": "30"}).audit_retention_days == 30
    for bad in ("-1", "a year", "1.5", "36501"):
        with pytest.raises(SettingsError, match="CLIENTKEYS_AUDIT_RETENTION_DAYS"):
            load_settings({"CLIENTKEYS_AUDIT_RETENTION_DAYS": bad})


@pytest.mark.parametrize(("value", "hours"), [(None, 24), ("24", 24), ("72", 72), ("9600", 9600)])
def test_operations_retention_defaults_to_a_day(value: str | None, hours: int) -> None:
    env = {} if value is None else {"CLIENTKEYS_OPERATIONS_RETENTION_H": value}
    assert load_settings(env).operations_retention_h == hours


@pytest.mark.parametrize("bad", ["23", "0", "-1", "1.5", "a day", "9601"])
def test_operations_are_kept_at_least_as_long_as_idempotency_keys(bad: str) -> None:
    # A retry with an Idempotency-Key (kept 24 h) answers from the operation.
    assert OPERATIONS_RETENTION_MIN_H * 3600 == IDEMPOTENCY_TTL_S
    with pytest.raises(SettingsError, match="CLIENTKEYS_OPERATIONS_RETENTION_H"):
        load_settings({"CLIENTKEYS_OPERATIONS_RETENTION_H": bad})


def test_jwt_maximum_lifetime_defaults_to_a_day() -> None:
    assert load_settings({}).jwt_max_lifetime_s == 86400
    assert load_settings({"CLIENTKEYS_JWT_MAX_LIFETIME_S": "600"}).jwt_max_lifetime_s == 600
    for bad in ("0", "59", "soon"):
        with pytest.raises(SettingsError, match="CLIENTKEYS_JWT_MAX_LIFETIME_S"):
            load_settings({"CLIENTKEYS_JWT_MAX_LIFETIME_S": bad})
