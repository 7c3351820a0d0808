"""The real processes, as a newcomer and an operator start them."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import time
from pathlib import Path

import aiohttp
import pytest

from api.auth.principals import CONFIGURE_SERVER
from api.auth.tokens import token_digest
from clientkeys.devdb import free_port
from common.keyring import new_key_entry
from tests.processes import CLI, REPO, clean_env, stop, wait_for_line


async def newcomer_session(base: str, token: str) -> None:
    """What the README promises: create an OIDC client, approve, list, edit, remove."""
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(base, headers=headers) as http:
        async with http.post("/v1/clients", json={
            "type": "oidc", "name": "Newcomer app", "generate_secret": True,
            "redirect_uris": ["https://app.example.com/cb"],
            "grant_types": ["authorization_code"], "response_types": ["code"],
        }) as response:
            created = await response.json()
            assert response.status == 201, created
        key = created["key"]
        async with http.post(f"/v1/clients/{key}/approve") as response:
            assert (await response.json())["status"] == "approved"
        async with http.get("/v1/clients") as response:
            assert [c["key"] for c in (await response.json())["items"]] == [key]
        async with http.patch(f"/v1/clients/{key}", json={"name": "Renamed"}) as response:
            assert (await response.json())["name"] == "Renamed"
        async with http.delete(f"/v1/clients/{key}") as response:
            assert response.status == 204
        async with http.get(f"/v1/clients/{key}") as response:
            assert response.status == 404


async def dev_metrics(base: str) -> str:
    async with aiohttp.ClientSession(base) as http, http.get("/metrics") as response:
        assert response.status == 200
        return await response.text()


def test_dev_mode_runs_the_whole_product_and_stops_cleanly(tmp_path: Path) -> None:
    port = free_port()
    env = clean_env(CLIENTKEYS_HTTP_PORT=str(port), CLIENTKEYS_DEV_DIR=str(tmp_path / "dev"),
                    PYTHONPATH=str(REPO))
    process = subprocess.Popen([*CLI, "dev"], env=env, cwd=tmp_path, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        url = wait_for_line(process, "clientkeys dev is running at ").rsplit(" ", 1)[1]
        token = wait_for_line(process, "admin token").rsplit(" ", 1)[1]
        assert url == f"http://127.0.0.1:{port}"
        asyncio.run(newcomer_session(url, token))
        metrics = asyncio.run(dev_metrics(url))
        # One process, one /metrics: the gateway's figures and the worker's.
        assert 'clientkeys_commands_published_total{kind="create_client"} 1.0' in metrics
        assert ('clientkeys_commands_applied_total{kind="create_client",outcome="succeeded"} '
                '1.0') in metrics
    finally:
        code = stop(process)
    assert code == 0
    # The dev key and token are readable by their owner only.
    assert (tmp_path / "dev" / "dev.json").stat().st_mode & 0o077 == 0


@pytest.fixture
def settings_env(tmp_path: Path, mongodb_uri: str, amqp_url: str, namespace: str,
                 topology_cleanup: None) -> dict[str, str]:
    token = "operator-token-for-the-process-test"
    tokens = tmp_path / "tokens.json"
    tokens.write_text(f'[{{"subject": "ops", "sha256": "{token_digest(token)}", '
                      f'"permissions": ["{CONFIGURE_SERVER}"]}}]')
    return clean_env(CLIENTKEYS_MONGODB_URI=mongodb_uri, CLIENTKEYS_AMQP_URL=amqp_url,
                     CLIENTKEYS_NAMESPACE=namespace, CLIENTKEYS_TOKENS_FILE=str(tokens),
                     CLIENTKEYS_ENCRYPTION_KEYS=new_key_entry("k1"),
                     CLIENTKEYS_HTTP_PORT=str(free_port()), PYTHONPATH=str(REPO),
                     TEST_TOKEN=token)


def healthcheck(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, "healthcheck", *args], env=env, text=True,
                          capture_output=True, timeout=30)


def test_gateway_and_worker_processes_serve_and_stop_on_sigterm(
        settings_env: dict[str, str]) -> None:
    settings_env = {**settings_env, "CLIENTKEYS_WORKER_HTTP_PORT": str(free_port())}
    worker = subprocess.Popen([*CLI, "worker"], env=settings_env, text=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    gateway = subprocess.Popen([*CLI, "gateway"], env=settings_env, text=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        assert gateway.stderr is not None
        deadline = time.monotonic() + 60
        while "gateway listening" not in gateway.stderr.readline():
            assert time.monotonic() < deadline and gateway.poll() is None
        base = f"http://127.0.0.1:{settings_env['CLIENTKEYS_HTTP_PORT']}"
        asyncio.run(newcomer_session(base, settings_env["TEST_TOKEN"]))
        # The container probes, as the Dockerfile and the compose file run them.
        assert healthcheck(settings_env).returncode == 0
        assert healthcheck(settings_env, "--worker").returncode == 0
    finally:
        codes = (stop(gateway), stop(worker))
    assert codes == (0, 0)
    for args in ((), ("--worker",)):
        gone = healthcheck(settings_env, *args)
        assert gone.returncode == 1
        assert gone.stderr.startswith("clientkeys healthcheck: http://127.0.0.1:")
        assert len(gone.stderr.splitlines()) == 1


def _with_stop_signals_blocked() -> None:
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})


def test_a_worker_started_with_stop_signals_blocked_still_stops_on_sigterm(
        settings_env: dict[str, str]) -> None:
    """A parent that waits for signals with sigwait blocks them, and a child inherits
    the blocked mask: the process unblocks them, or SIGTERM would never reach it."""
    settings_env = {**settings_env, "CLIENTKEYS_WORKER_HTTP_PORT": str(free_port())}
    worker = subprocess.Popen([*CLI, "worker"], env=settings_env, text=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              preexec_fn=_with_stop_signals_blocked)
    try:
        deadline = time.monotonic() + 60
        while healthcheck(settings_env, "--worker").returncode != 0:
            assert time.monotonic() < deadline and worker.poll() is None
            time.sleep(0.2)
    finally:
        code = stop(worker)
    assert code == 0


@pytest.mark.parametrize(("variable", "value", "named"), [
    ("CLIENTKEYS_ENCRYPTION_KEYS", "", "CLIENTKEYS_ENCRYPTION_KEYS"),
    ("CLIENTKEYS_ENCRYPTION_KEYS", "k1:short", "CLIENTKEYS_ENCRYPTION_KEYS"),
    ("CLIENTKEYS_SYNC_WAIT_S", "soon", "CLIENTKEYS_SYNC_WAIT_S"),
    ("CLIENTKEYS_TOKENS_FILE", "/nonexistent/tokens.json", "CLIENTKEYS_TOKENS_FILE"),
])
def test_bad_setting_stops_with_one_clear_line(settings_env: dict[str, str], variable: str,
                                               value: str, named: str) -> None:
    env = {**settings_env, variable: value}
    result = subprocess.run([*CLI, "gateway"], env=env, text=True, capture_output=True,
                            timeout=60)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert named in lines[0]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("command", ["gateway", "worker"])
def test_unreachable_broker_is_one_line_without_the_password(
        settings_env: dict[str, str], command: str) -> None:
    env = {**settings_env,
           "CLIENTKEYS_AMQP_URL": f"amqp://guest:hunter2pw@127.0.0.1:{free_port()}/"}
    result = subprocess.run([*CLI, command], env=env, text=True, capture_output=True,
                            timeout=60)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "cannot reach RabbitMQ" in lines[0]
    assert "hunter2pw" not in result.stderr


def test_a_worker_whose_health_port_is_taken_stops_with_one_clear_line(
        settings_env: dict[str, str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        env = {**settings_env, "CLIENTKEYS_WORKER_HTTP_PORT": str(taken.getsockname()[1])}
        result = subprocess.run([*CLI, "worker"], env=env, text=True, capture_output=True,
                                timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert "CLIENTKEYS_WORKER_HTTP_PORT" in result.stderr
