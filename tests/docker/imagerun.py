"""Run the image's ENTRYPOINT + CMD on the host, as Docker would inside the container.

Only three things change: /data becomes a temporary directory, the port is a
free one (given through SENTRYKV_PORT, the image's own knob), and 0.0.0.0
becomes 127.0.0.1 (tests stay on loopback). Scripts copied into the image run
as-is from the repository, found on PATH under the names the image gives them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.docker.dockerfile import ROOT, Stage, copies, env_pairs, exec_form, healthcheck_command
from tests.support.procs import free_port, wait_ready


class ImageRun:
    def __init__(self, stage: Stage, tmp: Path, env: dict[str, str] | None = None,
                 cmd: list[str] | None = None) -> None:
        self.stage = stage
        self.data = tmp / "data"
        self.data.mkdir(exist_ok=True)
        self.bin = tmp / "image-bin"
        self.bin.mkdir(exist_ok=True)
        self.port = free_port()
        self.log = tmp / "container.log"
        self.proc: subprocess.Popen[bytes] | None = None
        for sources, dest in copies(stage):
            if dest.startswith("/usr/local/bin/") and len(sources) == 1:
                link = self.bin / Path(dest).name
                if not link.exists():
                    link.symlink_to(ROOT / sources[0])
        self.env = self._env(env or {})
        self.entrypoint = self._argv("ENTRYPOINT")
        self.cmd = cmd if cmd is not None else self._argv("CMD")

    def _env(self, extra: dict[str, str]) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SENTRYKV_", "PYTHON"))}
        for ins in self.stage.all("ENV"):
            env.update(env_pairs(ins.args))
        env["PATH"] = os.pathsep.join([str(self.bin), str(Path(sys.executable).parent), env.get("PATH", "")])
        env["SENTRYKV_PORT"] = str(self.port)
        env.update(extra)
        return env

    def map_path(self, value: str) -> str:
        if value == "/data" or value.startswith("/data/"):
            return str(self.data) + value[len("/data"):]
        return "127.0.0.1" if value == "0.0.0.0" else value

    def _argv(self, keyword: str) -> list[str]:
        ins = self.stage.last(keyword)
        assert ins is not None, f"the image must declare {keyword}"
        return [self.map_path(a) for a in exec_form(ins.args)]

    @property
    def workdir(self) -> str:
        ins = self.stage.last("WORKDIR")
        return self.map_path(ins.args) if ins else str(self.data)

    def argv(self) -> list[str]:
        return [*self.entrypoint, *self.cmd]

    def start(self, password: str | None = None) -> ImageRun:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(self.argv(), env=self.env, cwd=self.workdir,
                                         stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_ready(self.port, self.proc, password=password)
        except Exception as exc:
            raise AssertionError(f"{exc}\n--- log ---\n{self.log.read_text(errors='replace')}") from exc
        return self

    def healthcheck(self, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        argv = [self.map_path(a) for a in healthcheck_command(self.stage)]
        return subprocess.run(argv, env={**self.env, **(env or {})}, capture_output=True, text=True,
                              timeout=30, cwd=self.workdir)

    def stop(self) -> int | None:
        """docker stop: SIGTERM to the entrypoint's process (the server, after exec)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.proc.returncode
