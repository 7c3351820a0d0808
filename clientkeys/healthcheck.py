"""`clientkeys healthcheck [--worker]`: the container's HEALTHCHECK, without curl in the image.

Asks this machine's gateway (or, with --worker, the worker's health port) for
`/healthz`: exit 0 when it answers 200, else one line on stderr and exit 1.
"""

from __future__ import annotations

import argparse
import sys
import urllib.error
import urllib.request

from common.settings import Settings

_ANY_ADDRESS = {"", "0.0.0.0", "::"}


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("healthcheck", help="exit 0 if this machine's process is alive")
    parser.add_argument("--worker", action="store_true",
                        help="check the worker's health port instead of the gateway's")
    parser.add_argument("--timeout", type=float, default=2.0, help="seconds (default 2)")


def health_url(settings: Settings, *, worker: bool) -> str:
    host = "127.0.0.1" if settings.http_host in _ANY_ADDRESS else settings.http_host
    if ":" in host:
        host = f"[{host}]"
    port = settings.worker_http_port if worker else settings.http_port
    return f"http://{host}:{port}/healthz"


def run(args: argparse.Namespace, settings: Settings) -> int:
    url = health_url(settings, worker=args.worker)
    try:
        with urllib.request.urlopen(url, timeout=args.timeout) as answer:
            if answer.status == 200:
                return 0
            problem = f"answered {answer.status}"
    except urllib.error.HTTPError as exc:
        problem = f"answered {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        problem = f"did not answer ({getattr(exc, 'reason', exc)})"
    print(f"clientkeys healthcheck: {url} {problem}", file=sys.stderr)
    return 1
