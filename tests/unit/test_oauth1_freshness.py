"""OAuth 1.0a freshness: the timestamp window and nonces, each counted once."""

from __future__ import annotations

import time

import pytest

from api.verify.oauth1_nonces import NonceCache
from api.verify.oauth1_signatures import DEFAULT_WINDOW_S, Consumer, Reason, SignatureVerifier
from tests.unit.oauth1_requests import METHODS, SECRET, signed, verify


@pytest.mark.parametrize("method", METHODS)
def test_a_replayed_request_fails(method: str) -> None:
    verifier, request = SignatureVerifier(), signed(method)
    assert verify(request, verifier=verifier) is Reason.OK
    assert verify(request, verifier=verifier) is Reason.REPLAYED_NONCE


def test_a_nonce_counts_once_per_timestamp_client_and_token() -> None:
    verifier = SignatureVerifier()
    now = str(int(time.time()))
    assert verify(signed(nonce="n0nce-one", timestamp=now), verifier=verifier) is Reason.OK
    earlier = str(int(now) - 1)
    assert verify(signed(nonce="n0nce-one", timestamp=earlier), verifier=verifier) is Reason.OK
    assert verify(signed(nonce="n0nce-one", timestamp=now, with_token=False),
                  verifier=verifier) is Reason.OK
    assert verify(signed(nonce="n0nce-one", timestamp=now),
                  verifier=verifier) is Reason.REPLAYED_NONCE


def test_a_nonce_is_recorded_only_once_the_signature_verified() -> None:
    verifier = SignatureVerifier()
    forged = signed(secret="guessed", nonce="shared-nonce")
    assert verify(forged, verifier=verifier) is Reason.BAD_SIGNATURE
    pending = Consumer(approved=False, secrets=(SECRET,))
    assert verify(signed(nonce="shared-nonce"), consumer=pending,
                  verifier=verifier) is Reason.NOT_APPROVED
    assert verify(signed(nonce="shared-nonce"), verifier=verifier) is Reason.OK


def test_verifiers_sharing_a_nonce_store_catch_a_replay_to_either() -> None:
    store = NonceCache()
    request = signed()
    assert verify(request, verifier=SignatureVerifier(nonces=store)) is Reason.OK
    assert verify(request, verifier=SignatureVerifier(nonces=store)) is Reason.REPLAYED_NONCE


@pytest.mark.parametrize(("window_s", "offset_s", "reason"), [
    (DEFAULT_WINDOW_S, 0, Reason.OK),
    (DEFAULT_WINDOW_S, -DEFAULT_WINDOW_S + 30, Reason.OK),
    (DEFAULT_WINDOW_S, DEFAULT_WINDOW_S - 30, Reason.OK),
    (DEFAULT_WINDOW_S, -DEFAULT_WINDOW_S - 30, Reason.STALE_TIMESTAMP),
    (DEFAULT_WINDOW_S, DEFAULT_WINDOW_S + 30, Reason.STALE_TIMESTAMP),
    (60, -90, Reason.STALE_TIMESTAMP),
    (60, 90, Reason.STALE_TIMESTAMP),
    (900, -600, Reason.OK),
])
@pytest.mark.parametrize("method", METHODS)
def test_the_timestamp_must_be_within_the_window_either_way(
        method: str, window_s: int, offset_s: int, reason: Reason) -> None:
    request = signed(method, timestamp=str(int(time.time()) + offset_s))
    assert verify(request, verifier=SignatureVerifier(window_s=window_s)) is reason
