"""One client as each gateway holds it in memory: every field an answer shows, compact.

What is held is derived from the public view's schema (`common.client_view.ClientSchema`):
each of its fields is kept in a compact form chosen by the field's kind (a date as epoch
milliseconds, a list of strings as a tuple shared by every client with the same list, an
enumerated string interned, an object as its compact JSON text), and expanded again only
to answer. A field added to that schema is therefore read from MongoDB, held, applied
from events and outcomes, and answered without a change here. Beside the public fields an
entry keeps the document's `_id` (every order's tie-breaker, and part of each list cursor)
and the *sealed* secrets, which only credential checks open and no answer ever shows.

An entry is immutable: a change makes a new one, so an index never holds a stale key.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from bson import ObjectId
from marshmallow import Schema, fields, validate

from common.client_documents import CURRENT_SECRET, PREVIOUS_SECRETS, ClientDocument
from common.client_metadata import SECRET_EXPIRY
from common.client_view import ANSWERS_ONLY, ClientSchema
from common.keyring import SealedSecret, SecretSlot

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MS: Final = timedelta(milliseconds=1)

# A sealed secret, its slot (with the key, what it was sealed for) and the end of its grace.
HeldSecret = tuple[SealedSecret, SecretSlot, datetime | None]


def epoch_ms(value: datetime) -> int:
    """An instant as MongoDB stores it: whole milliseconds (floored, as BSON does)."""
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return (aware - _EPOCH) // _MS


def from_epoch_ms(value: int) -> datetime:
    return _EPOCH + value * _MS


@functools.lru_cache(maxsize=4096)
def _shared(values: tuple[str, ...]) -> tuple[str, ...]:
    """One tuple for every client with the same list (grants, response types, URIs):
    the model holds an entry per client, so repeated values are held once."""
    return tuple(sys.intern(value) for value in values)


@dataclass(frozen=True, slots=True)
class _Codec:
    """How one public field is held (`compact`) and shown again (`expand`)."""

    compact: Callable[[Any], Any]
    expand: Callable[[Any], Any]


def _date_codec() -> _Codec:
    def compact(value: Any) -> int | None:
        if value is None:
            return None
        return epoch_ms(value if isinstance(value, datetime)
                        else datetime.fromisoformat(str(value)))

    return _Codec(compact, lambda held: None if held is None else from_epoch_ms(held))


def _nested_codec(schema: Schema) -> _Codec:
    inner = codecs_of(schema)

    def compact(value: Any) -> tuple[tuple[Any, ...], ...]:
        return tuple(_compact(item, inner) for item in value or ())

    def expand(held: tuple[tuple[Any, ...], ...]) -> list[dict[str, Any]]:
        return [_expand(item, inner) for item in held]

    return _Codec(compact, expand)


def _same(value: Any) -> Any:
    return value


@functools.lru_cache(maxsize=1024)
def _shared_object(items: tuple[tuple[str, Any], ...]) -> dict[str, Any]:
    return dict(items)


def _plain_codec() -> _Codec:
    """A value the field's schema does not shape (a stored list shown as a string, a
    small object shown through a Nested field): held once for all the clients that have
    it, as common values are (an `origin` object was 184 bytes a client, a scope list
    one more list). Shown as a copy, so no answer can change what others share."""
    def compact(value: Any) -> Any:
        if type(value) is list and all(type(item) is str for item in value):
            return _shared(tuple(value))
        if type(value) is dict and all(type(item) in (str, int, bool, type(None))
                                       for item in value.values()):
            return _shared_object(tuple(sorted(value.items())))
        return value

    def expand(held: Any) -> Any:
        if type(held) is tuple:
            return list(held)
        if type(held) is dict:
            return dict(held)
        return held

    return _Codec(compact, expand)


def _json_codec() -> _Codec:
    # An object (a private_key_jwt client's JWK Set) as its compact JSON text: one string
    # instead of a dict per key and per member, about half the memory.
    def compact(value: Any) -> str | None:
        return None if value is None else json.dumps(value, separators=(",", ":"))

    return _Codec(compact, lambda held: None if held is None else json.loads(held))


def _codec(field: fields.Field[Any]) -> _Codec:
    if isinstance(field, fields.Dict):
        return _json_codec()
    if isinstance(field, fields.DateTime):
        return _date_codec()
    if isinstance(field, fields.List) and isinstance(field.inner, fields.Nested) \
            and isinstance(field.inner.schema, Schema):
        return _nested_codec(field.inner.schema)
    if isinstance(field, fields.List) and isinstance(field.inner, fields.String):
        return _Codec(lambda value: _shared(tuple(value or ())), list)
    if isinstance(field, fields.String) and any(
            isinstance(rule, validate.OneOf) for rule in field.validators):
        # A handful of values for every client there is (type, status): one string each.
        return _Codec(lambda value: None if value is None else sys.intern(str(value)), _same)
    return _plain_codec()


def codecs_of(schema: Schema) -> tuple[tuple[str, _Codec], ...]:
    return tuple((name, _codec(field)) for name, field in schema.fields.items())


# Every public field, in the order an entry holds them; what only answers show (when a
# secret was last used) is the gateways' own, and added to an answer.
HELD: Final = codecs_of(ClientSchema(exclude=ANSWERS_ONLY))
_AT: Final = {name: i for i, (name, _codec) in enumerate(HELD)}
# What the model reads of a stored client: the public fields, `_id` and the sealed secrets.
STORED_FIELDS: Final[dict[str, int]] = {
    "_id": 1, **{name: 1 for name, _codec in HELD}, CURRENT_SECRET: 1, PREVIOUS_SECRETS: 1}
# The fields that change when the secrets do: a view that differs in them means
# the model's sealed secrets are out of date and must be read again.
_SECRET_FACTS: Final = tuple(_AT[name] for name in ("secret_rotated_at", PREVIOUS_SECRETS))


def object_id_number(value: ObjectId) -> int:
    """An `_id` as a number that orders as MongoDB orders ObjectIds (by their bytes)."""
    return int.from_bytes(value.binary, "big")


def object_id_of(number: int) -> ObjectId:
    return ObjectId(number.to_bytes(12, "big"))


@dataclass(frozen=True, slots=True, eq=False)
class ClientEntry:
    oid: int  # the document's `_id` (object_id_number)
    values: tuple[Any, ...]  # the public fields, compact, in HELD's order
    # The sealed secrets (see `secrets`); the current one alone, as most clients have
    # only it, is held bare: two tuples fewer per client (about 110 bytes).
    held_secrets: SealedSecret | tuple[HeldSecret, ...]
    name_sort: str  # the name casefolded, as stored for the by-name order

    @property
    def secrets(self) -> tuple[HeldSecret, ...]:
        """The current secret first, then earlier ones with the end of their grace."""
        if isinstance(self.held_secrets, SealedSecret):
            return ((self.held_secrets, SecretSlot.CURRENT, None),)
        return self.held_secrets

    @property
    def key(self) -> str:
        return str(self.values[_AT["key"]])

    @property
    def type(self) -> str:
        return str(self.values[_AT["type"]])

    @property
    def status(self) -> str:
        return str(self.values[_AT["status"]])

    @property
    def version(self) -> int:
        return int(self.values[_AT["version"]])

    @property
    def name(self) -> str:
        return str(self.values[_AT["name"]])

    @property
    def created_ms(self) -> int:
        return int(self.values[_AT["created_at"]])

    @property
    def grant_types(self) -> tuple[str, ...]:
        return tuple(self.values[_AT["grant_types"]])

    @property
    def response_types(self) -> tuple[str, ...]:
        return tuple(self.values[_AT["response_types"]])

    @property
    def redirect_uris(self) -> tuple[str, ...]:
        return tuple(self.values[_AT["redirect_uris"]])

    @property
    def secret_expires_ms(self) -> int | None:
        """`secret_expires_at` in epoch milliseconds, as held; None: never."""
        held = self.values[_AT[SECRET_EXPIRY]]
        return held if type(held) is int else None

    @property
    def secret_expires_at(self) -> datetime | None:
        """When the current secret stops verifying (`client_secret_expires_at`); None: never."""
        held = _present(self.values[_AT[SECRET_EXPIRY]])
        return None if held is None else from_epoch_ms(held)

    def secret_times(self, place: int) -> tuple[int | None, int | None]:
        """(issued, end of grace) of the secret at `place` in `secrets`, in epoch ms; the
        current secret has no end of grace, and a previous one replaced before issue times
        were kept has no issue time."""
        _sealed, slot, until = self.secrets[place]
        if slot is SecretSlot.CURRENT:
            issued: int | None = _present(self.values[_AT["client_secret_issued_at"]])
            return issued, None
        assert until is not None
        ends = epoch_ms(until)
        for held_ends, held_issued in _present(self.values[_AT[PREVIOUS_SECRETS]]) or ():
            if held_ends == ends:
                return _present(held_issued), ends
        return None, ends

    def document(self) -> dict[str, Any]:
        """The public fields as a stored document has them (what `public_client` takes)."""
        return _expand(self.values, HELD)

    def with_view(self, view: Mapping[str, Any]) -> ClientEntry:
        """The public facts of an event's or outcome's client view; `_id` and secrets kept."""
        values = _compact(view)
        return ClientEntry(self.oid, values, self.held_secrets,
                           _name_sort(values, self.name_sort))

    def same_secret_facts(self, view: Mapping[str, Any]) -> bool:
        """Whether `view` shows the same rotation facts, so the held secrets still hold."""
        values = _compact(view)
        return all(_fact(values[i]) == _fact(self.values[i]) for i in _SECRET_FACTS)


class _Absent:
    """A field the source did not have: left out again, as the database's answer leaves
    it out (a field added to the schema is absent from documents stored before)."""

    __slots__ = ()


_ABSENT: Final = _Absent()


def is_absent(value: Any) -> bool:
    """Whether a held value stands for a field the source did not have."""
    return value is _ABSENT


def _present(value: Any) -> Any:
    """A held value, None where the source did not have the field."""
    return None if value is _ABSENT else value


def _fact(value: Any) -> Any:
    """A rotation fact with `never` spelled one way: absent, null or no previous secrets."""
    return None if value is _ABSENT or value == () else value


def _expand(values: tuple[Any, ...], codecs: tuple[tuple[str, _Codec], ...]
            ) -> dict[str, Any]:
    return {name: codec.expand(value)
            for (name, codec), value in zip(codecs, values, strict=True)
            if value is not _ABSENT}


def _compact(source: Mapping[str, Any],
             codecs: tuple[tuple[str, _Codec], ...] | None = None) -> tuple[Any, ...]:
    values = [codec.compact(source[name]) if name in source else _ABSENT
              for name, codec in (HELD if codecs is None else codecs)]
    # Equal numbers held once: a client's dates are often one instant (created, updated
    # and status changed at its creation), 32 bytes each.
    numbers: dict[int, int] = {}
    return tuple(numbers.setdefault(value, value) if type(value) is int else value
                 for value in values)


def _name_sort(values: tuple[Any, ...], known: str | None = None) -> str:
    name = str(values[_AT["name"]])
    folded = name.casefold()
    # One string when folding changes nothing (most names): held once, not twice.
    if folded == name:
        return name
    return known if known == folded else folded


def count_secret_expiries(entries: Iterable[ClientEntry], now: datetime, horizon: datetime
                          ) -> tuple[int, int]:
    """(current secrets expiring after `now` up to `horizon`, those expired at `now`).

    The gauges ask this of every client every few seconds, while requests wait: held
    expiries are whole epoch milliseconds, so comparing them with the bounds floored
    to milliseconds decides exactly as comparing dates would, without making one
    per client (100 000 dates took over 50 ms)."""
    place, now_ms, horizon_ms = _AT[SECRET_EXPIRY], epoch_ms(now), epoch_ms(horizon)
    soon = expired = 0
    for entry in entries:
        at = entry.values[place]
        if type(at) is int:
            soon += now_ms < at <= horizon_ms
            expired += at <= now_ms
    return soon, expired


def secrets_of(document: ClientDocument) -> tuple[HeldSecret, ...]:
    held: list[HeldSecret] = []
    current = document.get(CURRENT_SECRET)
    if current:
        held.append((SealedSecret.from_document(current), SecretSlot.CURRENT, None))
    for previous in document.get(PREVIOUS_SECRETS) or ():
        held.append((SealedSecret.from_document(previous["secret"]), SecretSlot.PREVIOUS,
                     previous.get("expires_at")))
    return tuple(held)


def _held(secrets: tuple[HeldSecret, ...]) -> SealedSecret | tuple[HeldSecret, ...]:
    if len(secrets) == 1 and secrets[0][1] is SecretSlot.CURRENT:
        return secrets[0][0]
    return secrets


def entry_of(document: ClientDocument) -> ClientEntry:
    """The entry of a stored client (read with STORED_FIELDS)."""
    values = _compact(document)
    return ClientEntry(object_id_number(document["_id"]), values, _held(secrets_of(document)),
                       _name_sort(values))


def entry_of_view(view: Mapping[str, Any], stored: ClientDocument) -> ClientEntry:
    """The entry of a client from its public view and the `_id` and sealed secrets of
    its stored document (`stored`, as an outcome reply carries them)."""
    values = _compact(view)
    return ClientEntry(object_id_number(stored["_id"]), values, _held(secrets_of(stored)),
                       _name_sort(values))
