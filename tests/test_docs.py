"""Docs that are generated from code must match the code."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_command_table_doc_is_current() -> None:
    spec = importlib.util.spec_from_file_location("gen_command_table", ROOT / "scripts" / "gen_command_table.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert (ROOT / "docs" / "commands.md").read_text() == module.render(), (
        "docs/commands.md is stale: run .venv/bin/python scripts/gen_command_table.py"
    )


def test_readme_starts_with_the_two_commands() -> None:
    text = (ROOT / "README.md").read_text()
    block = text.split("```sh", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in block.strip().splitlines()]
    assert commands == ["make run", "make test"]
