"""The settings that bound what one caller can hold: event streams and slow request bodies."""

from __future__ import annotations

import pytest

from common.settings import SettingsError, load_settings


def test_event_streams_per_token_defaults_to_5() -> None:
    assert load_settings({}).event_streams_per_token == 5
    settings = load_settings({"CLIENTKEYS_EVENT_STREAMS_PER_TOKEN": "12"})
    assert settings.event_streams_per_token == 12


@pytest.mark.parametrize("bad", ["0", "-1", "2.5", "many", "501"])
def test_a_bad_stream_cap_names_the_variable(bad: str) -> None:
    with pytest.raises(SettingsError, match="CLIENTKEYS_EVENT_STREAMS_PER_TOKEN"):
        load_settings({"CLIENTKEYS_EVENT_STREAMS_PER_TOKEN": bad})


def test_body_timeout_defaults_to_15_seconds() -> None:
    assert load_settings({}).body_timeout_s == 15.0
    assert load_settings({"CLIENTKEYS_BODY_TIMEOUT_S": "2.5"}).body_timeout_s == 2.5


@pytest.mark.parametrize("bad", ["0", "0.5", "301", "slow", "nan"])
def test_a_bad_body_timeout_names_the_variable(bad: str) -> None:
    with pytest.raises(SettingsError, match="CLIENTKEYS_BODY_TIMEOUT_S"):
        load_settings({"CLIENTKEYS_BODY_TIMEOUT_S": bad})
