"""Write docs/commands.md from the command table (run after adding commands).

    .venv/bin/python scripts/gen_command_table.py

tests/test_docs.py fails when the file is out of date.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sentrykv_server.commands import load_all  # noqa: E402
from sentrykv_server.commands.registry import COMMANDS  # noqa: E402

GROUP_TITLES = {
    "string": "Strings", "generic": "Keys", "hash": "Hashes", "list": "Lists", "set": "Sets",
    "sorted_set": "Sorted sets", "stream": "Streams", "transactions": "Transactions", "pubsub": "Pub/Sub",
    "connection": "Connection", "server": "Server", "scripting": "Scripting and functions",
    "bitmap": "Bitmaps", "hyperloglog": "HyperLogLog", "geo": "Geo",
}


def render() -> str:
    load_all()
    groups: dict[str, list[str]] = {}
    for name in sorted(COMMANDS):
        cmd = COMMANDS[name]
        entry = name.upper()
        if cmd.subcommands:
            entry += " (" + ", ".join(sorted(s.upper() for s in cmd.subcommands)) + ")"
        groups.setdefault(cmd.group, []).append(entry)
    lines = [
        "# Supported commands",
        "",
        "Generated from the command table by `scripts/gen_command_table.py`; semantics, replies and",
        "error strings follow Redis 7.0. Total: %d commands." % len(COMMANDS),
        "",
        "| group | commands |",
        "|---|---|",
    ]
    order = list(GROUP_TITLES) + sorted(set(groups) - set(GROUP_TITLES))
    for group in order:
        if group in groups:
            lines.append(f"| {GROUP_TITLES.get(group, group)} | {', '.join(groups[group])} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    out = ROOT / "docs" / "commands.md"
    out.write_text(render())
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
