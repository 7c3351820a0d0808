"""`GET /asyncapi.json`: the AsyncAPI document of the events and commands.

Built by `api.docs.asyncapi` for the gateway's own namespace, so the exchange and
queue names in it are the ones this deployment uses; built once, then served as is.
"""

from __future__ import annotations

from aiohttp import web

from api import keys
from api.docs.asyncapi import document_body
from api.docs.route_docs import Answer
from common.media_types import JSON_TYPE

DOCUMENT_ANSWER = Answer(200, "The AsyncAPI 3.0 document of the events this service "
                         "publishes and the commands it consumes.", media_type=JSON_TYPE)


async def serve_document(request: web.Request) -> web.StreamResponse:
    body = document_body(request.app[keys.SETTINGS].namespace)
    return web.Response(body=body, content_type=JSON_TYPE)
