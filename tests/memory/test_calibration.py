"""The memory model stays within its documented error of tracemalloc (docs/memory.md).

In-process, 3k elements per scenario (the full table, with RSS, comes from
``scripts/calibrate_memory.py``).
"""

from __future__ import annotations

import pytest

from scripts.calibrate_memory import measure_traced


@pytest.mark.parametrize("scenario", ["strings-100", "strings-ttl", "hash-small", "set-big", "zset-big"])
def test_model_is_close_to_tracemalloc(scenario: str) -> None:
    model, traced = measure_traced(scenario, 3_000)
    assert 0.85 <= model / traced <= 1.2, (scenario, model, traced)
