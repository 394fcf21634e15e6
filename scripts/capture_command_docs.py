"""Capture COMMAND DOCS from a reference redis-server into command_docs.json.

SentryKV answers COMMAND DOCS (which redis-cli uses for its argument hints)
with the same argument specs Redis publishes for its commands.  Run against
a redis-server 7.0 started for the purpose:

    python scripts/capture_command_docs.py 7001
"""

from __future__ import annotations

import json
import sys

import redis


def plain(value):  # bytes -> str, recursively
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, dict):
        return {plain(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [plain(v) for v in value]
    return value


def main() -> None:
    port = int(sys.argv[1])
    r = redis.Redis(port=port, protocol=3)
    conn = r.connection_pool.get_connection()
    conn.send_command("COMMAND", "DOCS")
    docs = plain(conn.read_response())
    out = "sentrykv_server/commands/command_docs.json"
    with open(out, "w") as fh:
        json.dump(docs, fh, sort_keys=True, separators=(",", ":"))
    print(f"wrote {len(docs)} commands to {out}")


if __name__ == "__main__":
    main()
