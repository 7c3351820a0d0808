"""The `clientkeys` command: the composition root for every process.

`gateway` and `worker` are the production processes; `dev` runs both in one
process; `dlq` looks after commands that failed on every delivery; `tokens`
keeps the static API tokens; `keys` makes, rotates and counts encryption keys;
`events tail` prints the events as they are published; `healthcheck` is the
container's probe. A bad setting ends the process with one clear line on
stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys

from api import tokens_cli
from api.tokens import TokensFileError
from common import events_tail, healthcheck
from common.logs import configure_logging
from common.settings import SettingsError, load_settings
from worker import keys_cli


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
        action.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    tokens_cli.add_parser(commands)
    keys_cli.add_parser(commands)
    events_tail.add_parser(commands)
    healthcheck.add_parser(commands)
    return parser


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

            asyncio.run(run_dlq(load_settings(), args.dlq_command, getattr(args, "ids", []),
                                getattr(args, "all", False), args.json))
        elif args.command == "dev":
            from clientkeys.devmode import run_dev

            run_dev()
        else:
            settings = load_settings()
            settings.keyring()  # both refuse to start without a usable keyring
            configure_logging(settings.log_format, settings.log_level)
            if args.command == "gateway":
                from clientkeys.bootstrap import run_gateway

                run_gateway(settings)
            else:
                from clientkeys.bootstrap import run_worker

                run_worker(settings)
    except (SettingsError, TokensFileError) as exc:
        print(f"clientkeys: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
