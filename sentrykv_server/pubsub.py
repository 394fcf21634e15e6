"""Pub/Sub registry (Redis's pubsub.c): channel and pattern subscriptions.

The data-types work fills in the commands (commands/pubsub_cmds.py); this
module holds the registry the server and connections need.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sentrykv_server.protocol.connection import Client
    from sentrykv_server.server import Server


class PubSub:
    def __init__(self, server: Server) -> None:
        self.server = server
        self.channels: dict[bytes, set[Client]] = {}
        self.patterns: dict[bytes, set[Client]] = {}

    def channel_count(self) -> int:
        return len(self.channels)

    def pattern_count(self) -> int:
        return len(self.patterns)

    def forget(self, client: Client) -> None:
        """Drop every subscription of a client (disconnect, RESET)."""
        for channel in client.channels:
            subs = self.channels.get(channel)
            if subs is not None:
                subs.discard(client)
                if not subs:
                    del self.channels[channel]
        for pattern in client.patterns:
            subs = self.patterns.get(pattern)
            if subs is not None:
                subs.discard(client)
                if not subs:
                    del self.patterns[pattern]
        client.channels = set()
        client.patterns = set()
