"""The `clientkeys` command explains itself: every subcommand's `--help` names its options
and the settings it reads, `tokens` takes `--file` on either side of its action and lists
in columns, and an error about tokens or keys says where dev mode keeps its own."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from api.auth.principals import CLIENTS_READ, CONFIGURE_SERVER
from api.auth.token_admin import create_token
from clientkeys import cli
from common.settings import PREFIX, SettingsError, load_settings

SUBCOMMANDS = list(cli._subcommands(cli._parser()))
NOT_SETTINGS = {"DEV_DIR"}  # dev mode's folder, read by dev mode alone


def unnamed_in_help(parser: argparse.ArgumentParser, help_text: str,
                    settings: tuple[str, ...]) -> list[str]:
    """The options, arguments and settings of `parser` that its help does not name."""
    wanted = [PREFIX + name for name in settings]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            wanted += list(action.choices)
        elif action.option_strings:
            wanted += action.option_strings
        else:
            wanted.append(str(action.metavar or action.dest))
    return [name for name in wanted if name not in help_text.split()
            and f"[{name}" not in help_text and f"{name}]" not in help_text]


def test_every_subcommand_is_walked() -> None:
    paths = {path for path, _ in SUBCOMMANDS}
    assert {("gateway",), ("worker",), ("dev",), ("dlq", "list"), ("tokens", "list"),
            ("keys", "rotate"), ("events", "tail"), ("healthcheck",)} <= paths


@pytest.mark.parametrize(("path", "parser"), SUBCOMMANDS,
                         ids=[" ".join(path) for path, _ in SUBCOMMANDS])
def test_help_names_every_option_and_setting(path: tuple[str, ...],
                                             parser: argparse.ArgumentParser,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main([*path, "--help"])
    assert exited.value.code == 0
    shown = capsys.readouterr().out
    assert "settings it reads" in shown
    assert unnamed_in_help(parser, shown, cli.reads(path)) == []


def test_the_help_check_finds_what_is_left_out() -> None:
    parser = argparse.ArgumentParser(prog="x", epilog=f"{PREFIX}SHOWN")
    parser.add_argument("--shown", help="listed")
    parser.add_argument("--hidden", help=argparse.SUPPRESS)
    parser.add_argument("thing", metavar="THING")
    assert unnamed_in_help(parser, parser.format_help(), ("SHOWN", "UNSHOWN")) == [
        f"{PREFIX}UNSHOWN", "--hidden"]


@pytest.mark.parametrize(("path", "parser"), SUBCOMMANDS,
                         ids=[" ".join(path) for path, _ in SUBCOMMANDS])
def test_each_listed_setting_exists(path: tuple[str, ...],
                                    parser: argparse.ArgumentParser) -> None:
    assert set(cli.reads(path)) - NOT_SETTINGS <= set(cli.settings_variables())


class AskedNames(dict[str, str]):
    """An empty environment that notes every variable asked of it."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[str] = []

    def get(self, name: str, default: object = None) -> object:  # type: ignore[override]
        self.asked.append(name.removeprefix(PREFIX))
        return default


def test_the_settings_are_what_load_settings_reads() -> None:
    environment = AskedNames()
    load_settings(environment)
    assert tuple(dict.fromkeys(environment.asked)) == cli.settings_variables()
    assert {"AMQP_URL", "MONGODB_URI", "TOKENS_FILE", "JWT_ISSUER"} <= set(environment.asked)
    # Each is really read: a bad value of a numeric one is refused by name.
    for name in ("HTTP_PORT", "WORKER_PREFETCH", "SYNC_WAIT_S"):
        with pytest.raises(SettingsError, match=PREFIX + name):
            load_settings({PREFIX + name: "not-a-number"})


def test_the_gateway_reads_every_setting_but_the_workers_own() -> None:
    gateway = set(cli.reads(("gateway",)))
    assert gateway | {"WORKER_HTTP_PORT", "WORKER_PREFETCH", "PENDING_REGISTRATION_TTL_DAYS"} \
        == set(cli.settings_variables())
    assert set(cli.reads(("dev",))) == set(cli.settings_variables()) | {"DEV_DIR"}


def test_tokens_file_after_the_action(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PREFIX + "TOKENS_FILE", raising=False)
    path = tmp_path / "tokens.json"
    assert cli.main(["tokens", "create", "--subject", "ops", "--permission", CLIENTS_READ,
                     "--file", str(path)]) == 0
    assert cli.main(["tokens", "list", "--file", str(path), "--json"]) == 0
    assert '"subject": "ops"' in capsys.readouterr().out
    assert cli.main(["tokens", "--file", str(path), "list"]) == 0  # before it, as ever
    assert "ops" in capsys.readouterr().out


def test_tokens_list_prints_a_header_and_aligned_columns(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "tokens.json"
    create_token(path, "ops-dashboard", [CLIENTS_READ])
    create_token(path, "a", [CONFIGURE_SERVER, CLIENTS_READ])
    capsys.readouterr()
    assert cli.main(["tokens", "list", "--file", str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["ID", "SUBJECT", "PERMISSIONS", "CREATED"]
    assert len(lines) == 3
    for column in ("SUBJECT", "PERMISSIONS", "CREATED"):
        start = lines[0].index(column)
        assert all(line[start - 2:start] == "  " and line[start] != " " for line in lines)


def test_an_empty_tokens_file_says_so(tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "tokens.json"
    path.write_text("[]")
    assert cli.main(["tokens", "list", "--file", str(path)]) == 0
    assert capsys.readouterr().out == f"no tokens in {path}\n"


@pytest.mark.parametrize(("argv", "env", "named"), [
    (["tokens", "list"], {}, ".clientkeys/tokens.json"),
    (["tokens", "list", "--file", "{tmp}/broken.json"], {}, ".clientkeys/tokens.json"),
    (["worker"], {}, ".clientkeys/dev.json"),
    (["keys", "status"], {"ENCRYPTION_KEYS": "not-a-keyring"}, ".clientkeys/dev.json"),
])
def test_errors_about_tokens_or_keys_name_dev_modes_files(
        argv: list[str], env: dict[str, str], named: str, tmp_path: Path,
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TOKENS_FILE", "ENCRYPTION_KEYS", "ENCRYPTION_KEYS_FILE"):
        monkeypatch.delenv(PREFIX + name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(PREFIX + name, value)
    (tmp_path / "broken.json").write_text("[{")
    assert cli.main([arg.replace("{tmp}", str(tmp_path)) for arg in argv]) == 2
    error = capsys.readouterr().err
    assert error.startswith("clientkeys: ") and named in error


def test_other_errors_get_no_dev_hint(capsys: pytest.CaptureFixture[str],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PREFIX + "NAMESPACE", "Not Valid")
    assert cli.main(["dlq", "list"]) == 2
    error = capsys.readouterr().err
    assert f"{PREFIX}NAMESPACE" in error and ".clientkeys" not in error
