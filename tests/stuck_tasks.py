"""When a test hangs, print what its event loop is waiting for.

pytest-timeout prints every thread's stack, but a test that hangs in an `await` shows
there only an idle event loop. Each test's loop is noted as the test starts
(`note_loop`); if one phase of a test (setup, call or teardown) runs for longer than
`AFTER_S`, shortly before the timeout, a thread prints the stack of every task of
that loop to stderr, so a run that fails by timeout says which await never finished.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Callable

# pytest-timeout's limit (pyproject) is 180 s a test: print a little before it.
AFTER_S = 150.0

_loops: list[asyncio.AbstractEventLoop] = []


def note_loop(loop: asyncio.AbstractEventLoop) -> None:
    _loops[:] = [loop]


def _print_tasks(phase: str) -> None:
    print(f"\n--- {phase} still running after {AFTER_S:.0f} s; its loop's tasks:",
          file=sys.stderr)
    for loop in list(_loops):
        for _attempt in range(3):  # the loop's set of tasks may change meanwhile
            try:
                tasks = list(asyncio.all_tasks(loop))
                break
            except RuntimeError:
                continue
        else:
            tasks = []
        for task in tasks:
            print(f"- {task!r}", file=sys.stderr)
            task.print_stack(limit=12, file=sys.stderr)


def watched(phase: str) -> Callable[[], None]:
    """Start watching `phase`; call the result when it ends."""
    timer = threading.Timer(AFTER_S, _print_tasks, args=(phase,))
    timer.daemon = True
    timer.start()
    return timer.cancel
