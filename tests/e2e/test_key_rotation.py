"""Rotating the encryption key while the service runs (`clientkeys keys rotate`).

The gateway follows the keyring file: after the rotation it seals new secrets
under the new key with no restart, and every client made before stays readable
and editable, with its version (ETag) untouched by the re-encryption.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from api import keys
from common.keyring import SealedSecret, SecretSlot, client_secret_aad
from common.keyring_file import read_keyring_file
from common.settings import Settings
from common.store import CLIENTS, Document
from tests.e2e.conftest import Service, oidc_client
from tests.harness import run_cli, with_keyring_file


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    return with_keyring_file(settings, tmp_path)


async def stored_secret(service: Service, key: str) -> SealedSecret:
    document: Document | None = await service.http.app[keys.DB][CLIENTS].find_one({"key": key})
    assert document is not None
    return SealedSecret.from_document(document["secret"])


async def test_clients_made_before_a_rotation_are_read_and_edited_after(
        service: Service) -> None:
    path = service.settings.encryption_keys_file
    assert path is not None
    idempotent = {**service.admin, "Idempotency-Key": "create-portal"}
    first = await service.request("POST", "/v1/clients", headers=idempotent,
                                  json=oidc_client())
    assert first.status == 201
    created = await first.json()
    etag = first.headers["ETag"]
    assert (await stored_secret(service, created["key"])).key_id == "before"

    assert await run_cli(service.settings, "keys", "rotate", "--key-id", "after",
                         "--settle", "0") == 0

    sealed = await stored_secret(service, created["key"])
    assert sealed.key_id == "after"
    assert read_keyring_file(path).open(
        sealed, client_secret_aad(created["key"], SecretSlot.CURRENT)) == "s3cret-value-for-tests"
    read = await service.request("GET", f"/v1/clients/{created['key']}")
    assert read.status == 200 and read.headers["ETag"] == etag
    edited = await service.request("PATCH", f"/v1/clients/{created['key']}",
                                   headers={**service.admin, "If-Match": etag},
                                   json={"name": "Portal (rotated)"})
    assert edited.status == 200, await edited.text()
    replayed = await service.request("POST", "/v1/clients", headers=idempotent,
                                     json=oidc_client())
    assert replayed.status == 201 and replayed.headers["Idempotent-Replayed"] == "true"
    assert (await replayed.json())["key"] == created["key"]

    later = await service.create(oidc_client("Made after"))
    assert (await stored_secret(service, later["key"])).key_id == "after"


async def test_an_idempotency_key_whose_key_was_retired_is_refused_not_replayed(
        service: Service) -> None:
    path = service.settings.encryption_keys_file
    assert path is not None
    idempotent = {**service.admin, "Idempotency-Key": "create-once"}
    first = await service.request("POST", "/v1/clients", headers=idempotent,
                                  json=oidc_client())
    assert first.status == 201
    assert await run_cli(service.settings, "keys", "rotate", "--key-id", "after",
                         "--settle", "0") == 0
    path.write_text(path.read_text().splitlines()[0] + "\n")  # "before" retired
    assert read_keyring_file(path).key_ids == ("after",)

    again = await service.request("POST", "/v1/clients", headers=idempotent,
                                  json=oidc_client())
    assert again.status == 422
    assert "can no longer be compared" in (await again.json())["detail"]
