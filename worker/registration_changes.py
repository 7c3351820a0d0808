"""What an RFC 7592 update does beyond an edit: it rotates the client's registration
access token, and it sends an approved client back to pending when it widened what
the client may do, so nothing a client changes about itself takes effect without
an administrator.

The `updated` event of such a write says so: `previous_status` is `approved`,
`changed_fields` names `status` (and `registration_access_token` when only the
token changed, never the token).
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from common.client_documents import ClientDocument
from common.clients import Status
from common.commands import UpdateClient

# What widens a client's reach: where tokens go, how they are got, what they allow.
WIDENING_FIELDS: Final = frozenset({"redirect_uris", "grant_types", "response_types",
                                    "token_endpoint_auth_method", "scope", "jwks", "jwks_uri"})
ACCESS_TOKEN_CHANGE: Final = "registration_access_token"


def registration_changes(command: UpdateClient, current: ClientDocument, changed: list[str],
                         changes: ClientDocument, at: datetime) -> str | None:
    """Adds them to `changes` and `changed`; returns the status the client leaves, if any."""
    if command.registration_access_sha256 is not None:
        changes["registration_access_sha256"] = command.registration_access_sha256
        if not changed:
            changed.append(ACCESS_TOKEN_CHANGE)
    if (command.pending_if_widened and current["status"] == Status.APPROVED.value
            and WIDENING_FIELDS & set(changed)):
        changes.update({"status": Status.PENDING.value, "status_changed_at": at})
        changed.append("status")
        return Status.APPROVED.value
    return None
