"""deploy/Dockerfile, and the build context .dockerignore leaves it."""

from __future__ import annotations

import tomllib

import pytest

from tests.deployment import (
    DEPLOY,
    HTTP_PORTS,
    ROOT,
    copied_sources,
    dockerfile_problems,
    exposed_ports,
    image_environment,
)

DOCKERFILE = (DEPLOY / "Dockerfile").read_text()


def test_dockerfile() -> None:
    assert dockerfile_problems(DOCKERFILE) == []
    assert set(HTTP_PORTS.values()) <= exposed_ports(DOCKERFILE)
    assert image_environment(DOCKERFILE)["CLIENTKEYS_HTTP_HOST"] == "0.0.0.0"


@pytest.mark.parametrize(("old", "new"), [
    ("FROM python:3.11-slim AS build", "# one stage"),
    ("USER 10001:10001", "USER root"),
    ('CMD ["clientkeys", "healthcheck"]', 'CMD ["curl", "http://127.0.0.1:8080/healthz"]'),
    ('ENTRYPOINT ["clientkeys"]', 'ENTRYPOINT ["python", "-m", "clientkeys.cli"]'),
    ('CMD ["gateway"]', 'CMD ["gatway"]'),
])
def test_dockerfile_check_rejects(old: str, new: str) -> None:
    assert old in DOCKERFILE
    assert dockerfile_problems(DOCKERFILE.replace(old, new, 1)) != []


def test_build_context_has_what_pip_wheel_needs() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = {pattern.rstrip("*") for pattern
                in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]}
    needed = {"pyproject.toml", pyproject["project"]["readme"], *packages}
    assert needed <= copied_sources(DOCKERFILE)
    ignore = (ROOT / ".dockerignore").read_text().splitlines()
    # Everything is left out, then these are let back in.
    assert {f"!{name}" for name in needed} <= set(ignore[ignore.index("*"):])
    assert (ROOT / "api" / "static" / "index.html").is_file()  # package data, under api/
