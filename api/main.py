"""`clientkeys gateway`: run the HTTP gateway until SIGTERM or SIGINT."""

from __future__ import annotations

import logging

from api.app import create_app
from api.http_server import run_gateway_server
from common.event_loop import new_event_loop
from common.settings import Settings

log = logging.getLogger(__name__)


def run_gateway(settings: Settings) -> None:
    app = create_app(settings)
    # Stops accepting connections on SIGTERM/SIGINT, lets requests in progress
    # finish (up to a shutdown timeout), then runs the cleanup contexts.
    run_gateway_server(app, settings.http_host, settings.http_port, new_event_loop(),
                       lambda: log.info("gateway listening on http://%s:%d",
                                        settings.http_host, settings.http_port))
