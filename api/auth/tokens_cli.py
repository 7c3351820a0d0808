"""`clientkeys tokens create|list|revoke`: the static API tokens from the shell."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from api.auth.principals import PERMISSIONS
from api.auth.token_admin import TokenEntry, create_token, list_tokens, revoke_tokens
from common.settings import PREFIX

FILE_HELP = f"the tokens file (default: ${PREFIX}TOKENS_FILE)"
# Where `clientkeys dev` keeps its tokens file, for errors that ask for one.
DEV_TOKENS_FILE = "`clientkeys dev` keeps its own in .clientkeys/tokens.json"


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    tokens = commands.add_parser("tokens", help="static API tokens")
    tokens.add_argument("--file", type=Path, default=None, help=FILE_HELP)
    actions = tokens.add_subparsers(dest="tokens_command", required=True)
    create = actions.add_parser("create", help="make a token; it is printed once")
    create.add_argument("--subject", required=True, help="who uses it, e.g. ops-dashboard")
    create.add_argument("--permission", action="append", required=True, choices=PERMISSIONS,
                        dest="permissions", help="repeat for several")
    listing = actions.add_parser("list", help="the tokens, by id (never the token)")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    revoke = actions.add_parser("revoke", help="remove tokens; gateways stop honouring them "
                                "within a request")
    revoke.add_argument("ids", nargs="*", metavar="ID")
    revoke.add_argument("--subject", help="every token of this subject")
    for action in (create, listing, revoke):
        # `tokens list --file F` as well as `tokens --file F list`; SUPPRESS keeps
        # the value given before the action when none is given after it.
        action.add_argument("--file", type=Path, default=argparse.SUPPRESS, help=FILE_HELP)


def _tokens_file(given: Path | None) -> Path | None:
    if given is not None:
        return given
    configured = os.environ.get(PREFIX + "TOKENS_FILE", "").strip()
    return Path(configured) if configured else None


def _line(entry: TokenEntry) -> str:
    return (f"{entry.id}  {entry.subject}  {','.join(entry.permissions)}  "
            f"{entry.created_at or '-'}")


def table(entries: list[TokenEntry]) -> list[str]:
    """The tokens as a header and aligned columns, for a person at a terminal."""
    rows = [("ID", "SUBJECT", "PERMISSIONS", "CREATED")]
    rows += [(e.id, e.subject, ",".join(e.permissions), e.created_at or "-") for e in entries]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    return ["  ".join([*(cell.ljust(width) for cell, width in zip(row, widths, strict=False)),
                       row[3]]) for row in rows]


def run(args: argparse.Namespace) -> int:
    """Raises TokensFileError for a file or argument that cannot be used."""
    path = _tokens_file(args.file)
    if path is None:
        print(f"clientkeys: give --file or set {PREFIX}TOKENS_FILE ({DEV_TOKENS_FILE})",
              file=sys.stderr)
        return 2
    if args.tokens_command == "create":
        token, entry = create_token(path, args.subject, args.permissions)
        print(token)
        print(f"token {entry.id} for {entry.subject} ({', '.join(entry.permissions)}) added "
              f"to {path}; it is shown only this once", file=sys.stderr)
    elif args.tokens_command == "list":
        entries = list_tokens(path)
        if args.json:
            for entry in entries:
                print(json.dumps(entry.__dict__))
        elif entries:
            print("\n".join(table(entries)))
        else:
            print(f"no tokens in {path}")
    else:
        if not args.ids and not args.subject:
            print("clientkeys: name the token ids, or give --subject", file=sys.stderr)
            return 2
        removed = revoke_tokens(path, ids=args.ids, subject=args.subject)
        for entry in removed:
            print(f"revoked {_line(entry)}")
        if not removed:
            print("clientkeys: no token matched", file=sys.stderr)
            return 1
    return 0
