"""The layers, read from every module's imports: `common` is shared by both sides and
imports neither, the gateway (`api`) and the worker (`worker`) never import each other,
and only the composition roots (`clientkeys`) import both.

Every import counts, wherever it is written: at the top, inside a function, under
`if TYPE_CHECKING`, relative or absolute.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("api", "worker", "common", "clientkeys")
# What each package must never import.
FORBIDDEN: dict[str, frozenset[str]] = {
    "common": frozenset({"api", "worker", "clientkeys"}),
    "api": frozenset({"worker", "clientkeys"}),
    "worker": frozenset({"api", "clientkeys"}),
    "clientkeys": frozenset(),
}


def imported_modules(source: str, module: str, *, is_package: bool = False) -> set[str]:
    """Every module `source` (the text of `module`) imports, as absolute dotted names."""
    package = module if is_package else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1])
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            found.add(target)
    return found


def violations(source: str, module: str, *, is_package: bool = False) -> list[str]:
    """`module imports X` for every import that crosses a layer it must not."""
    forbidden = FORBIDDEN[module.partition(".")[0]]
    return sorted(f"{module} imports {name}"
                  for name in imported_modules(source, module, is_package=is_package)
                  if name.partition(".")[0] in forbidden)


def _modules() -> list[tuple[str, Path]]:
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found.append((".".join(parts), path))
    return found


MODULES = _modules()


def test_every_package_is_read() -> None:
    seen = {module.partition(".")[0] for module, _ in MODULES}
    assert seen == set(PACKAGES)


@pytest.mark.parametrize(("module", "path"), MODULES, ids=[m for m, _ in MODULES])
def test_module_stays_in_its_layer(module: str, path: Path) -> None:
    is_package = path.name == "__init__.py"
    name = module.removesuffix(".__init__")
    assert violations(path.read_text(), name, is_package=is_package) == []


@pytest.mark.parametrize(("module", "source", "expected"), [
    ("common.bus", "import api.app", ["common.bus imports api.app"]),
    ("common.bus", "from worker.service import Worker", ["common.bus imports worker.service"]),
    ("common.bus", "def f():\n    from clientkeys import cli\n",
     ["common.bus imports clientkeys"]),
    ("common.bus", "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
     "    from api.keys import BUS\n", ["common.bus imports api.keys"]),
    ("api.views", "from worker.repository import ClientStore",
     ["api.views imports worker.repository"]),
    ("worker.handlers", "import api", ["worker.handlers imports api"]),
    ("worker.handlers", "from clientkeys.bootstrap import create_worker",
     ["worker.handlers imports clientkeys.bootstrap"]),
    ("api.views", "from clientkeys.cli import main", ["api.views imports clientkeys.cli"]),
    # What is allowed: each side on common, relative imports within a side, the roots on both.
    ("api.views", "from common.bus import MessageBus\nfrom . import keys\n", []),
    ("api.auth.tokens", "from ..views import client_view\nfrom .. import keys\n", []),
    ("worker.handlers", "from .repository import ClientStore\nimport common.clients\n", []),
    ("clientkeys.bootstrap", "from api.app import create_app\nfrom worker.service import Worker\n",
     []),
    ("common.bus", "import apis_helper\nimport workers\n", []),
])
def test_the_check_sees_a_crossing(module: str, source: str, expected: list[str]) -> None:
    assert violations(source, module) == expected


@pytest.mark.parametrize(("module", "source", "is_package", "expected"), [
    ("api.auth.tokens", "from ..views import client_view", False, {"api.views"}),
    ("api.auth", "from .tokens import digest", True, {"api.auth.tokens"}),
    ("api.auth.tokens", "from . import digest", False, {"api.auth"}),
    ("common.bus", "import json, worker.service", False, {"json", "worker.service"}),
])
def test_relative_imports_are_resolved(module: str, source: str, is_package: bool,
                                       expected: set[str]) -> None:
    assert imported_modules(source, module, is_package=is_package) == expected
