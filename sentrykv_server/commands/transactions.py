"""MULTI / EXEC / DISCARD / WATCH / UNWATCH (Redis's multi.c) — WATCH bookkeeping."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sentrykv_server.protocol.connection import Client


def unwatch_all(client: Client) -> None:
    """Forget every key a client WATCHes."""
    watchers = client.server.keyspace.watchers
    for entry in client.watched:
        clients = watchers.get(entry)
        if clients is not None:
            clients.discard(client)
            if not clients:
                del watchers[entry]
    client.watched = []
    client.watch_dirty = False
