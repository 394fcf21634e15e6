"""docker-compose.replication.yml: a master, two replicas and three sentinels.

There is no Docker engine here, so the file is checked for its shape and then
its services' own command lines are run on the host, as the containers would
run them (the entrypoint script on PATH, /data a temporary directory, service
names replaced by 127.0.0.1 and free ports): the three SentryKV instances
replicate and three real redis-sentinel processes, started from
docker/sentinel.conf, find the master, both replicas and each other.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml

from tests.replication.helpers import wait_for
from tests.support.procs import free_port, wait_ready

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker" / "docker-compose.replication.yml"
SENTRYKV = ("master", "replica1", "replica2")
SENTINELS = ("sentinel1", "sentinel2", "sentinel3")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(data, dict)
    return data


def test_shape(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == set(SENTRYKV) | set(SENTINELS)
    for name in SENTRYKV:
        svc = services[name]
        assert svc["build"]["dockerfile"] == "docker/Dockerfile"
        assert svc["healthcheck"]["test"] == ["CMD", "sentrykv-healthcheck"]
        volume, _, target = svc["volumes"][0].partition(":")
        assert target == "/data" and volume in compose["volumes"]
        assert svc["environment"]["ANNOUNCE"] == name
    assert services["master"]["environment"]["ROLE_LINES"] == ""
    for name in ("replica1", "replica2"):
        assert services[name]["environment"]["ROLE_LINES"] == "replicaof master 6379"
        assert services[name]["depends_on"]["master"]["condition"] == "service_healthy"
    for name in SENTINELS:
        svc = services[name]
        assert svc["image"].startswith("redis:7")
        assert "redis-sentinel /data/sentinel.conf" in svc["command"][0]
        assert any(v.startswith("./sentinel.conf:") for v in svc["volumes"])
    conf = (ROOT / "docker" / "sentinel.conf").read_text()
    assert "sentinel monitor mymaster master 6379 2" in conf
    assert "sentinel resolve-hostnames yes" in conf


class HostRun:
    """The services' commands, run on the host."""

    def __init__(self, compose: dict[str, Any]) -> None:
        self.compose = compose
        self.tmp = Path(tempfile.mkdtemp(prefix="sentrykv-compose-"))
        self.bin = self.tmp / "bin"
        self.bin.mkdir()
        (self.bin / "docker-entrypoint.sh").symlink_to(ROOT / "docker" / "entrypoint.sh")
        (self.bin / "sentrykv-healthcheck").symlink_to(ROOT / "docker" / "healthcheck.sh")
        self.ports = {name: free_port() for name in (*SENTRYKV, *SENTINELS)}
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def _env(self, name: str) -> dict[str, str]:
        venv_bin = str(Path(sys.executable).parent)
        env = {"PATH": f"{self.bin}:{venv_bin}:/usr/bin:/bin", "HOME": str(self.tmp),
               "PYTHONPATH": str(ROOT)}
        for key, value in (self.compose["services"][name].get("environment") or {}).items():
            env[key] = str(value).replace("master 6379", f"127.0.0.1 {self.ports['master']}")
        if "ANNOUNCE" in env:
            env["ANNOUNCE"] = "127.0.0.1"
            env["SENTRYKV_PORT"] = str(self.ports[name])
        return env

    def _script(self, name: str, data: Path) -> str:
        script = " ".join(self.compose["services"][name]["command"]).replace("$$", "$")
        return script.replace("/data", str(data)).replace("/etc/sentinel", str(data / "etc"))

    def start(self, name: str) -> None:
        data = self.tmp / name
        data.mkdir()
        if name in SENTINELS:
            (data / "etc").mkdir()
            conf = (ROOT / "docker" / "sentinel.conf").read_text()
            conf = conf.replace("port 26379", f"port {self.ports[name]}\nbind 127.0.0.1")
            conf = conf.replace("dir /data", f"dir {data}")
            conf = conf.replace("mymaster master 6379", f"mymaster 127.0.0.1 {self.ports['master']}")
            conf = conf.replace("down-after-milliseconds mymaster 5000", "down-after-milliseconds mymaster 1000")
            (data / "etc" / "sentinel.conf").write_text(conf)
        log = open(data.parent / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
        self.procs[name] = subprocess.Popen(["sh", "-c", self._script(name, data)], env=self._env(name),
                                            stdout=log, stderr=subprocess.STDOUT, cwd=data)
        log.close()
        if name in SENTRYKV:
            wait_ready(self.ports[name], self.procs[name])

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(10)
        shutil.rmtree(self.tmp, ignore_errors=True)


@pytest.fixture
def host_run(compose: dict[str, Any]) -> Iterator[HostRun]:
    run = HostRun(compose)
    yield run
    run.stop()


def test_compose_topology_runs(host_run: HostRun) -> None:
    assert shutil.which("redis-sentinel"), "redis-sentinel (Debian's package) is needed: make redis-tools"
    for name in SENTRYKV:
        host_run.start(name)
    master = redis.Redis(port=host_run.ports["master"])
    wait_for(lambda: master.info("replication")["connected_slaves"] == 2, 30, "both replicas")
    replica = redis.Redis(port=host_run.ports["replica1"])
    master.set("through-compose", "1")
    wait_for(lambda: replica.get("through-compose") == b"1", 30, "the write to reach the replica")
    assert "replicaof 127.0.0.1" in (host_run.tmp / "replica1" / "sentrykv.conf").read_text()
    for name in SENTINELS:
        host_run.start(name)
    for name in SENTINELS:
        sentinel = redis.Redis(port=host_run.ports[name])

        def ready(s: redis.Redis = sentinel) -> bool:
            state = s.sentinel_master("mymaster")
            return int(state["num-slaves"]) == 2 and int(state["num-other-sentinels"]) == 2

        wait_for(ready, 30, f"{name} to see both replicas and the other sentinels")
