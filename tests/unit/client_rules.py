"""What the tables of client rules share: the names they use and a refused client's errors."""

from __future__ import annotations

import pytest

from common.clients import ClientFields, ClientType, RuleViolation, check_client

OAUTH1, OAUTH2, OIDC = ClientType.OAUTH1, ClientType.OAUTH2, ClientType.OIDC
AC, PW, RT = "authorization_code", "password", "refresh_token"
CB = "https://app.example.com/cb"
URI_2048 = "https://example.com/" + "a" * (2048 - len("https://example.com/"))
URI_2049 = URI_2048 + "a"


def fields_of(kind: ClientType, uris: list[str], grants: list[str],
              responses: list[str], name: str = "My app") -> ClientFields:
    return ClientFields(kind, name, list(uris), list(grants), list(responses))


def violation_of(fields: ClientFields) -> RuleViolation:
    with pytest.raises(RuleViolation) as info:
        check_client(fields)
    return info.value
