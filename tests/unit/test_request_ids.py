"""The request ids the gateway makes: random UUIDs, a new one each time."""

from __future__ import annotations

import uuid

from api.observe import _RandomIds


def test_new_ids_are_random_uuids_as_uuid4_writes_them() -> None:
    ids = _RandomIds()
    made = [ids.new() for _ in range(3 * _RandomIds._BATCH + 5)]  # across several batches
    assert len(set(made)) == len(made)
    for text in made:
        parsed = uuid.UUID(text)
        assert str(parsed) == text
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122
