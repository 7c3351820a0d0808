"""A held client's public view, made from its held values at the cost of a few lookups.

Answering one client from the read model was `public_client(entry.document())`: expand
every held value into a stored document, work out the metadata's defaults, then dump the
schema. Under `python -m bench.reads` that was most of what a GET of one client cost the
gateway (py-spy), and a page of the list pays it fifty times. Holding each answer ready
would double the model's memory, so it is still made on every read, only more cheaply:

- what `public_client` derives from the client's type, grant types, metadata and origin
  (the defaults, the scope's text) is the same for every client that holds the same
  values, which most share (the model holds those values once for all of them): it is
  worked out by `public_client` itself, once per distinct set, and kept;
- every other field is turned from its held form (a date in epoch milliseconds, a list
  as a shared tuple) into its JSON form directly.

The rules stay `public_client`'s: `tests/unit/test_client_answers.py` holds this view to
`public_client(entry.document())`, field by field and in order, over a table of clients.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable
from datetime import datetime
from typing import Any, Final

from marshmallow import fields

from api.verify.client_entries import HELD, ClientEntry, epoch_ms, from_epoch_ms, is_absent
from common.client_metadata import METADATA_FIELDS, SECRET_EXPIRY, stored_metadata
from common.client_view import ANSWERS_ONLY, ClientSchema, public_client

_SCHEMA: Final = ClientSchema(exclude=ANSWERS_ONLY)
_ORIGIN, _ROTATED, _PREVIOUS = "origin", "secret_rotated_at", "previous_secrets"
_ISSUED = "client_secret_issued_at"
# What public_client derives from these fields alone: the metadata with its defaults, and
# the origin (what a client stored before it was kept shows).
_SHARED_FROM: Final = ("type", "grant_types", *METADATA_FIELDS, _ORIGIN)
_DERIVED: Final = frozenset((*METADATA_FIELDS, _ORIGIN))
_AT: Final = {name: place for place, (name, _codec) in enumerate(HELD)}
# The shared fields of an entry's values, in one C call; the origin last.
_SHARED_OF: Final = operator.itemgetter(*(_AT[name] for name in _SHARED_FROM))
_ISSUED_FROM: Final = tuple(_AT[name] for name in ("client_secret_issued_at",
                                                     "secret_rotated_at", "created_at"))


def _iso(held: int) -> str:
    return from_epoch_ms(held).isoformat()


class _Dates:
    """A view's dates as text, each instant formatted once: a client's dates are often
    one instant (created, updated, status changed and its secret issued at its creation)."""

    __slots__ = ("_shown",)

    def __init__(self) -> None:
        self._shown: dict[int, str] = {}

    def __call__(self, held: int) -> str:
        shown = self._shown.get(held)
        if shown is None:
            shown = self._shown[held] = _iso(held)
        return shown


def _held_list(held: Any) -> Any:
    return list(held) if type(held) is tuple else held


def _same(held: Any) -> Any:
    return held


def _converter(field: fields.Field[Any]) -> Callable[[Any], Any]:
    """A held non-null value's JSON form, for a field public_client shows as stored."""
    if isinstance(field, fields.DateTime):
        return _iso
    if isinstance(field, fields.List):
        return _held_list
    if isinstance(field, fields.Integer):
        return int
    return _same


_STEPS: Final = tuple((name, _AT[name], _converter(field))
                      for name, field in _SCHEMA.dump_fields.items())


def _hashable(held: Any) -> Any:
    # The model holds a small object (the origin) as one dict shared by every client
    # that has it.
    return tuple(sorted(held.items())) if type(held) is dict else held


@functools.lru_cache(maxsize=4096)
def _derived(shared: tuple[Any, ...]) -> tuple[dict[str, Any], bool]:
    """(the metadata fields and origin as public_client shows them, whether the client
    keeps a secret) for one set of held type, grant types, metadata and origin."""
    document = {name: HELD[_AT[name]][1].expand(dict(held) if type(held) is tuple
                                                and name == _ORIGIN else held)
                for name, held in zip(_SHARED_FROM, shared, strict=True)
                if not is_absent(held)}
    shown = public_client(document)
    method = stored_metadata(document).auth_method
    return {name: shown[name] for name in _DERIVED}, method is None or method.uses_secret


def _fresh(value: Any) -> Any:
    """A kept value as an answer's own, so that no caller changes another's."""
    if type(value) is list:
        return [_fresh(item) for item in value] if value and type(value[0]) is not str \
            else list(value)
    if type(value) is dict:
        return {name: _fresh(item) for name, item in value.items()}
    return value


# How each field is shown, decided once per field rather than on every answer.
_COPY, _DATE, _LIST, _NUMBER, _KEPT, _PREVIOUS_SECRETS, _SECRET_ISSUED, _SECRET_EXPIRES, \
    _ROTATION = range(9)
_CONVERTED: Final = {_iso: _DATE, _held_list: _LIST, int: _NUMBER, _same: _COPY}
_PLAN: Final = tuple(
    (name, place, _KEPT if name in _DERIVED else _PREVIOUS_SECRETS if name == _PREVIOUS
     else _SECRET_ISSUED if name == _ISSUED else _SECRET_EXPIRES if name == SECRET_EXPIRY
     else _ROTATION if name == _ROTATED else _CONVERTED[convert])
    for name, place, convert in _STEPS)


def public_view(entry: ClientEntry, now: datetime) -> dict[str, Any]:
    """`public_client(entry.document())` at `now` (which previous secrets still hold)."""
    values = entry.values
    shared = _SHARED_OF(values)
    shared = (*shared[:-1], _hashable(shared[-1]))
    try:
        derived, keeps_secret = _derived(shared)
    except TypeError:  # a value that cannot be a key (an origin holding a list): not kept
        derived, keeps_secret = _derived.__wrapped__(shared)
    iso = _Dates()
    shown: dict[str, Any] = {}
    for name, place, how in _PLAN:
        held = values[place]
        if how == _KEPT:
            shown[name] = _fresh(derived[name])
        elif how == _SECRET_ISSUED:
            shown[name] = _issued(values, iso) if keeps_secret else None
        elif how == _SECRET_EXPIRES:
            shown[name] = iso(held) if keeps_secret and type(held) is int else None
        elif how == _PREVIOUS_SECRETS:
            shown[name] = _previous(held, epoch_ms(now), iso)
        elif is_absent(held):
            if how == _ROTATION:
                shown[name] = None
        elif held is None or how == _COPY:
            shown[name] = held
        elif how in (_DATE, _ROTATION):
            shown[name] = iso(held)
        elif how == _LIST:
            shown[name] = _held_list(held)
        else:
            shown[name] = int(held)
    return shown


def _previous(held: Any, now_ms: int, iso: _Dates) -> list[dict[str, Any]]:
    """The previous secrets still valid at `now_ms`, as public_client shows them."""
    if is_absent(held) or held is None:
        return []
    return [{"expires_at": iso(ends),
             "issued_at": None if is_absent(issued) or issued is None else iso(issued)}
            for ends, issued in held if ends > now_ms]


def _issued(values: tuple[Any, ...], iso: _Dates) -> str | None:
    """When the current secret was set, as common.secret_grace.secret_issued_at tells."""
    for place in _ISSUED_FROM:
        held = values[place]
        if not is_absent(held) and held is not None:
            return iso(held)
    return None
