"""GET|PUT|DELETE /oauth/register/{client_id}: RFC 7592 client configuration.

Each takes the client's registration access token (api.registration.client_access).
A PUT replaces the metadata with what it sends (what it leaves out goes back to its
default or empty), by the rules of a registration, and is an `update_client`
command like an administrator's edit, with two additions the worker applies
(worker.registration_changes): a new registration access token, answered once,
and, for an approved client it widened, the way back to pending. A DELETE is a
`remove_client` command, which drops the token with the client. The actor of
both is `registration:<token id>` of the token the client was registered with.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from api.auth.tokens import token_digest
from api.docs.registration_schemas import RegistrationUpdateRequest
from api.observe import request_id
from api.problems import Problem
from api.registration import access
from api.registration.client_access import opened_client
from api.registration.oauth_answers import OAuthError, invalid_metadata, oauth_json
from api.registration.register import checked_client, new_access_token, read_metadata
from api.registration.rfc7591 import registered_client
from api.remote import caller_address
from api.views.dispatch import dispatch
from api.views.idempotency import command_id
from api.views.operations import operation_view
from common.client_documents import ClientDocument
from common.client_metadata import KEY_FIELDS, METADATA_FIELDS, URI_FIELDS
from common.client_origin import registration_actor, stored_origin
from common.client_view import public_client
from common.commands import RemoveClient, UpdateClient
from common.operations_store import OperationDocument
from common.outcomes import OperationStatus, Outcome

_UPDATE = RegistrationUpdateRequest()


def _command_origin(request: web.Request, client: ClientDocument) -> dict[str, Any]:
    return {"id": command_id(request),
            "actor": registration_actor(stored_origin(client).get("token_id")),
            "request_id": request_id(request), "remote_addr": caller_address(request),
            "issued_at": datetime.now(UTC), "client_key": client["key"],
            "expected_version": client["version"]}


async def _opened(request: web.Request) -> ClientDocument:
    await access.within_rate(request)
    return await opened_client(request)


async def read_registration(request: web.Request) -> web.StreamResponse:
    try:
        client = await _opened(request)
    except OAuthError as exc:
        return exc.response()
    return oauth_json(registered_client(request, public_client(client)))


def _refused(outcome: Outcome) -> web.Response:
    error = outcome.error
    if error is not None and error.code.value == "stale":
        return OAuthError(409, "invalid_client_metadata",
                          "The client changed meanwhile; read it and send it again.").response()
    return invalid_metadata(error.fields if error and error.fields else
                            {"client": [error.message if error else "Refused."]}).response()


def _queued(operation: OperationDocument, extra: dict[str, Any]) -> web.Response:
    response = oauth_json({"operation": operation_view(operation), **extra}, 202)
    response.headers["Location"] = f"/v1/operations/{operation['_id']}"
    return response


async def _send(request: web.Request, command: UpdateClient | RemoveClient,
                succeeded: Any, extra: dict[str, Any]) -> web.Response:
    def answer(kind: str, outcome: Outcome, generated: str | None) -> web.Response:
        if outcome.status is not OperationStatus.SUCCEEDED:
            return _refused(outcome)
        response: web.Response = succeeded(outcome)
        return response

    try:
        return await dispatch(request, command, answer=answer,
                              accepted=lambda operation, _: _queued(operation, extra))
    except Problem as exc:
        raise OAuthError(exc.status, "temporarily_unavailable", exc.detail or "",
                         headers=exc.headers) from None


async def update_registration(request: web.Request) -> web.StreamResponse:
    try:
        client = await _opened(request)
        data = await read_metadata(request, _UPDATE)
        if data["client_id"] != client["key"]:
            raise invalid_metadata({"client_id": ["Must be the client_id of the address."]})
        origin = stored_origin(client)
        grant = await access.grant_of(request, origin.get("token_id"), origin.get("label"))
        fields, metadata = checked_client(data, grant)
        metadata = metadata.with_defaults(fields.type, fields.grant_types)
        if fields.type.value != client["type"]:
            raise invalid_metadata({"type": [
                f"The client is {client['type']}: its scope and response types cannot make it "
                f"{fields.type.value}."]})
        token = new_access_token()
        command = UpdateClient(
            **_command_origin(request, client), name=fields.name,
            redirect_uris=fields.redirect_uris, grant_types=fields.grant_types,
            response_types=fields.response_types,
            **{name: getattr(metadata, name) for name in METADATA_FIELDS},
            # A replacement: every clearable field it does not give is cleared.
            cleared=[name for name in (*URI_FIELDS, *KEY_FIELDS)
                     if getattr(metadata, name) is None] or None,
            registration_access_sha256=token_digest(token), pending_if_widened=True)
        return await _send(request, command, lambda outcome: oauth_json(registered_client(
            request, outcome.client, registration_access_token=token)),
            {"registration_access_token": token})
    except OAuthError as exc:
        return exc.response()


async def delete_registration(request: web.Request) -> web.StreamResponse:
    try:
        client = await _opened(request)
        command = RemoveClient(**_command_origin(request, client))
        return await _send(request, command,
                           lambda outcome: web.Response(status=204, headers={
                               "Cache-Control": "no-store"}), {})
    except OAuthError as exc:
        return exc.response()

