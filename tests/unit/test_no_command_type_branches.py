"""What a command needs is said by its type (common.commands), never asked of it.

Dispatch, audit and the worker's handler table read a command type's `answer`,
`audited_fields()` and `makes_client`, or look it up by its type: no module
outside common/commands.py branches on which command type it holds.
"""

from __future__ import annotations

import ast
from pathlib import Path

from common.commands import COMMAND_TYPES

_ROOT = Path(__file__).resolve().parents[2]
_COMMAND_NAMES = frozenset(cls.__name__ for cls in COMMAND_TYPES.values())


def _branches_on_a_command_type(tree: ast.AST) -> list[int]:
    """Lines of `isinstance(x, <command type>)` and `type(x) is <command type>`."""
    def names(node: ast.expr) -> set[str]:
        if isinstance(node, ast.Tuple):
            return {name for element in node.elts for name in names(element)}
        if isinstance(node, ast.BinOp):  # a union: A | B
            return names(node.left) | names(node.right)
        if isinstance(node, ast.Attribute):
            return {node.attr}
        return {node.id} if isinstance(node, ast.Name) else set()

    lines = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id in {"isinstance", "issubclass"} and len(node.args) == 2
                and names(node.args[1]) & _COMMAND_NAMES):
            lines.append(node.lineno)
        if (isinstance(node, ast.Compare) and isinstance(node.left, ast.Call)
                and isinstance(node.left.func, ast.Name) and node.left.func.id == "type"
                and any(names(c) & _COMMAND_NAMES for c in node.comparators)):
            lines.append(node.lineno)
    return lines


def test_the_branch_finder_finds_what_it_looks_for() -> None:
    tree = ast.parse("isinstance(c, CreateClient)\nisinstance(c, (str, commands.RemoveClient))\n"
                     "type(c) is RotateSecret\nisinstance(c, str)\n")
    assert _branches_on_a_command_type(tree) == [1, 2, 3]


def test_no_module_branches_on_the_command_types() -> None:
    found = []
    for package in ("api", "worker", "common", "clientkeys"):
        for path in sorted((_ROOT / package).rglob("*.py")):
            if path == _ROOT / "common" / "commands.py":
                continue
            for line in _branches_on_a_command_type(ast.parse(path.read_text())):
                found.append(f"{path.relative_to(_ROOT)}:{line}")
    assert found == []
