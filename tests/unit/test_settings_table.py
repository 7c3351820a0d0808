"""The README's Settings tables say what `common.settings.VARIABLES` declares: every
variable in exactly one row, its default as declared, and a number's bounds."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from common.setting_kinds import Number
from common.settings import VARIABLES, Variable

README = Path(__file__).resolve().parents[2] / "README.md"
HEADER = "| variable | default | meaning |"


@dataclass(frozen=True)
class Row:
    names: tuple[str, ...]
    defaults: str
    meaning: str


def settings_rows(text: str) -> list[Row]:
    """The rows of every table headed `| variable | default | meaning |`."""
    rows: list[Row] = []
    in_table = False
    for line in text.splitlines():
        if line.strip() == HEADER:
            in_table = True
            continue
        if not in_table or not line.startswith("|"):
            in_table = False
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split(" | ")]
        if set(cells[0]) <= {"-", "|", " "}:
            continue  # the separator line
        names = tuple(re.findall(r"`([A-Z0-9_]+)`", cells[0]))
        rows.append(Row(names, cells[1], " | ".join(cells[2:])))
    return rows


def shown_defaults(row: Row) -> list[str]:
    """The defaults a row gives, one per name: `—` for none."""
    if row.defaults.startswith("—"):
        return ["—"] * len(row.names)
    return [part.strip() if part.strip() == "—" else part.strip().split("`")[1]
            for part in row.defaults.split(" / ")]


ROWS = settings_rows(README.read_text())


def row_of(variable: Variable) -> Row:
    rows = [row for row in ROWS if variable.name in row.names]
    assert len(rows) == 1, f"{variable.name} is in {len(rows)} rows of the README's tables"
    return rows[0]


def test_the_tables_are_found() -> None:
    assert len(ROWS) >= 20
    assert all(row.names for row in ROWS)


def test_every_row_names_declared_variables() -> None:
    declared = {variable.name for variable in VARIABLES}
    assert [name for row in ROWS for name in row.names if name not in declared] == []


@pytest.mark.parametrize("variable", VARIABLES, ids=[v.name for v in VARIABLES])
def test_the_row_gives_the_declared_default(variable: Variable) -> None:
    row = row_of(variable)
    defaults = shown_defaults(row)
    assert len(defaults) == len(row.names), f"{row.names}: one default per variable"
    assert defaults[row.names.index(variable.name)] == variable.kind.show(variable.default)


@pytest.mark.parametrize("variable", [v for v in VARIABLES if isinstance(v.kind, Number)],
                         ids=[v.name for v in VARIABLES if isinstance(v.kind, Number)])
def test_a_numbers_row_gives_its_bounds(variable: Variable) -> None:
    assert isinstance(variable.kind, Number)
    assert variable.kind.span in row_of(variable).meaning


def test_the_check_notices_a_wrong_default_and_missing_bounds() -> None:
    rows = settings_rows(f"{HEADER}\n|---|---|---|\n| `SYNC_WAIT_S` | `6` | a wait |\n"
                         "| `HTTP_HOST` / `HTTP_PORT` | `::` / — | where |\n")
    sync_wait = next(v for v in VARIABLES if v.name == "SYNC_WAIT_S")
    assert isinstance(sync_wait.kind, Number)
    assert shown_defaults(rows[0]) == ["6"] != [sync_wait.kind.show(sync_wait.default)]
    assert sync_wait.kind.span not in rows[0].meaning
    assert shown_defaults(rows[1]) == ["::", "—"]
