"""bench.hotpath_micro runs for real at a tiny size (timed scenarios and the callgrind mode)."""

from __future__ import annotations

import pytest

from bench import hotpath_micro


def test_timed_scenarios_print_every_case(capsys: pytest.CaptureFixture[str]) -> None:
    hotpath_micro.main(["--requests", "320", "--repeat", "1", "--keys", "50"])
    lines = [line for line in capsys.readouterr().out.splitlines() if "ns/req" in line]
    assert len(lines) == 18, lines
    assert any(line.startswith("this client tracks: GET hit") for line in lines)


@pytest.mark.parametrize("setting", ["off", "notify=KEAnm", "tracking-other", "tracking-self"])
def test_single_case_mode_runs_each_setting(setting: str, capsys: pytest.CaptureFixture[str]) -> None:
    hotpath_micro.main(["--only", "set", "--setting", setting, "--requests", "64", "--keys", "10"])
    assert capsys.readouterr().out == ""
