"""A benchmark run whose figures failed keeps its processes' logs: they say why."""

from __future__ import annotations

import shutil
from pathlib import Path

from bench.run import keep_logs


def test_the_logs_of_a_failed_run_outlive_its_folder(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    (folder / "db").mkdir(parents=True)
    (folder / "gateway.log").write_text("jti could not be recorded\n")
    (folder / "worker0.log").write_text("started\n")
    (folder / "tokens.json").write_text("[]")
    kept = keep_logs(folder)
    try:
        shutil.rmtree(folder)  # as the run's temporary folder is
        assert sorted(path.name for path in kept.iterdir()) == ["gateway.log", "worker0.log"]
        assert (kept / "gateway.log").read_text() == "jti could not be recorded\n"
    finally:
        shutil.rmtree(kept)
