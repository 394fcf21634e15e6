"""Clients blocked on keys (Redis's blocked.c): BLPOP and friends.

The data-types work implements the blocking commands; this module holds the
registry the server and connections need (who waits on which key, timeouts).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sentrykv_server.protocol.connection import Client
    from sentrykv_server.server import Server
    from sentrykv_server.store.keyspace import Database


class BlockingRegistry:
    def __init__(self, server: Server) -> None:
        self.server = server
        self.waiting: dict[tuple[int, bytes], list[Client]] = {}
        self.blocked: set[Client] = set()

    def count(self) -> int:
        return len(self.blocked)

    def key_ready(self, db: Database, key: bytes) -> None:
        """A key that clients may be waiting on received data."""

    def check_timeouts(self, now: float) -> None:
        """Unblock clients whose timeout passed."""

    def unblock(self, client: Client, error: bool = False) -> None:
        """CLIENT UNBLOCK."""

    def forget(self, client: Client) -> None:
        self.blocked.discard(client)
