"""The README's Security model lists exactly the routes the route table leaves public.

A route added without a permission, or one given a permission, makes this fail
until the README says so: the public surface is documented where operators read.
"""

from __future__ import annotations

import re
from pathlib import Path

from api.routes import ROUTES

README = Path(__file__).resolve().parents[2] / "README.md"
_ROUTE = re.compile(r"`(GET|HEAD|POST|PUT|PATCH|DELETE) (/[^`\s]*)`")


def _public_routes_in_readme() -> list[tuple[str, str]]:
    text = README.read_text()
    start = text.index("**Who may do what.**")
    end = text.index("| permission |", start)
    return [(method, path) for method, path in _ROUTE.findall(text[start:end])]


def test_the_readme_lists_exactly_the_public_routes_of_the_table() -> None:
    listed = _public_routes_in_readme()
    public = {(r.method, r.path) for r in ROUTES if r.permission is None}
    assert len(listed) == len(set(listed)), f"listed twice: {listed}"
    assert set(listed) == public, (
        f"in the README but protected or unknown: {sorted(set(listed) - public)}; "
        f"public but not in the README: {sorted(public - set(listed))}")
