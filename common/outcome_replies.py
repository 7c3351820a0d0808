"""An outcome reply: the outcome, and what a gateway's read model keeps of its client
beyond the client's public view, as the worker stored it.

A gateway puts the client its own command left into its read model before it answers
(`api.views.command_answers.read_own_write`), so that its caller's next read or
credential check there shows the change. The outcome holds the client's public view;
the read model also keeps the document's `_id` (the order of its lists) and the client's
sealed secrets, and a gateway read those back from MongoDB, one `find_one` after every
create and every change of secrets. The worker has just written them, so a command that
wrote secrets sends them along: the `_id` and the secrets as stored, sealed with the
keyring and bound to the client and slot (`common.keyring`), as a command carries a
secret; never the secret itself. Without them (another command, a redelivery, an older
worker) the gateway reads the client back as before. The reply is signed
(`common.command_mac`): nobody but a worker can put sealed values into a read model.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bson import ObjectId
from bson.errors import InvalidId

from common.client_documents import CURRENT_SECRET, PREVIOUS_SECRETS
from common.keyring import SealedSecret
from common.outcomes import Outcome

STORED = "stored"


@dataclass(frozen=True)
class StoredSecrets:
    """A client document's `_id` and sealed secrets: the current one, and each
    previous one with the end of its grace."""

    object_id: ObjectId
    current: SealedSecret | None
    previous: tuple[tuple[SealedSecret, datetime], ...] = ()

    @classmethod
    def of(cls, document: Mapping[str, Any]) -> StoredSecrets:
        current = document.get(CURRENT_SECRET)
        return cls(document["_id"],
                   SealedSecret.from_document(current) if current else None,
                   tuple((SealedSecret.from_document(entry["secret"]), entry["expires_at"])
                         for entry in document.get(PREVIOUS_SECRETS) or ()))

    def document(self) -> dict[str, Any]:
        """As the client document holds them (what `api.verify.client_entries` reads)."""
        return {"_id": self.object_id,
                CURRENT_SECRET: self.current.to_document() if self.current else None,
                PREVIOUS_SECRETS: [{"secret": sealed.to_document(), "expires_at": ends}
                                   for sealed, ends in self.previous]}

    def to_wire(self) -> dict[str, Any]:
        return {"_id": str(self.object_id),
                CURRENT_SECRET: self.current.to_wire() if self.current else None,
                PREVIOUS_SECRETS: [{"secret": sealed.to_wire(), "expires_at": ends.isoformat()}
                                   for sealed, ends in self.previous]}

    @classmethod
    def from_wire(cls, data: Any) -> StoredSecrets:
        """Raises ValueError, KeyError or TypeError for what a worker does not send."""
        if not isinstance(data, Mapping) or not isinstance(data["_id"], str):
            raise TypeError("not the stored part of a reply")
        try:
            object_id = ObjectId(data["_id"])
        except InvalidId as exc:
            raise ValueError(str(exc)) from None
        current = data.get(CURRENT_SECRET)
        return cls(object_id,
                   SealedSecret.from_wire(current) if current else None,
                   tuple((SealedSecret.from_wire(entry["secret"]), _instant(entry["expires_at"]))
                         for entry in data.get(PREVIOUS_SECRETS) or ()))


def _instant(text: str) -> datetime:
    at = datetime.fromisoformat(text)
    if at.tzinfo is None:
        raise ValueError(f"{text!r} names no time zone")
    return at


@dataclass(frozen=True)
class OutcomeReply:
    outcome: Outcome
    # Sent only by a command that wrote the client's secrets.
    stored: StoredSecrets | None = None

    def encode(self) -> bytes:
        data = self.outcome.to_dict()
        if self.stored is not None:
            data[STORED] = self.stored.to_wire()
        return json.dumps(data, separators=(",", ":")).encode()

    @classmethod
    def decode(cls, body: bytes) -> OutcomeReply:
        """Raises ValueError, KeyError or TypeError for a body that is not a reply."""
        data = json.loads(body)
        if not isinstance(data, dict):
            raise TypeError("a reply is a JSON object")
        stored = data.get(STORED)
        return cls(Outcome.from_dict(data),
                   StoredSecrets.from_wire(stored) if stored is not None else None)
