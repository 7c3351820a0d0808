"""The read model's entries: every public field held compactly and shown as stored."""

from __future__ import annotations

import re
import string
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from bson import ObjectId
from marshmallow import Schema, fields, validate

from api.verify import name_search
from api.verify.client_entries import (
    HELD,
    STORED_FIELDS,
    codecs_of,
    count_secret_expiries,
    entry_of,
    from_epoch_ms,
    object_id_number,
    object_id_of,
)
from api.verify.name_search import FoldedNames, contains, fold
from common.client_documents import ClientDocument
from common.client_view import ANSWERS_ONLY, ClientSchema, public_client
from common.keyring import Keyring, SecretSlot, client_secret_aad, new_key_entry
from common.store import now

KEYRING = Keyring.parse(new_key_entry("k1"))
AT = datetime(2026, 12, 1, 9, 30, 15, 123000, tzinfo=UTC)


def stored(**extra: Any) -> ClientDocument:
    document: dict[str, Any] = {
        "_id": ObjectId(), "key": "k-1", "type": "oidc", "name": "Straße Portal",
        "name_sort": "strasse portal", "status": "approved",
        "redirect_uris": ["https://a.example.com/cb"], "grant_types": ["authorization_code"],
        "response_types": ["code"], "created_at": AT, "updated_at": AT + timedelta(seconds=1),
        "status_changed_at": AT, "version": 3,
        "secret": KEYRING.seal("s", client_secret_aad("k-1", SecretSlot.CURRENT)).to_document(),
        **extra}
    return document  # type: ignore[return-value]


def test_the_model_holds_every_field_of_the_public_view() -> None:
    """All but what the gateways add to answers themselves (when a secret was last used)."""
    held = ClientSchema(exclude=ANSWERS_ONLY)
    assert [name for name, _codec in HELD] == list(held.fields)
    assert set(ClientSchema().fields) - set(held.fields) == {"client_secret_last_used_at"}
    assert set(held.fields) | {"_id", "secret", "previous_secrets"} == set(STORED_FIELDS)


@pytest.mark.parametrize("extra", [
    {},
    {"secret_rotated_at": AT, "previous_secrets": [
        {"secret": KEYRING.seal("p", client_secret_aad("k-1", SecretSlot.PREVIOUS))
         .to_document(), "expires_at": now() + timedelta(days=1)},
        {"secret": KEYRING.seal("q", client_secret_aad("k-1", SecretSlot.PREVIOUS))
         .to_document(), "expires_at": AT}]},
])
def test_an_entry_answers_as_its_stored_document(extra: dict[str, Any]) -> None:
    document = stored(**extra)
    entry = entry_of(document)
    assert public_client(entry.document()) == public_client(document)
    assert entry.name_sort == "strasse portal" and entry.key == "k-1"
    assert len(entry.secrets) == 1 + len(extra.get("previous_secrets", []))
    assert entry.secrets[0][1] is SecretSlot.CURRENT


def test_a_view_replaces_the_public_fields_and_keeps_id_and_secrets() -> None:
    entry = entry_of(stored())
    view = public_client({**stored(), "name": "Renamed", "version": 4, "status": "pending"})
    changed = entry.with_view(view)
    assert (changed.name, changed.version, changed.status) == ("Renamed", 4, "pending")
    assert changed.oid == entry.oid and changed.secrets == entry.secrets
    assert changed.same_secret_facts(view)
    assert not changed.same_secret_facts({**view, "secret_rotated_at": AT.isoformat()})


@pytest.mark.parametrize("scope", [["email", "openid"], ["openid"], ["a:b", "openid", "x/y"]])
def test_an_entry_from_a_view_answers_as_one_from_the_document(scope: list[str]) -> None:
    """An event's view holds the scope as a string, a document as its tokens: both answer
    the same, and so does an entry changed by a view twice."""
    document = stored(scope=scope, token_endpoint_auth_method="client_secret_post")
    entry = entry_of(document)
    view = public_client(document)
    assert view["scope"] == " ".join(scope)
    once = entry.with_view(view)
    assert public_client(once.document()) == view
    assert public_client(once.with_view(public_client(once.document())).document()) == view


def test_shared_values_are_held_once() -> None:
    one, other = entry_of(stored()), entry_of(stored(key="k-2"))
    grants = next(i for i, (name, _c) in enumerate(HELD) if name == "grant_types")
    assert one.values[grants] is other.values[grants]
    assert one.type is other.type and one.status is other.status
    created, changed = (i for i, (name, _c) in enumerate(HELD)
                        if name in ("created_at", "status_changed_at"))
    assert one.values[created] is one.values[changed]


def test_origins_and_scopes_are_held_once_and_shown_as_copies() -> None:
    origin = {"kind": "registration", "token_id": "0123456789ab", "label": "partners"}
    one, other = (entry_of(stored(key=key, scope=["openid", "profile"], origin=dict(origin)))
                  for key in ("k-1", "k-2"))
    at = {name: i for i, (name, _c) in enumerate(HELD)}
    for name in ("origin", "scope"):
        assert one.values[at[name]] is other.values[at[name]], name
    shown = one.document()
    assert shown["origin"] == origin and shown["scope"] == ["openid", "profile"]
    shown["origin"]["label"] = "changed by one answer"
    shown["scope"].append("changed")
    assert other.document()["origin"] == origin
    assert other.document()["scope"] == ["openid", "profile"]


def test_ids_and_instants_survive_their_compact_forms() -> None:
    oid = ObjectId()
    assert object_id_of(object_id_number(oid)) == oid
    assert object_id_number(ObjectId(b"\x00" * 11 + b"\x01")) \
        < object_id_number(ObjectId(b"\x00" * 10 + b"\x01\x00"))
    assert from_epoch_ms(entry_of(stored()).created_ms) == AT


class FutureFields(Schema):
    """Fields of kinds the public view may grow (RFC 7591 metadata)."""

    token_endpoint_auth_method = fields.String(validate=validate.OneOf(["none", "basic"]))
    require_pkce = fields.Boolean()
    contacts = fields.List(fields.String())
    client_secret_expires_at = fields.AwareDateTime(allow_none=True)
    logo_uri = fields.String(allow_none=True)
    default_max_age = fields.Integer()


def test_a_new_field_of_any_kind_is_held_and_shown_again() -> None:
    codecs = codecs_of(FutureFields())
    given = {"token_endpoint_auth_method": "basic", "require_pkce": True,
             "contacts": ["ops@example.com"], "client_secret_expires_at": AT,
             "logo_uri": None, "default_max_age": 600}
    held = {name: codec.compact(given[name]) for name, codec in codecs}
    assert held["client_secret_expires_at"] == (AT - datetime(1970, 1, 1, tzinfo=UTC)) \
        // timedelta(milliseconds=1)
    shown = {name: codec.expand(held[name]) for name, codec in codecs}
    assert FutureFields().dump(shown) == FutureFields().dump(given)
    # From an event's JSON view too: dates arrive as text.
    as_json = FutureFields().dump(given)
    assert {name: codec.compact(as_json[name]) for name, codec in codecs} == held


@pytest.mark.parametrize("often", [False, True])
@pytest.mark.parametrize(("names", "q", "count"), [
    (["alpha", "Alpha two", "beta"], "ALPHA", 2),
    (["alpha alpha", "beta", "alphalpha"], "alpha", 2),  # twice in a name counts once
    (["alpha", "beta"], "a", 2),
    (["a.b", "axb"], "a.b", 1),  # a plain string, not a pattern
    (["Straße"], "STRASSE", 0),  # case-insensitive, not case-folded: as the database
    (["Straße"], "ß", 1),
    (["first", "second"], "t\ns", 0),  # never across two names
    ([], "a", 0),
])
def test_name_search_counts_each_matching_name_once(
        names: list[str], q: str, count: int, often: bool,
        monkeypatch: pytest.MonkeyPatch) -> None:
    if often:  # as if q occurred often: every name is tested
        monkeypatch.setattr(name_search, "_FEW", 0)
    entries = [entry_of(stored(key=f"k-{i}", name=name)) for i, name in enumerate(names)]
    matching = FoldedNames().matching(q, entries)
    assert len(matching) == count
    assert all(contains(q).search(entry.name) for entry in matching)


def test_folding_pairs_each_character_with_the_ascii_letters_it_matches_in_any_case() -> None:
    """Why an ASCII search may test folded names: exactly as Python's regular expressions."""
    letters = re.compile("[a-z]", re.IGNORECASE)
    for point in range(sys.maxunicode + 1):
        char = chr(point)
        matched = next((x for x in string.ascii_lowercase
                        if re.fullmatch(x, char, re.IGNORECASE)), None) \
            if letters.fullmatch(char) else None
        folded = fold(char)
        if matched is not None:
            assert folded == matched, hex(point)
        else:
            assert not any(c in string.ascii_letters for c in folded), hex(point)


@pytest.mark.parametrize(("name", "q"), [
    ("KELVIN \u212a", "k"), ("\u017fun", "SUN"), ("\u0130stanbul", "istanbul"),
    ("D\u0131\u015f", "di"), ("Caf\u00e9", "CAF\u00c9"), ("\u03a9mega", "\u03c9"),
])
def test_a_search_finds_what_the_database_expression_finds(name: str, q: str) -> None:
    entries = [entry_of(stored(name=name))]
    assert len(FoldedNames().matching(q, entries)) == 1 and contains(q).search(name)


def test_a_field_a_stored_client_lacks_stays_out_of_its_answer() -> None:
    """As for a field added to the public view after the client was stored."""
    document = stored()
    del document["status_changed_at"]
    answer = public_client(entry_of(document).document())
    assert answer == public_client(document) and "status_changed_at" not in answer


def test_never_rotated_reads_the_same_from_a_document_and_from_a_view() -> None:
    """An outcome's view of a client never rotated needs no read of its secrets."""
    entry = entry_of(stored())  # no secret_rotated_at, no previous_secrets stored
    assert entry.same_secret_facts(public_client({**stored(), "version": 4}))


def test_an_entry_of_a_client_stored_before_expiry_and_issue_times_has_neither() -> None:
    entry = entry_of(stored(previous_secrets=[
        {"secret": KEYRING.seal("p", client_secret_aad("k-1", SecretSlot.PREVIOUS))
         .to_document(), "expires_at": AT + timedelta(days=1)}]))
    assert entry.secret_expires_at is None
    assert entry.secret_times(0) == (None, None)
    assert entry.secret_times(1) == (None, int((AT + timedelta(days=1)).timestamp() * 1000))


def test_secret_expiries_are_counted_as_the_dates_compare() -> None:
    """Held as epoch milliseconds, compared with bounds that are not whole milliseconds."""
    expires = [AT, AT + timedelta(days=3), AT + timedelta(days=14), None]
    entries = [entry_of(stored(key=f"k-{n}", client_secret_expires_at=at))
               for n, at in enumerate(expires)]
    entries.append(entry_of(stored(key="k-absent")))  # stored before expiries were kept

    def by_dates(moment: datetime, horizon: datetime) -> tuple[int, int]:
        held = [e.secret_expires_at for e in entries if e.secret_expires_at is not None]
        return (sum(moment < at <= horizon for at in held), sum(at <= moment for at in held))

    for moment in (AT - timedelta(microseconds=1), AT, AT + timedelta(microseconds=999),
                AT + timedelta(days=3), AT + timedelta(days=20)):
        horizon = moment + timedelta(days=14)
        assert count_secret_expiries(entries, moment, horizon) == by_dates(moment, horizon)
    assert count_secret_expiries(entries, AT, AT + timedelta(days=14)) == (2, 1)
