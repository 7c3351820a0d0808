"""docs/ARCHITECTURE.md names only files that exist and functions those files define.

The page is a newcomer's map: a path written in backticks that no longer exists,
or a name in a table's owner column that its file no longer defines (read with
ast), sends the reader nowhere. This fails instead, so a move or a rename has to
take the page along.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "ARCHITECTURE.md"
_BACKTICKED = re.compile(r"`([^`]+)`")
# A repository path: words joined by slashes (a directory may end with one), or one
# file name with an extension of the kinds the repository keeps. URL paths start with
# a slash, routing keys and placeholders hold `<`, `#` or spaces: none of them match.
_PATH = re.compile(r"^[\w.-]+(/[\w.-]+)*/?$")
_FILE_SUFFIXES = frozenset({".py", ".md", ".json", ".yml", ".yaml", ".toml", ".js", ".css",
                            ".html", ".conf", ".cfg", ".txt"})
_NAME = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)?$")


def _is_path(text: str) -> bool:
    if not _PATH.match(text) or text.startswith("."):
        return False
    return "/" in text or Path(text).suffix in _FILE_SUFFIXES


def backticked_paths(text: str) -> list[str]:
    """Every repository path written in backticks, in order, each once."""
    return list(dict.fromkeys(span for span in _BACKTICKED.findall(text) if _is_path(span)))


def missing_paths(text: str, root: Path) -> list[str]:
    return [path for path in backticked_paths(text) if not (root / path).exists()]


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def table_references(text: str) -> list[tuple[list[str], list[str]]]:
    """(files, names) of every row of a table with a `file` and an `owner` column."""
    rows: list[tuple[list[str], list[str]]] = []
    columns: tuple[int, int] | None = None
    for line in text.splitlines():
        if not line.lstrip().startswith("|"):
            columns = None
            continue
        cells = _cells(line)
        if columns is None:
            lowered = [cell.lower() for cell in cells]
            columns = ((lowered.index("file"), lowered.index("owner"))
                       if "file" in lowered and "owner" in lowered else (-1, -1))
            continue
        file_column, owner_column = columns
        if file_column < 0 or set("".join(cells)) <= set("-: "):
            continue
        files = [span for span in _BACKTICKED.findall(cells[file_column]) if _is_path(span)]
        names = [span for span in _BACKTICKED.findall(cells[owner_column]) if _NAME.match(span)]
        rows.append((files, names))
    return rows


def defined_names(source: str) -> set[str]:
    """A module's top-level functions, classes and assigned names, and `Class.member`
    for what a class defines (methods, properties, class attributes)."""
    names: set[str] = set()

    def assigned(node: ast.stmt) -> list[str]:
        if isinstance(node, ast.Assign):
            return [t.id for t in node.targets if isinstance(t, ast.Name)]
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            return [node.target.id]
        return []

    for node in ast.parse(source).body:
        names.update(assigned(node))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        if isinstance(node, ast.ClassDef):
            for member in node.body:
                if isinstance(member, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                    names.add(f"{node.name}.{member.name}")
                names.update(f"{node.name}.{name}" for name in assigned(member))
    return names


def missing_names(text: str, root: Path) -> list[str]:
    """`file: name` for each owner a table names that none of its row's files define."""
    missing: list[str] = []
    for files, names in table_references(text):
        sources = [root / f for f in files if f.endswith(".py") and (root / f).is_file()]
        defined: set[str] = set()
        for source in sources:
            defined |= defined_names(source.read_text())
        missing.extend(f"{', '.join(files) or '(no file)'}: {name}"
                       for name in names if name not in defined)
    return missing


def test_every_path_in_the_architecture_page_exists() -> None:
    text = DOC.read_text()
    assert backticked_paths(text), "the page names no file at all"
    assert missing_paths(text, ROOT) == []


def test_every_owner_in_its_tables_is_defined_in_its_file() -> None:
    rows = table_references(DOC.read_text())
    assert sum(len(names) for _, names in rows) > 20, "the tables name too few owners"
    assert missing_names(DOC.read_text(), ROOT) == []


def test_the_page_is_linked_from_the_readme() -> None:
    assert "(docs/ARCHITECTURE.md)" in (ROOT / "README.md").read_text()


@pytest.mark.parametrize(("span", "is_path"), [
    ("api/views/clients.py", True),
    ("common/", True),
    ("README.md", True),
    ("deploy/rabbitmq/definitions.json", True),
    ("/v1/clients/{key}/approve", False),
    ("/asyncapi.json", False),
    ("<ns>.commands", False),
    ("client.#", False),
    ("clientkeys events tail", False),
    ("Topology.queues", False),
    ("CLIENTKEYS_NAMESPACE", False),
])
def test_what_counts_as_a_path(span: str, is_path: bool) -> None:
    assert _is_path(span) is is_path


def test_the_checks_see_a_stale_page(tmp_path: Path) -> None:
    (tmp_path / "mod.py").write_text(
        "X = 1\nY: int = 2\nclass C:\n    z = 3\n    def m(self) -> None: ...\n"
        "async def f() -> None: ...\n")
    page = ("See `mod.py` and `gone/old.py`.\n\n"
            "| hop | file | owner |\n|---|---|---|\n"
            "| a | `mod.py` | `X`, `Y`, `C.z`, `C.m`, `f` |\n"
            "| b | `mod.py` | `renamed`, `C.gone` |\n"
            "| c | `gone/old.py` | `g` |\n\n"
            "| no | owner column |\n|---|---|\n| `mod.py` | `nothing` |\n")
    assert missing_paths(page, tmp_path) == ["gone/old.py"]
    assert missing_names(page, tmp_path) == ["mod.py: renamed", "mod.py: C.gone",
                                             "gone/old.py: g"]
