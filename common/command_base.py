"""What every command type is made of: what it says about itself, and its wire schema's base.

The command types themselves are in `common.commands` (the client's) and
`common.token_commands` (initial access tokens'); `common.commands` holds the
one union and the tables of them all.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar

from marshmallow import Schema, fields, post_load, validate

from common.client_metadata import METADATA_FIELDS, SECRET_EXPIRY


class Shown(StrEnum):
    """What the answer to a command shows: the client its outcome names, or the initial
    access token's record (`Outcome.token`)."""

    CLIENT = "client"
    REGISTRATION_TOKEN = "registration_token"


@dataclass(frozen=True)
class Answer:
    """What the gateway answers a command of a type with once it succeeded."""

    # 201: the command made a client (or token), whose address is the answer's Location;
    # 204: nothing to show (the body is left out).
    status: int = 200
    # Whether the body carries the rules' warnings about the fields the command set.
    warnings: bool = False
    shows: Shown = Shown.CLIENT


# The fields of a client a command may set, in the order the audit trail lists them.
AUDITED_FIELDS = ("type", "name", "secret", "redirect_uris", "grant_types", "response_types",
                  *METADATA_FIELDS, SECRET_EXPIRY)


def audited(names: Iterable[str]) -> list[str]:
    """The client fields among `names`, in the audit trail's order."""
    given = set(names)
    return [name for name in AUDITED_FIELDS if name in given]


class CommandBehaviour:
    """What every command type says about itself, so no reader branches on the type.

    The gateway answers with `answer`, the audit trail records `audited_fields()`,
    and a type that `makes_client` has its client's key claimed as its operation
    starts (worker.handlers); after one that `removes_client` the gateway's read
    model drops the client its outcome names (api.views.dispatch).
    """

    kind: ClassVar[str]
    answer: ClassVar[Answer] = Answer()
    makes_client: ClassVar[bool] = False
    removes_client: ClassVar[bool] = False

    def audited_fields(self) -> list[str]:
        """The names (never the values) of what it sets."""
        return []


ID = validate.Length(min=1, max=200)
SHA256_HEX = r"^[0-9a-f]{64}$"


def kind_field(command_type: type[CommandBehaviour]) -> fields.String:
    return fields.String(required=True, validate=validate.Equal(command_type.kind))


class CommandSchema(Schema):
    """What every command carries on the wire; each type's schema adds its own fields.

    A field the type does not know is refused, so a body is one type's or none.
    """

    command_type: ClassVar[type[Any]]
    id = fields.String(required=True, validate=ID)
    actor = fields.String(required=True, validate=ID)
    request_id = fields.String(required=True, validate=ID)
    remote_addr = fields.String(load_default=None, allow_none=True,
                                validate=validate.Length(max=255))
    issued_at = fields.AwareDateTime(load_default=None, allow_none=True)

    @post_load
    def _command(self, data: dict[str, Any], **kwargs: Any) -> Any:
        data.pop("kind")
        return self.command_type(**data)
