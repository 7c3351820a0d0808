"""api.verify.jwks_fetcher against a real https server on 127.0.0.1 (tests.jwks_server):
what is kept and for how long, what a failed fetch leaves, what is refused; the clock is
the fetcher's monotonic one, moved by the test."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from prometheus_client import CollectorRegistry

from api.gateway_metrics import GatewayMetrics
from api.verify import jwks_fetcher
from api.verify.jwks_fetcher import JwksFetcher, address_allowed, max_age_of
from tests.client_keys import jwks, rsa_pair
from tests.jwks_server import JwksServer, self_signed, serving_jwks

KEY, NEW = rsa_pair("one"), rsa_pair("two")


@pytest.mark.parametrize(("header", "kept_s"), [
    (None, 3600), ("public, max-age=600", 600), ("max-age=1", 300), ("max-age=999999", 86400),
    ("no-cache", 3600), ('max-age="900"', 900),
])
def test_max_age_is_clamped(header: str | None, kept_s: float) -> None:
    assert max_age_of(header) == kept_s


@pytest.mark.parametrize(("address", "allowed"), [
    ("93.184.216.34", True), ("2606:2800:220:1::1", True),
    ("127.0.0.1", False), ("::1", False), ("10.1.2.3", False), ("172.16.0.1", False),
    ("192.168.1.1", False), ("169.254.169.254", False), ("fe80::1", False), ("fd00::1", False),
    ("100.64.0.1", False), ("0.0.0.0", False), ("::ffff:127.0.0.1", False), ("224.0.0.1", False),
    ("64:ff9b::7f00:1", False), ("64:ff9b::5db8:d822", True), ("2002:7f00:1::1", False),
    ("2002:5db8:d822::1", True), ("ff02::1", False),
])
def test_only_public_addresses_are_fetched_from(address: str, allowed: bool) -> None:
    assert address_allowed(address) is allowed


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    moved = Clock()
    monkeypatch.setattr(jwks_fetcher, "time", SimpleNamespace(monotonic=moved))
    return moved


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[tuple[JwksServer, Path]]:
    cert, key = self_signed(tmp_path)
    async with serving_jwks(cert, key, jwks(KEY)) as served:
        yield served, cert


@pytest.fixture
async def fetcher(server: tuple[JwksServer, Path]) -> AsyncIterator[JwksFetcher]:
    started = JwksFetcher(allow_private=True, ca_file=server[1],
                          metrics=GatewayMetrics(CollectorRegistry()))
    await started.start()
    yield started
    await started.close()


def outcomes(fetcher: JwksFetcher) -> dict[str, float]:
    metrics = fetcher._metrics
    assert metrics is not None
    return {sample.labels["outcome"]: sample.value
            for metric in metrics.jwks_fetches.collect() for sample in metric.samples
            if sample.name.endswith("_total")}


async def test_a_set_is_kept_for_its_max_age_then_fetched_again(
        server: tuple[JwksServer, Path], fetcher: JwksFetcher, clock: Clock) -> None:
    served, _ = server
    served.cache_control = "max-age=1"  # clamped to five minutes
    uri = served.uri()
    assert await fetcher.key_set("c", uri) == jwks(KEY)
    clock.now += 299
    assert await fetcher.key_set("c", uri) == jwks(KEY)
    assert len(served.fetches) == 1
    served.jwks = jwks(NEW)
    clock.now += 2
    assert await fetcher.key_set("c", uri) == jwks(NEW)
    assert len(served.fetches) == 2 and outcomes(fetcher) == {"ok": 2}


async def test_a_failed_fetch_keeps_the_last_set_until_max_age_and_an_hour(
        server: tuple[JwksServer, Path], fetcher: JwksFetcher, clock: Clock) -> None:
    served, _ = server
    uri = served.uri()
    assert await fetcher.key_set("c", uri) == jwks(KEY)
    served.status = 500
    clock.now += 3600 + 1
    assert await fetcher.key_set("c", uri) == jwks(KEY)
    clock.now += 3600
    assert await fetcher.key_set("c", uri) is None
    assert outcomes(fetcher) == {"ok": 1, "http_error": 2}


async def test_sets_no_longer_usable_are_dropped(
        server: tuple[JwksServer, Path], fetcher: JwksFetcher, clock: Clock) -> None:
    served, _ = server
    uri = served.uri()
    assert await fetcher.key_set("removed", uri) == jwks(KEY)
    clock.now += 3600 + 3600 + 1  # past its max-age and the hour after: unusable
    assert await fetcher.key_set("active", uri) == jwks(KEY)
    assert fetcher.held == 1  # the unusable one dropped, the one just fetched kept
    clock.now += 30  # within the minute: no second pass
    assert await fetcher.key_set("other", uri) == jwks(KEY)
    assert fetcher.held == 2
    # Dropped is not forgotten for good: asked again, it is fetched again.
    clock.now += 60
    assert await fetcher.key_set("removed", uri) == jwks(KEY)
    assert len(served.fetches) == 4


async def test_a_published_encryption_key_is_left_out(
        server: tuple[JwksServer, Path], fetcher: JwksFetcher) -> None:
    served, _ = server
    served.jwks = {"keys": [NEW.public_jwk(use="enc", alg="RSA-OAEP"), KEY.public_jwk()]}
    assert await fetcher.key_set("c", served.uri()) == jwks(KEY)
    assert outcomes(fetcher) == {"ok": 1}


async def test_a_large_set_arriving_in_pieces_is_read_whole(
        server: tuple[JwksServer, Path], fetcher: JwksFetcher, clock: Clock) -> None:
    served, _ = server
    ten = jwks(*(rsa_pair(f"k{i}") for i in range(10)))
    # Whitespace (which JSON allows) to 60 KiB: under the cap, but more than one read.
    served.body = b" " * (50 * 1024) + json.dumps(ten).encode()
    assert await fetcher.key_set("c", served.uri()) == ten


@pytest.mark.parametrize(("body", "outcome"), [
    (b" " * (64 * 1024) + b"{}", "too_large"),
    (json.dumps({"keys": [KEY.private_jwk()]}).encode(), "invalid"),
    (b"not json", "invalid"),
])
async def test_a_bad_answer_gives_no_set(server: tuple[JwksServer, Path], fetcher: JwksFetcher,
                                         clock: Clock, body: bytes, outcome: str) -> None:
    served, _ = server
    served.body = body
    assert await fetcher.key_set("c", served.uri()) is None
    assert outcomes(fetcher) == {outcome: 1}


async def test_an_untrusted_certificate_is_refused(server: tuple[JwksServer, Path],
                                                   clock: Clock) -> None:
    served, _ = server
    untrusting = JwksFetcher(allow_private=True, metrics=GatewayMetrics(CollectorRegistry()))
    await untrusting.start()
    try:
        assert await untrusting.key_set("c", served.uri()) is None
        assert outcomes(untrusting) == {"unreachable": 1}
    finally:
        await untrusting.close()
