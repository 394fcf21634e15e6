"""The image's ENTRYPOINT/CMD/HEALTHCHECK, executed on the host (no Docker engine here)."""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.docker.dockerfile import ROOT, copies, final_stage, stages
from tests.docker.imagerun import ImageRun
from tests.support.procs import free_port

DOCKERFILE = ROOT / "docker" / "Dockerfile"


@pytest.fixture
def runs() -> Iterator[list[ImageRun]]:
    started: list[ImageRun] = []
    yield started
    for run in started:
        run.stop()


def launch(runs: list[ImageRun], tmp: Path, env: dict[str, str] | None = None,
           cmd: list[str] | None = None, password: str | None = None) -> ImageRun:
    run = ImageRun(final_stage(), tmp, env=env, cmd=cmd)
    runs.append(run)
    return run.start(password=password)


def test_default_command_serves_and_keeps_data_in_the_volume(runs: list[ImageRun], tmp_path: Path) -> None:
    run = launch(runs, tmp_path)
    assert run.cmd[0] == "sentrykv-server"
    r = redis.Redis(port=run.port)
    assert r.ping() is True
    r.set("survives", "restart")
    health = run.healthcheck()
    assert (health.returncode, health.stdout.strip()) == (0, "PONG")
    assert run.stop() == 0  # SIGTERM reached the server itself: the entrypoint exec'ed it
    assert any(run.data.iterdir()), "the server wrote nothing under /data"
    # Data dir files are private (umask 0077 from the entrypoint).
    for path in run.data.rglob("*"):
        if path.is_file():
            assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path
    run.start()
    assert redis.Redis(port=run.port).get("survives") == b"restart"


def test_password_from_env(runs: list[ImageRun], tmp_path: Path) -> None:
    run = launch(runs, tmp_path, env={"SENTRYKV_PASSWORD": "s3cret"}, password="s3cret")
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(port=run.port).ping()
    assert redis.Redis(port=run.port, password="s3cret").ping() is True
    assert run.healthcheck().returncode == 0  # the health check authenticates from the same env
    wrong = run.healthcheck(env={"SENTRYKV_PASSWORD": "wrong"})
    assert wrong.returncode == 1 and "AUTH failed" in wrong.stdout


def test_password_from_file(runs: list[ImageRun], tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("from a file")
    run = launch(runs, tmp_path, env={"SENTRYKV_PASSWORD_FILE": str(secret)}, password="from a file")
    assert redis.Redis(port=run.port, password="from a file").ping() is True
    assert run.healthcheck().returncode == 0


def test_mounted_config_file(runs: list[ImageRun], tmp_path: Path) -> None:
    """`docker run -v ./my.conf:/usr/local/etc/sentrykv/sentrykv.conf sentrykv sentrykv-server <file>`."""
    conf = tmp_path / "sentrykv.conf"
    data = tmp_path / "confdata"
    data.mkdir()
    conf.write_text(f"bind 127.0.0.1\ndir {data}\nappendfsync always\n")
    run = launch(runs, tmp_path, cmd=["sentrykv-server", str(conf)])
    r = redis.Redis(port=run.port)
    assert r.config_get("appendfsync") == {"appendfsync": "always"}
    assert r.config_get("dir")["dir"] == str(data)


def test_config_file_alone_runs_the_server(runs: list[ImageRun], tmp_path: Path) -> None:
    """`docker run sentrykv /usr/local/etc/sentrykv/sentrykv.conf`, as with the redis image."""
    conf = tmp_path / "only.conf"
    conf.write_text(f"bind 127.0.0.1\ndir {tmp_path}\n")
    run = launch(runs, tmp_path, cmd=[str(conf)])
    assert redis.Redis(port=run.port).ping() is True


def test_options_alone_run_the_server(runs: list[ImageRun], tmp_path: Path) -> None:
    run = launch(runs, tmp_path, cmd=["--bind", "127.0.0.1", "--dir", str(tmp_path), "--appendfsync", "no"])
    assert redis.Redis(port=run.port).config_get("appendfsync") == {"appendfsync": "no"}


def test_protected_mode_is_off_in_the_image_unless_configured(runs: list[ImageRun], tmp_path: Path) -> None:
    """As in the redis image: no protected mode by default, but an explicit setting wins."""
    def protected(cmd: list[str] | None, where: Path) -> str:
        where.mkdir()
        run = launch(runs, where, cmd=cmd)
        value = redis.Redis(port=run.port).config_get("protected-mode")["protected-mode"]
        run.stop()
        return str(value)

    assert protected(None, tmp_path / "default") == "no"
    default_cmd = ImageRun(final_stage(), tmp_path).cmd
    assert protected([*default_cmd, "--protected-mode", "yes"], tmp_path / "option") == "yes"
    conf = tmp_path / "protected.conf"
    conf.write_text(f"bind 127.0.0.1\ndir {tmp_path}\nprotected-mode yes\n")
    assert protected(["sentrykv-server", str(conf)], tmp_path / "file") == "yes"
    conf.write_text(f"bind 127.0.0.1\ndir {tmp_path}\n")
    assert protected(["sentrykv-server", str(conf)], tmp_path / "plain-file") == "no"


def test_other_commands_run_as_given(tmp_path: Path) -> None:
    run = ImageRun(final_stage(), tmp_path, cmd=["sentrykv-cli", "--version"])
    result = subprocess.run(run.argv(), env=run.env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0 and result.stdout.startswith("sentrykv-cli ")


def test_healthcheck_is_unhealthy_when_nothing_listens(tmp_path: Path) -> None:
    run = ImageRun(final_stage(), tmp_path, env={"SENTRYKV_PORT": str(free_port())})
    result = run.healthcheck()
    assert result.returncode == 1  # never 2 or 3: Docker reserves 2
    assert "Could not connect to SentryKV" in result.stdout


def test_image_shape() -> None:
    all_stages = stages(DOCKERFILE.read_text())
    final = all_stages[-1]
    assert final.base == "python:3.11-slim"
    user = final.last("USER")
    assert user is not None and user.args.split(":")[0] not in ("0", "root")
    assert final.last("EXPOSE") is not None and final.last("EXPOSE").args.split() == ["6379"]  # type: ignore[union-attr]
    volume = final.last("VOLUME")
    assert volume is not None and "/data" in volume.args
    cmd = final.last("CMD")
    assert cmd is not None and '"--dir", "/data"' in cmd.args and '"--bind", "0.0.0.0"' in cmd.args


def test_copied_files_exist_and_scripts_are_executable() -> None:
    for stage in stages(DOCKERFILE.read_text()):
        for sources, _dest in copies(stage):
            for source in sources:
                path = ROOT / source
                assert path.exists(), f"COPY source {source} is missing from the repository"
    for script in ("entrypoint.sh", "healthcheck.sh"):
        mode = (ROOT / "docker" / script).stat().st_mode
        assert mode & stat.S_IXUSR, f"docker/{script} must be executable (git keeps the bit)"


def test_dockerignore_lets_the_build_inputs_through() -> None:
    ignore = (ROOT / "docker" / "Dockerfile.dockerignore").read_text().splitlines()
    allowed = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    for stage in stages(DOCKERFILE.read_text()):
        for sources, _dest in copies(stage):
            for source in sources:
                assert source.rstrip("/").lstrip("./") in allowed, f"{source} is excluded from the build context"
    assert os.path.exists(ROOT / "README.md")  # pyproject's readme: the wheel build needs it
