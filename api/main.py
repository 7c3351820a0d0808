"""`clientkeys gateway`: run the HTTP gateway until SIGTERM or SIGINT."""

from __future__ import annotations

import logging

from aiohttp import web

from api.app import create_app
from common.event_loop import new_event_loop
from common.settings import Settings

log = logging.getLogger(__name__)


def run_gateway(settings: Settings) -> None:
    app = create_app(settings)
    # run_app stops accepting connections on SIGTERM/SIGINT, lets requests in
    # progress finish (up to shutdown_timeout), then runs the cleanup contexts.
    web.run_app(app, host=settings.http_host, port=settings.http_port, shutdown_timeout=15,
                print=lambda _: log.info("gateway listening on http://%s:%d",
                                         settings.http_host, settings.http_port),
                access_log=None, loop=new_event_loop())
