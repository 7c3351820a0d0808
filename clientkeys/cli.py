"""The `clientkeys` command: the composition root for every process.

`gateway` and `worker` are the production processes; `dev` runs both in one
process; `dlq` looks after commands that failed on every delivery; `tokens`
keeps the static API tokens; `keys` makes, rotates and counts encryption keys;
`events tail` prints the events as they are published; `healthcheck` is the
container's probe. A bad setting ends the process with one clear line on
stderr and exit code 2, never a traceback; one about tokens or keys says where
dev mode keeps its own. Every subcommand's `--help` ends with the settings it
reads: the readers declared with each setting (`common.settings.VARIABLES`).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import textwrap
from collections.abc import Iterator
from typing import TYPE_CHECKING

from api.auth import tokens_cli
from api.auth.tokens import TokensFileError
from clientkeys import events_tail, healthcheck
from common.logs import configure_logging
from common.settings import PREFIX, VARIABLES, Process, SettingsError, load_settings
from worker import keys_cli

if TYPE_CHECKING:
    from worker.dead_letters import DlqResult


def settings_variables() -> tuple[str, ...]:
    """Every variable `load_settings` reads, without the prefix, in its order."""
    return tuple(variable.name for variable in VARIABLES)


# The processes whose settings each command reads; a command path not listed reads
# what its parent reads. Which process reads which setting is declared with the setting.
_PROCESSES: dict[tuple[str, ...], frozenset[Process]] = {
    ("gateway",): frozenset({Process.GATEWAY}),
    ("worker",): frozenset({Process.WORKER}),
    ("dev",): frozenset({Process.GATEWAY, Process.WORKER}),
    ("dlq",): frozenset({Process.DLQ}),
    ("tokens",): frozenset({Process.TOKENS}),
    ("keys",): frozenset({Process.KEYS}),
    ("keys", "new"): frozenset(),
    ("events",): frozenset({Process.EVENTS}),
    ("healthcheck",): frozenset({Process.HEALTHCHECK}),
}
# Read by dev mode alone, not a setting of any production process.
_DEV_ONLY = ("DEV_DIR",)


def reads(command: tuple[str, ...]) -> tuple[str, ...]:
    """The settings (without the prefix) the subcommand `command` reads."""
    for length in range(len(command), 0, -1):
        if command[:length] in _PROCESSES:
            processes = _PROCESSES[command[:length]]
            names = tuple(variable.name for variable in VARIABLES
                          if variable.readers & processes)
            return (*names, *_DEV_ONLY) if command[:1] == ("dev",) else names
    raise KeyError(f"no settings declared for {' '.join(command)!r}")


def _subcommands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
                 ) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """Every parser below `parser`, with its command path (`("tokens", "list")`)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield (*path, name), child
                yield from _subcommands(child, (*path, name))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="clientkeys",
                                     description="Manage the OAuth clients of a platform.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("gateway", help="run the HTTP gateway")
    commands.add_parser("worker", help="run a worker that applies commands")
    commands.add_parser("dev", help="run gateway and worker in one process, with dev defaults")
    dlq = commands.add_parser("dlq", help="commands that failed on every delivery")
    dlq_commands = dlq.add_subparsers(dest="dlq_command", required=True)
    listing = dlq_commands.add_parser("list", help="show the dead-lettered commands")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    for name, text in (("replay", "queue them again (after fixing the cause)"),
                       ("purge", "drop them and mark their operations failed")):
        action = dlq_commands.add_parser(name, help=text)
        action.add_argument("ids", nargs="*", metavar="COMMAND_ID")
        action.add_argument("--all", action="store_true", help="every dead-lettered command")
        action.add_argument("--json", action="store_true",
                            help="one JSON object per line for each command touched")
    tokens_cli.add_parser(commands)
    keys_cli.add_parser(commands)
    events_tail.add_parser(commands)
    healthcheck.add_parser(commands)
    for path, child in _subcommands(parser):
        names = reads(path)
        child.formatter_class = argparse.RawDescriptionHelpFormatter
        child.epilog = ("settings it reads (environment variables):\n" + textwrap.fill(
            " ".join(PREFIX + name for name in names), width=78, initial_indent="  ",
            subsequent_indent="  ", break_on_hyphens=False) if names
            else "settings it reads: none")
    return parser


# Where `clientkeys dev` keeps what an error about tokens or keys asks for.
_DEV_HINTS = {
    "TOKENS_FILE": tokens_cli.DEV_TOKENS_FILE,
    "ENCRYPTION_KEYS": "`clientkeys dev` keeps its dev key in .clientkeys/dev.json",
}


def _hint(exc: Exception) -> str:
    text = str(exc)
    if isinstance(exc, TokensFileError):
        return tokens_cli.DEV_TOKENS_FILE
    for name, hint in _DEV_HINTS.items():
        if PREFIX + name in text:
            return hint
    return ""


def show_dlq(result: DlqResult, *, as_json: bool) -> None:
    """Print what a dlq action listed or touched: one line (or JSON object) each."""
    for letter in result.letters:
        print(json.dumps(letter) if as_json else
              f"{letter['command_id']}  {letter['kind']:<17} "
              f"{letter['client_key'] or '-':<32}  {letter['reason']}")
    for command_id in result.not_replayed:
        print(f"not replayed: {command_id} is unauthenticated (no gateway signed it); purge it")
    if result.action == "list":
        if not result.letters and not as_json:
            print("the dead-letter queue is empty")
        return
    done = {"replay": "replayed", "purge": "purged"}[result.action]
    print(f"{done} {len(result.letters)} of {result.found} dead-lettered command(s)")


# What stops the long-lived processes cleanly (each handles both on its event loop).
STOP_SIGNALS = frozenset({signal.SIGTERM, signal.SIGINT})


def take_stop_signals() -> None:
    """Unblock SIGTERM and SIGINT, which a process inherits blocked from a parent that
    waits for them itself (`sigwait` needs them blocked): its handlers would never run,
    and only SIGKILL would stop it, with its commands and requests in progress."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # Readable lines for the tools; the long-lived processes switch to their settings.
    configure_logging("console")
    try:
        if args.command == "healthcheck":
            return healthcheck.run(args, load_settings())
        if args.command == "tokens":
            return tokens_cli.run(args)
        if args.command == "keys":
            return keys_cli.run(args)
        if args.command == "events":
            return events_tail.run(args)
        if args.command == "dlq":
            if args.dlq_command != "list" and not (args.ids or args.all):
                print("clientkeys: name the command ids, or use --all", file=sys.stderr)
                return 2
            import asyncio

            from worker.dead_letters import run_dlq

            show_dlq(asyncio.run(run_dlq(load_settings(), args.dlq_command,
                                         getattr(args, "ids", []), getattr(args, "all", False))),
                     as_json=args.json)
        elif args.command == "dev":
            from clientkeys.devmode import run_dev

            take_stop_signals()
            run_dev()
        else:
            settings = load_settings()
            settings.keyring()  # both refuse to start without a usable keyring
            configure_logging(settings.log_format, settings.log_level)
            take_stop_signals()
            if args.command == "gateway":
                from clientkeys.bootstrap import run_gateway

                run_gateway(settings)
            else:
                from clientkeys.bootstrap import run_worker

                run_worker(settings)
    except (SettingsError, TokensFileError) as exc:
        hint = _hint(exc)
        print(f"clientkeys: {exc}" + (f" ({hint})" if hint else ""), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
