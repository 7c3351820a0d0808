"""The HTTP views: parse, check, build a command or run a query, answer.

Nothing here writes a client: commands go to the workers through `dispatch`,
reads go through `api.views.queries`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from api import keys
from api.auth.middleware import principal_of
from api.docs.request_schemas import (
    CreateClientRequest,
    ListClientsQuery,
    RotateSecretRequest,
    UpdateClientRequest,
)
from api.docs.route_docs import ID_MAX
from api.observe import request_id
from api.problems import Problem
from api.remote import caller_address
from api.views import json_body
from api.views.dispatch import dispatch
from api.views.idempotency import command_id
from api.views.operations import operation_view
from api.views.preconditions import etag_headers, expected_version
from api.views.queries import BadCursor, ClientFilter, find_client, list_clients, read_client
from common.audit import field_names
from common.client_documents import ClientDocument
from common.client_metadata import (
    CLEARABLE_FIELDS,
    METADATA_FIELDS,
    SECRET_EXPIRY,
    ClientMetadata,
    holds_secret,
    metadata_after_edit,
    stored_metadata,
)
from common.clients import (
    ClientFields,
    ClientType,
    FieldErrors,
    RuleViolation,
    check_secret_pair,
)
from common.commands import (
    ApproveClient,
    CreateClient,
    DisapproveClient,
    EndSecretGrace,
    RemoveClient,
    RotateSecret,
    UpdateClient,
)
from common.health import readiness_answer
from common.json_responses import json_response
from common.keyring import SealedSecret, command_secret_aad, generate_secret
from common.metadata_rules import SECRET_INPUTS, check_registration, secret_problems
from common.operations_store import get_operation
from common.secret_grace import DEFAULT_GRACE_S
from common.store import database_reachable

_CREATE = CreateClientRequest()
_UPDATE = UpdateClientRequest()
_ROTATE = RotateSecretRequest()
_LIST = ListClientsQuery()


def _origin(request: web.Request) -> dict[str, Any]:
    """What every command carries about the request that made it."""
    return {"id": command_id(request), "actor": principal_of(request).subject,
            "request_id": request_id(request), "remote_addr": caller_address(request),
            "issued_at": datetime.now(UTC)}


def _sealed(request: web.Request, origin: dict[str, Any],
            command: type[CreateClient | UpdateClient | RotateSecret], secret: str
            ) -> SealedSecret:
    """The secret sealed for the command that carries it: a new client has no key
    yet, so the worker seals it again for the client it stores it in."""
    return request.app[keys.KEYRING].seal(secret, command_secret_aad(origin["id"], command.kind))


async def read_json_object(request: web.Request) -> dict[str, Any]:
    body = await json_body.read_json_object(request)
    request[keys.BODY_FIELDS] = field_names(body)
    return body


def _secret_from(data: dict[str, Any], errors: FieldErrors, *, required: bool
                 ) -> tuple[str | None, str | None]:
    """(secret to store, generated secret to show once); adds to `errors`."""
    if data.get("generate_secret"):
        secret = generate_secret()
        return secret, secret
    if not required and "secret" not in data and "secret_confirmation" not in data:
        return None, None
    pair_errors = check_secret_pair(data.get("secret"), data.get("secret_confirmation"))
    if required and pair_errors.get("secret") == ["Missing data for required field."] \
            and "secret_confirmation" in pair_errors:
        pair_errors["secret"] = ["Give secret and secret_confirmation, or generate_secret."]
    errors.update(pair_errors)
    return data.get("secret"), None


def _secret_inputs(data: dict[str, Any]) -> list[str]:
    """The secret fields a request sent (`generate_secret: false` sends none)."""
    return [name for name in SECRET_INPUTS if data.get(name) not in (None, False)]


def _secret_rules(data: dict[str, Any], client_type: ClientType, metadata: ClientMetadata,
                  errors: FieldErrors, *, keeps_secret: bool) -> tuple[str | None, str | None]:
    """The secret rules for what the request leaves the client with (common.metadata_rules),
    then (secret to store, generated secret to show once) if it may have one sent."""
    sent = _secret_inputs(data)
    problems = secret_problems(client_type, metadata, secret_inputs=sent,
                               keeps_secret=keeps_secret, expiry=data.get(SECRET_EXPIRY),
                               now=datetime.now(UTC))
    errors.update(problems)
    if not sent or any(name in problems for name in sent):
        return None, None
    return _secret_from(data, errors, required=False)


def _checked(fields: ClientFields, metadata: ClientMetadata, errors: FieldErrors
             ) -> tuple[ClientFields, ClientMetadata]:
    """The canonical client; raises one RuleViolation with every field's errors."""
    checked, canonical = fields, metadata
    try:
        checked, canonical, _warnings = check_registration(fields, metadata)
    except RuleViolation as exc:
        errors.update(exc.errors)
    if errors:
        raise RuleViolation(errors)
    return checked, canonical


def _key(request: web.Request) -> str:
    return request.match_info["key"]


def _no_client(key: str) -> Problem:
    return Problem(404, f"There is no client with key {key[:100]!r}.")


async def _existing(request: web.Request) -> ClientDocument:
    """The client a write changes, as stored (its version is the one the worker checks)."""
    key = _key(request)
    # Longer than any key there is: no need to ask the database.
    document = await find_client(request.app[keys.DB], key) if len(key) <= ID_MAX else None
    if document is None:
        raise _no_client(key)
    return document


async def create_client(request: web.Request) -> web.StreamResponse:
    data = _CREATE.load(await read_json_object(request))
    errors: FieldErrors = {}
    given = ClientFields(data["type"], data["name"], data.get("redirect_uris", []),
                         data.get("grant_types", []), data.get("response_types", []))
    metadata = ClientMetadata(**{name: data[name] for name in METADATA_FIELDS
                                 if data.get(name) is not None})
    secret, generated = _secret_rules(
        data, given.type, metadata.with_defaults(given.type, given.grant_types), errors,
        keeps_secret=False)
    fields, canonical = _checked(given, metadata, errors)
    origin = _origin(request)
    command = CreateClient(
        **origin, type=fields.type, name=fields.name,
        secret=_sealed(request, origin, CreateClient, secret) if secret is not None else None,
        redirect_uris=fields.redirect_uris, grant_types=fields.grant_types,
        response_types=fields.response_types,
        # What was given, canonical (the worker fills in the defaults: the audit names these).
        **{name: getattr(canonical, name) for name in METADATA_FIELDS if name in data},
        client_secret_expires_at=data.get(SECRET_EXPIRY))
    return await dispatch(request, command, generated_secret=generated)


async def update_client(request: web.Request) -> web.StreamResponse:
    data = _UPDATE.load(await read_json_object(request))
    current = await _existing(request)
    errors: FieldErrors = {}
    edited = ClientFields.of(current).edited(data)
    cleared = [name for name in CLEARABLE_FIELDS if name in data and data[name] is None]
    metadata = metadata_after_edit(current, data, cleared, edited.grant_types)
    secret, generated = _secret_rules(
        data, edited.type, metadata.with_defaults(edited.type, edited.grant_types), errors,
        keeps_secret=holds_secret(stored_metadata(current)))
    _checked(edited, metadata, errors)
    origin = _origin(request)
    command = UpdateClient(
        **origin, client_key=current["key"],
        expected_version=expected_version(request, current["version"]),
        name=data.get("name"),
        secret=_sealed(request, origin, UpdateClient, secret) if secret is not None else None,
        redirect_uris=data.get("redirect_uris"), grant_types=data.get("grant_types"),
        response_types=data.get("response_types"),
        **{name: data.get(name) for name in (*METADATA_FIELDS, SECRET_EXPIRY)},
        cleared=cleared or None)
    return await dispatch(request, command, generated_secret=generated)


def _grace_seconds(request: web.Request, data: dict[str, Any], errors: FieldErrors) -> int:
    """The grace asked for, or the default; within the service's bound (adds to `errors`)."""
    longest = request.app[keys.SETTINGS].max_grace_s
    grace: int = data.get("grace_seconds", min(DEFAULT_GRACE_S, longest))
    if grace > longest:
        errors["grace_seconds"] = [
            f"Must be at most {longest} seconds, the longest grace this service allows."]
    return grace


async def rotate_secret(request: web.Request) -> web.StreamResponse:
    data = _ROTATE.load(await read_json_object(request))
    current = await _existing(request)
    errors: FieldErrors = {}
    metadata = stored_metadata(current)
    errors.update(secret_problems(ClientType(current["type"]), metadata,
                                  secret_inputs=_secret_inputs(data) or ["secret"],
                                  keeps_secret=True, expiry=data.get(SECRET_EXPIRY),
                                  now=datetime.now(UTC)))
    secret, generated = (None, None) if errors else _secret_from(data, errors, required=True)
    grace_seconds = _grace_seconds(request, data, errors)
    if errors:
        raise RuleViolation(errors)
    assert secret is not None
    origin = _origin(request)
    command = RotateSecret(
        **origin, client_key=current["key"],
        expected_version=expected_version(request, current["version"]),
        secret=_sealed(request, origin, RotateSecret, secret), grace_seconds=grace_seconds,
        client_secret_expires_at=data.get(SECRET_EXPIRY))
    return await dispatch(request, command, generated_secret=generated)


async def _status_change_target(request: web.Request) -> tuple[str, int | None]:
    """The key a change of status applies to, and the version its If-Match pins (if any).

    From the read model when it holds the client, so the request costs the database
    nothing before its command is queued; as stored otherwise (a client this gateway
    has not heard of yet, or the model still loading). The model may be a moment
    behind another gateway's change: that matters only to an If-Match, so a tag the
    model's version does not match is checked against the database before a 412.
    Without If-Match the worker applies the change to the version it finds, and
    answers 404 for a client removed meanwhile.
    """
    key = _key(request)
    model = request.app[keys.READ_MODEL]
    entry = model.get(key) if model.loaded.is_set() else None
    if entry is not None:
        try:
            return entry.key, expected_version(request, entry.version)
        except Problem:
            pass  # maybe only behind: the stored version decides
    current = await _existing(request)
    return current["key"], expected_version(request, current["version"])


async def _simple_command(request: web.Request,
                          kind: type[ApproveClient | DisapproveClient | RemoveClient
                                     | EndSecretGrace]
                          ) -> web.StreamResponse:
    key, expected = await _status_change_target(request)
    command = kind(**_origin(request), client_key=key, expected_version=expected)
    return await dispatch(request, command)


async def approve_client(request: web.Request) -> web.StreamResponse:
    return await _simple_command(request, ApproveClient)


async def disapprove_client(request: web.Request) -> web.StreamResponse:
    return await _simple_command(request, DisapproveClient)


async def remove_client(request: web.Request) -> web.StreamResponse:
    return await _simple_command(request, RemoveClient)


async def end_secret_grace(request: web.Request) -> web.StreamResponse:
    return await _simple_command(request, EndSecretGrace)


async def get_client(request: web.Request) -> web.StreamResponse:
    key = _key(request)
    client = await read_client(request.app[keys.DB], request.app[keys.READ_MODEL], key) \
        if len(key) <= ID_MAX else None
    if client is None:
        raise _no_client(key)
    return json_response(request.app[keys.SECRET_USAGE].shown_in(client),
                         headers=etag_headers(client))


async def list_clients_view(request: web.Request) -> web.StreamResponse:
    query = _LIST.load(dict(request.query))
    where = ClientFilter(
        type=query["type"].value if "type" in query else None,
        status=query["status"].value if "status" in query else None,
        q=query.get("q"))
    try:
        page = await list_clients(request.app[keys.DB], request.app[keys.READ_MODEL], where,
                                  sort=query["sort"], limit=query["limit"],
                                  cursor=query.get("cursor"))
    except BadCursor as exc:
        raise Problem(400, str(exc), errors={"cursor": [str(exc)]}) from None
    usage = request.app[keys.SECRET_USAGE]
    return json_response({"items": [usage.shown_in(item) for item in page.items],
                          "next_cursor": page.next_cursor, "total": page.total})


async def get_operation_view(request: web.Request) -> web.StreamResponse:
    operation_id = request.match_info["id"]
    operation = await get_operation(request.app[keys.DB], operation_id) \
        if len(operation_id) <= ID_MAX else None
    if operation is None:
        raise Problem(404, "There is no such operation (finished ones are kept 30 days).")
    return json_response(operation_view(operation))


async def readyz(request: web.Request) -> web.StreamResponse:
    """Ready when commands can be published, reads served, credentials checked and
    outcomes and events received."""
    checks = {"broker": request.app[keys.BUS].is_ready(),
              "database": await database_reachable(request.app[keys.DB]),
              "read_model": request.app[keys.READ_MODEL].loaded.is_set(),
              "consumers": request.app[keys.BUS].consumers_attached()}
    return readiness_answer(checks)
