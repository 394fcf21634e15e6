"""bench.request_micro runs (a few rounds): the in-process GET/SET cost tool used in docs/memory.md."""

from __future__ import annotations

import pytest

from bench import request_micro


@pytest.mark.parametrize("extra", [[], ["--maxmemory", "+64kb", "--policy", "allkeys-lru"],
                                   ["--policy", "allkeys-lfu"]])
def test_request_micro_smoke(extra: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert request_micro.main(["--rounds", "20", "--repeat", "1", "--keys", "200", *extra]) == 0
    out = capsys.readouterr().out
    assert "SET -P 16" in out and "GET -P 16" in out
