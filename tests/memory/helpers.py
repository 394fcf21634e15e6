"""Shared by the tests/memory modules."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from tests.core.helpers import Arg, Pair, raw_client
from tests.support.procs import RedisProcess, ServerProcess


def compare_script(server: ServerProcess, reference: RedisProcess, script: Sequence[Sequence[Arg]]) -> None:
    """Run ``script`` on both servers (after FLUSHALL) and require the same reply at every step."""
    pair = Pair(raw_client(server.port), raw_client(reference.port))
    try:
        pair.run(script)
    finally:
        pair.mine.close()
        pair.theirs.close()


def in_parallel(fn: Callable[..., Any], calls: Sequence[tuple[Any, ...]], timeout: float = 30) -> None:
    """Run ``fn(*args)`` for every ``args`` at once, each in its own thread, and wait for all."""
    threads = [threading.Thread(target=fn, args=args) for args in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
