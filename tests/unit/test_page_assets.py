"""The admin page's modules: every script under api/static/ is served, and nothing else."""

from __future__ import annotations

import re

from api.views.page import SCRIPTS, STATIC


def test_every_script_of_the_page_is_served() -> None:
    assert {path.stem for path in STATIC.glob("*.js")} == SCRIPTS


def test_every_import_names_a_served_module() -> None:
    for path in STATIC.glob("*.js"):
        for name in re.findall(r'from "\./([a-z_]+)\.js"', path.read_text()):
            assert name in SCRIPTS, f"{path.name} imports {name}.js, which is not served"
