"""Which build runs: compiled (mypyc) or pure Python, and the SENTRYKV_PURE switch.

The packaging promise (docs/build.md): with a C compiler the hot modules are
compiled; SENTRYKV_PURE=1 at run time loads their ``.py`` sources even when
compiled files sit beside them; a stale build (a source edited since) falls back
to the sources as a whole; the server says which build runs in its log and in
INFO server.
"""

from __future__ import annotations

import importlib.machinery
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from sentrykv_server import buildinfo
from tests.support.procs import ServerProcess

ROOT = Path(__file__).resolve().parent.parent
SO = importlib.machinery.EXTENSION_SUFFIXES[0]


def _compiler_available() -> bool:
    include = sysconfig.get_paths()["include"]
    return shutil.which(os.environ.get("CC", "cc")) is not None and os.path.exists(
        os.path.join(include, "Python.h"))


def _expected_build() -> str:
    """What this process should be running: the switch wins, else a compiler means compiled."""
    if buildinfo.pure_requested():
        return "pure"
    if not _compiler_available():
        pytest.skip("no C compiler here: the build installed is pure Python by design")
    return "compiled"


def _files_in_subprocess(env_pure: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != buildinfo.PURE_ENV}
    if env_pure is not None:
        env[buildinfo.PURE_ENV] = env_pure
    env["PYTHONPATH"] = str(ROOT)
    code = ("import json, importlib\nfrom sentrykv_server.buildinfo import COMPILED\n"
            "print(json.dumps({n: importlib.import_module(n).__file__ for n in COMPILED}))")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, check=True,
                         cwd=ROOT, timeout=60).stdout
    return json.loads(out)


def test_this_process_runs_the_expected_build() -> None:
    expected = _expected_build()
    compiled = buildinfo.compiled_modules()
    if expected == "pure":
        assert compiled == []
    else:
        assert compiled == list(buildinfo.COMPILED), (
            f"{buildinfo.describe()}: with a C compiler the install must be compiled "
            "(make rebuilds; SENTRYKV_PURE=1 at build time makes it pure on purpose)")


def test_pure_switch_loads_sources_even_with_compiled_files_present() -> None:
    pure = _files_in_subprocess("1")
    assert set(pure) == set(buildinfo.COMPILED)
    assert all(f.endswith(".py") for f in pure.values()), pure
    if _expected_build() == "compiled" and not buildinfo.pure_requested():
        native = _files_in_subprocess(None)
        assert all(f.endswith(SO) for f in native.values()), native


def test_finder_prefers_the_source_over_an_extension_file(tmp_path: Path) -> None:
    (tmp_path / "mod.py").write_text("X = 1\n")
    (tmp_path / f"mod{SO}").write_bytes(b"not really an extension")
    finder = buildinfo.PureSourceFinder(["pkg.mod"])
    spec = finder.find_spec("pkg.mod", [str(tmp_path)])
    assert spec is not None and spec.origin == str(tmp_path / "mod.py")
    assert finder.find_spec("pkg.other", [str(tmp_path)]) is None  # not ours: normal import
    # Without the finder, the ordinary path finder would pick the extension file.
    plain = importlib.machinery.PathFinder.find_spec("mod", [str(tmp_path)])
    assert plain is not None and plain.origin is not None and plain.origin.endswith(SO)


def test_stale_sources_are_detected(tmp_path: Path) -> None:
    pkg = tmp_path / "sentrykv_server"
    (pkg / "protocol").mkdir(parents=True)
    src = pkg / "protocol" / "reply.py"
    src.write_text("A = 1\n")
    name = "sentrykv_server.protocol.reply"
    manifest = {name: buildinfo.file_digest(str(src))}
    (pkg / buildinfo.MANIFEST).write_text(json.dumps(manifest))
    assert buildinfo.stale_sources(str(pkg)) == []
    src.write_text("A = 2\n")  # edited after the build
    assert buildinfo.stale_sources(str(pkg)) == [name]
    os.remove(pkg / buildinfo.MANIFEST)
    assert buildinfo.stale_sources(str(pkg)) == []  # no build, nothing stale


@pytest.mark.parametrize("pure", [False, True])
def test_server_reports_its_build(pure: bool) -> None:
    env = {buildinfo.PURE_ENV: "1"} if pure else {}
    if not pure:
        expected = _expected_build()
        if expected == "pure":  # the whole run is pure (make test-pure): nothing else to see
            pytest.skip("SENTRYKV_PURE=1 for this whole run")
    srv = ServerProcess(args=["--appendonly", "no"], env=env).start()
    try:
        info = srv.client().info("server")
        kind = "pure" if pure else "compiled"
        assert info["sentrykv_build"] == kind
        assert info["sentrykv_compiled_modules"] == (0 if pure else len(buildinfo.COMPILED))
        assert srv.client().set("k", "v") and srv.client().get("k") == b"v"
    finally:
        srv.stop()
        log = srv.log_text()
        srv.cleanup()
    assert ("build: pure Python (SENTRYKV_PURE=1)" if pure else "build: compiled (") in log
