"""Reading the audit trail: `GET /v1/audit` and `GET /v1/clients/{key}/history`.

Newest first, paged by a keyset cursor on (`at`, `_id`), each filter served by
an index of `common.store.AUDIT_INDEXES`. There is no route that changes or
deletes an entry.
"""

from __future__ import annotations

import binascii
from datetime import datetime
from typing import Any, cast

from aiohttp import web
from marshmallow import Schema, fields
from pymongo.asynchronous.database import AsyncDatabase

from api import keys
from api.docs.request_schemas import AuditQuery, HistoryQuery
from api.problems import Problem
from api.views.queries import BadCursor, client_ever_existed, pack_cursor, unpack_cursor
from common.audit_store import AuditDocument, AuditFilter, newest_entries
from common.json_responses import json_response
from common.store import Document

_AUDIT = AuditQuery()
_HISTORY = HistoryQuery()
_FILTERS = ("actor", "action", "client_key")


class AuditEntrySchema(Schema):
    """One entry as the API shows it (see common.audit.AuditEntry)."""

    id = fields.String(required=True, attribute="_id")
    at = fields.AwareDateTime(required=True)
    actor = fields.String(required=True, allow_none=True)
    action = fields.String(required=True)
    client_key = fields.String(required=True, allow_none=True)
    outcome = fields.String(required=True, metadata={
        "enum": ["applied", "rejected", "refused", "failed"]})
    fields_ = fields.List(fields.String(), required=True, data_key="fields",
                          attribute="fields",
                          metadata={"description": "names of the fields the action touched"})
    operation_id = fields.String(allow_none=True)
    status = fields.Integer(allow_none=True, metadata={
        "description": "the HTTP status, for actions the gateway settled itself"})
    reason = fields.String(allow_none=True)
    request_id = fields.String(allow_none=True)
    remote_addr = fields.String(allow_none=True)


class AuditPageSchema(Schema):
    items = fields.List(fields.Nested(AuditEntrySchema), required=True)
    next_cursor = fields.String(required=True, allow_none=True)


_ENTRY = AuditEntrySchema()


def entry_view(document: AuditDocument) -> dict[str, Any]:
    view: dict[str, Any] = _ENTRY.dump(document)
    return view


def _after_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = unpack_cursor(cursor)
        at, last_id = datetime.fromisoformat(raw["at"]), raw["id"]
        if not isinstance(last_id, str):
            raise TypeError
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise BadCursor("The cursor is not valid.") from None
    return at, last_id


async def _page(db: AsyncDatabase[Document], query: dict[str, Any]) -> dict[str, Any]:
    where = cast(AuditFilter, {name: query[name] for name in _FILTERS if name in query})
    after = None
    if "cursor" in query:
        try:
            after = _after_cursor(query["cursor"])
        except BadCursor as exc:
            raise Problem(400, str(exc), errors={"cursor": [str(exc)]}) from None
    limit = query["limit"]
    found = await newest_entries(db, where, since=query.get("since"),
                                 until=query.get("until"), after=after, limit=limit + 1)
    more = len(found) > limit
    found = found[:limit]
    last = found[-1] if more else None
    return {"items": [entry_view(d) for d in found],
            "next_cursor": pack_cursor({"at": last["at"].isoformat(), "id": last["_id"]})
            if last else None}


async def audit_view(request: web.Request) -> web.StreamResponse:
    query = _AUDIT.load(dict(request.query))
    return json_response(await _page(request.app[keys.DB], query))


async def history_view(request: web.Request) -> web.StreamResponse:
    key = request.match_info["key"]
    query = _HISTORY.load(dict(request.query))
    db = request.app[keys.DB]
    page = await _page(db, {**query, "client_key": key})
    if not page["items"] and "cursor" not in query \
            and not await client_ever_existed(db, key):
        raise Problem(404, f"There is no client with key {key[:100]!r} and no history of one.")
    return json_response(page)
