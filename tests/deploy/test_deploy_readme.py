"""deploy/README.md's commands run, and the main README explains every dashboard panel."""

from __future__ import annotations

import re

from tests.deployment import DEPLOY, cli_problems, load_dashboard, script_commands


def test_readme_commands_and_panels_are_real() -> None:
    readme = (DEPLOY / "README.md").read_text()
    blocks = re.findall(r"```sh\n(.*?)```", readme, re.DOTALL)
    # `docker compose run --rm --entrypoint clientkeys init ARGS` runs `clientkeys ARGS`.
    commands = [argv for block in blocks for argv in script_commands(
        block.replace("\\\n", " ").replace(
            "docker compose run --rm --entrypoint clientkeys init", "clientkeys"))]
    assert len(commands) >= 4
    assert [problem for argv in commands for problem in cli_problems(argv)] == []
    # --subject belongs to `tokens create`, not to `tokens`: the parser notices.
    assert cli_problems(["tokens", "--subject", "a", "create", "--file", "t.json",
                         "--permission", "configure_server"]) != []
    # Every panel is explained in the operations page of the main README.
    operations = (DEPLOY.parent / "README.md").read_text()
    titles = {panel["title"] for panel in load_dashboard()["panels"] if panel["type"] != "row"}
    assert {title for title in titles if f"| {title} |" not in operations} == set()
