"""Who is calling and what they may do: the permissions and the principal.

A principal comes from a static API token (`api.auth.tokens`) or from a JWT of the
platform's identity provider (`api.auth.jwt_tokens`); either way it is a subject and
a set of permissions. Its identity says which credential it is (a static token's
id, or a JWT's issuer and subject): subjects are names an operator or an
identity provider chooses, so two credentials may share one, and what is kept
per caller (Idempotency-Key records) is kept per identity.
"""

from __future__ import annotations

from dataclasses import dataclass

# The product's "Configure Server": every management action and every read.
CONFIGURE_SERVER = "configure_server"
# Reads, stats and history: ops dashboards.
CLIENTS_READ = "clients:read"
# Credential verification: the platform's authorization servers.
CLIENTS_VERIFY = "clients:verify"
PERMISSIONS = (CONFIGURE_SERVER, CLIENTS_READ, CLIENTS_VERIFY)
# Not a permission a token can hold: what a route needs that any valid token may
# call (who am I). It still needs a token, so it is never public.
SIGNED_IN = "signed_in"

# What holding a permission grants besides itself. Verifying credentials is a
# separate right on purpose: an administrator's token is no oracle for secrets.
_IMPLIES: dict[str, frozenset[str]] = {CONFIGURE_SERVER: frozenset({CLIENTS_READ})}


@dataclass(frozen=True)
class Principal:
    subject: str
    permissions: frozenset[str]
    identity: str  # "token:<id>" or "jwt:" + JSON [issuer, subject]; see the docstring

    def allows(self, permission: str) -> bool:
        if permission == SIGNED_IN:
            return True
        return any(permission == held or permission in _IMPLIES.get(held, ())
                   for held in self.permissions)
