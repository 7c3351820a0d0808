"""The parsed deployment files more than one module of these tests reads."""

from __future__ import annotations

from typing import Any

import pytest

from tests.deployment import COMPOSE_FILE, compose_config, kubernetes_resources


@pytest.fixture(scope="package")
def compose() -> dict[str, Any]:
    """docker-compose.yml as the Docker Compose CLI reads it (run once for the package)."""
    return compose_config(COMPOSE_FILE)


@pytest.fixture(scope="package")
def resources() -> list[dict[str, Any]]:
    """Every resource of every manifest under deploy/k8s/."""
    return kubernetes_resources()
