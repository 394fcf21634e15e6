"""Command implementations, one module per family (Redis's t_*.c and friends).

Importing a family module registers its commands in
:mod:`sentrykv_server.commands.registry`.
"""

from __future__ import annotations

import importlib

FAMILIES = (
    "connection", "strings", "keys", "server_cmds", "config_cmd", "info", "introspection",
    "hashes", "lists", "sets", "zsets", "transactions", "pubsub_cmds", "blocking_cmds",
    "persistence_cmds", "dump_restore", "migrate", "bitops", "hyperloglog", "geo", "sort",
    "streams", "stream_groups", "stream_xgroup", "stream_info", "scripting_cmds",
    "acl_cmds",
    "memory_cmds", "lolwut", "client_cmds",
)


def load_all() -> None:
    """Import every family module present (later families plug in by adding a module)."""
    for name in FAMILIES:
        try:
            importlib.import_module(f"sentrykv_server.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"sentrykv_server.commands.{name}":
                raise
    importlib.import_module("sentrykv_server.replication.commands")
