"""Capture COMMAND INFO from a reference redis-server into command_info.json.

COMMAND INFO reports, for every Redis command, flags, ACL categories, tips and key
specifications that SentryKV repeats verbatim for the same commands (arity and
key positions still come from SentryKV's own table).  Run against a redis-server
7.0 started for the purpose:

    python scripts/capture_command_info.py 7001
"""

from __future__ import annotations

import json
import sys
from typing import Any

import redis


def plain(value: Any) -> Any:  # bytes -> str, recursively, keeping map order
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, dict):
        return {plain(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [plain(v) for v in value]
    return value


def entry(reply: list[Any]) -> dict[str, Any]:
    name, arity, flags, first, last, step, acl, tips, specs, subs = reply
    return {
        "arity": arity, "flags": plain(flags), "first_key": first, "last_key": last, "step": step,
        "acl_categories": plain(acl), "tips": plain(tips), "key_specifications": plain(specs),
        "subcommands": {plain(sub[0]).split("|", 1)[1]: entry(sub) for sub in subs},
    }


def main() -> None:
    port = int(sys.argv[1])
    r = redis.Redis(port=port, protocol=3)
    r.response_callbacks.clear()
    table = r.execute_command("COMMAND")
    info = {plain(reply[0]): entry(reply) for reply in table}
    out = "sentrykv_server/commands/command_info.json"
    with open(out, "w") as fh:
        json.dump(info, fh, separators=(",", ":"))  # no sort_keys: key specs keep Redis's order
    print(f"wrote {len(info)} commands to {out}")


if __name__ == "__main__":
    main()
