"""CLIENTKEYS_AMQP_URL_FILE: each process's broker URL (its own user's password) from a file."""

from __future__ import annotations

from pathlib import Path

import pytest

from common.settings import SettingsError, load_settings


def test_the_url_is_read_from_the_file(tmp_path: Path) -> None:
    url_file = tmp_path / "url"
    url_file.write_text("amqp://clientkeys-worker:s3cret@rabbitmq:5672/\n")
    settings = load_settings({"CLIENTKEYS_AMQP_URL_FILE": str(url_file)})
    assert settings.amqp_url == "amqp://clientkeys-worker:s3cret@rabbitmq:5672/"
    assert settings.amqp_url_file == url_file


@pytest.mark.parametrize(("content", "extra", "message"), [
    (None, {}, "cannot read"),
    ("https://user:s3cret@host/", {}, "must hold one amqp://"),
    ("amqp://user:s3cret@host/", {"CLIENTKEYS_AMQP_URL": "amqp://guest:guest@h/"},
     "not both"),
])
def test_a_file_that_cannot_serve_is_refused_without_showing_it(
        tmp_path: Path, content: str | None, extra: dict[str, str], message: str) -> None:
    url_file = tmp_path / "url"
    if content is not None:
        url_file.write_text(content)
    with pytest.raises(SettingsError, match=message) as refused:
        load_settings({"CLIENTKEYS_AMQP_URL_FILE": str(url_file), **extra})
    assert "s3cret" not in str(refused.value)
