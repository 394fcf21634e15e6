"""docker-compose.yml: its shape, and its benchmark command actually run against SentryKV."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.procs import ServerProcess

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "docker" / "docker-compose.yml").read_text())
    assert isinstance(data, dict)
    return data


def test_sentrykv_service(compose: dict[str, Any]) -> None:
    svc = compose["services"]["sentrykv"]
    assert svc["build"]["dockerfile"] == "docker/Dockerfile"
    assert (ROOT / "docker" / svc["build"]["context"]).resolve() == ROOT
    assert svc["restart"] in ("always", "unless-stopped", "on-failure")
    assert svc["healthcheck"]["test"][:2] == ["CMD", "sentrykv-healthcheck"]
    volume, _, target = svc["volumes"][0].partition(":")
    assert target == "/data" and volume in compose["volumes"]  # a named volume
    assert any(str(p).endswith(":6379") for p in svc["ports"])


def test_benchmark_service_waits_for_health(compose: dict[str, Any]) -> None:
    bench = compose["services"]["benchmark"]
    assert bench["image"].startswith("redis:7")
    assert bench["depends_on"]["sentrykv"]["condition"] == "service_healthy"
    assert "redis-benchmark -h sentrykv" in " ".join(bench["command"])


def _benchmark_script(compose: dict[str, Any], port: int) -> str:
    """The benchmark's shell line after compose interpolation ($$ -> $), aimed at a local port."""
    line = " ".join(compose["services"]["benchmark"]["command"]).replace("$$", "$")
    line = line.replace("-h sentrykv -p 6379", f"-h 127.0.0.1 -p {port}").replace("-n 100000", "-n 300")
    assert f"-p {port}" in line and "-n 300" in line
    return line


@pytest.mark.parametrize("password", [None, "bench pass"])
def test_benchmark_command_runs(compose: dict[str, Any], password: str | None) -> None:
    assert shutil.which("redis-benchmark"), "redis-benchmark (Debian redis-tools) is needed"
    args = ["--appendonly", "no"] + (["--requirepass", password] if password else [])
    srv = ServerProcess(args=args).start()
    try:
        env = {"PATH": "/usr/bin:/bin", "SENTRYKV_PASSWORD": password or ""}
        result = subprocess.run(["sh", "-c", _benchmark_script(compose, srv.port)], env=env,
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr
        out = result.stdout.replace("\r", "\n")
        for test in ("SET", "GET", "INCR"):
            assert any(line.startswith(f"{test}: ") and "requests per second" in line for line in out.splitlines()), out
        assert "NOAUTH" not in out and "ERR" not in out
    finally:
        srv.stop()
        srv.cleanup()
