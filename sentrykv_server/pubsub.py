"""Pub/Sub registry (Redis's pubsub.c): channel, pattern and shard-channel subscriptions.

The commands live in commands/pubsub_cmds.py; this module owns who listens
to what and the fan-out of PUBLISH.  Subscribers of a channel are kept in an
insertion-ordered dict (used as an ordered set) so delivery follows
subscription order like Redis's lists.

A message is encoded at most twice per PUBLISH (once per protocol version in
use) and the same bytes are queued on every subscriber with ``Client.push``.
A subscriber that does not read is bounded by ``client-output-buffer-limit
pubsub``: ``Client.flush`` measures the transport's buffer after each write
and drops the connection once over the limit (see Server.output_limit_exceeded).

Shard channels (SSUBSCRIBE/SPUBLISH) behave like channels on a server that
owns every slot (``client.shard_channels``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from sentrykv_server.store.glob import compile_glob

if TYPE_CHECKING:
    from sentrykv_server.protocol.connection import Client
    from sentrykv_server.server import Server

Subscribers = dict["Client", None]


class PubSub:
    def __init__(self, server: Server) -> None:
        self.server = server
        self.channels: dict[bytes, Subscribers] = {}
        self.patterns: dict[bytes, Subscribers] = {}
        self.shard_channels: dict[bytes, Subscribers] = {}
        self._matchers: dict[bytes, Callable[[bytes], object]] = {}

    # -- counters (INFO) -------------------------------------------------------------------
    def channel_count(self) -> int:
        return len(self.channels)

    def pattern_count(self) -> int:
        return len(self.patterns)

    # -- subscriptions ---------------------------------------------------------------------
    def subscribe(self, client: Client, channel: bytes) -> None:
        if channel not in client.channels:
            client.channels.add(channel)
            self.channels.setdefault(channel, {})[client] = None

    def unsubscribe(self, client: Client, channel: bytes) -> None:
        if channel in client.channels:
            client.channels.discard(channel)
            _remove(self.channels, channel, client)

    def psubscribe(self, client: Client, pattern: bytes) -> None:
        if pattern not in client.patterns:
            client.patterns.add(pattern)
            subs = self.patterns.get(pattern)
            if subs is None:
                subs = self.patterns[pattern] = {}
                self._matchers[pattern] = compile_glob(pattern)
            subs[client] = None

    def punsubscribe(self, client: Client, pattern: bytes) -> None:
        if pattern in client.patterns:
            client.patterns.discard(pattern)
            if _remove(self.patterns, pattern, client):
                self._matchers.pop(pattern, None)

    def ssubscribe(self, client: Client, channel: bytes) -> None:
        if channel not in client.shard_channels:
            client.shard_channels.add(channel)
            self.shard_channels.setdefault(channel, {})[client] = None

    def sunsubscribe(self, client: Client, channel: bytes) -> None:
        if channel in client.shard_channels:
            client.shard_channels.discard(channel)
            _remove(self.shard_channels, channel, client)

    def forget(self, client: Client) -> None:
        """Drop every subscription of a client (disconnect, RESET)."""
        for channel in client.channels:
            _remove(self.channels, channel, client)
        for pattern in client.patterns:
            if _remove(self.patterns, pattern, client):
                self._matchers.pop(pattern, None)
        for channel in client.shard_channels:
            _remove(self.shard_channels, channel, client)
        client.channels = set()
        client.patterns = set()
        client.shard_channels = set()

    # -- delivery --------------------------------------------------------------------------
    def publish(self, channel: bytes, message: bytes) -> int:
        """Deliver to channel subscribers, then to every matching pattern; count receivers."""
        receivers = 0
        subs = self.channels.get(channel)
        if subs:
            receivers += _deliver(subs, [b"message", channel, message])
        if self.patterns:
            matchers = self._matchers
            for pattern, psubs in list(self.patterns.items()):
                if matchers[pattern](channel):
                    receivers += _deliver(psubs, [b"pmessage", pattern, channel, message])
        return receivers

    def spublish(self, channel: bytes, message: bytes) -> int:
        subs = self.shard_channels.get(channel)
        if not subs:
            return 0
        return _deliver(subs, [b"smessage", channel, message])


def _remove(table: dict[bytes, Subscribers], name: bytes, client: Client) -> bool:
    """Remove one subscriber; True when the channel/pattern has none left."""
    subs = table.get(name)
    if subs is None:
        return False
    subs.pop(client, None)
    if not subs:
        del table[name]
        return True
    return False


def _deliver(subs: Subscribers, message: list[bytes]) -> int:
    """Queue one message on every subscriber, encoding it once per protocol version.

    A message is a few bulk strings, so its encoding is written out directly
    (keyspace notifications publish several messages per write).
    """
    body = b"".join([b"$%d\r\n%s\r\n" % (len(part), part) for part in message])
    resp2: bytes | None = None
    resp3: bytes | None = None
    n = 0
    for client in list(subs):
        if client.resp3:
            if resp3 is None:
                resp3 = b">%d\r\n" % len(message) + body
            client.push(resp3)
        else:
            if resp2 is None:
                resp2 = b"*%d\r\n" % len(message) + body
            client.push(resp2)
        n += 1
    return n
