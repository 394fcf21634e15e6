"""SUBSCRIBE, PSUBSCRIBE, SSUBSCRIBE and their UN-forms, PUBLISH, SPUBLISH, PUBSUB.

A (un)subscribe command answers with one message per channel, so a handler
returns the concatenated encoding as a ``Raw`` reply: written as-is by the
dispatcher, and inside EXEC appended as-is too (several replies for one
queued command, exactly as Redis produces them).  The messages are arrays
in RESP2 and push types in RESP3.

RESP2 "subscribed mode" (only (P|S)(UN)SUBSCRIBE, PING, QUIT and RESET are
accepted) is enforced by the dispatcher from ``client.channels``,
``client.patterns`` and ``client.shard_channels``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sentrykv_server.commands.errors import CommandError, unknown_subcommand
from sentrykv_server.commands.registry import command
from sentrykv_server.protocol.reply import Push, Raw, encode
from sentrykv_server.store.glob import compile_glob

if TYPE_CHECKING:
    from sentrykv_server.protocol.connection import Client


def _count(c: Client) -> int:
    """The subscription count Redis reports: channels + patterns (shard channels apart)."""
    return len(c.channels) + len(c.patterns)


def _notices(c: Client, kind: bytes, names: list[bytes | None], counts: list[int]) -> Raw:
    out = bytearray()
    for name, count in zip(names, counts, strict=True):
        encode(out, Push([kind, name, count]), c.resp3)
    return Raw(bytes(out))


@command("subscribe", -2, "pubsub noscript loading stale", group="pubsub", since="2.0.0")
def subscribe_cmd(c: Client, argv: list[bytes]) -> Any:
    """Listen for messages published to channels."""
    pubsub = c.server.pubsub
    counts = []
    for channel in argv[1:]:
        pubsub.subscribe(c, channel)
        counts.append(_count(c))
    return _notices(c, b"subscribe", list(argv[1:]), counts)


@command("psubscribe", -2, "pubsub noscript loading stale", group="pubsub", since="2.0.0")
def psubscribe_cmd(c: Client, argv: list[bytes]) -> Any:
    """Listen for messages published to channels matching glob patterns."""
    pubsub = c.server.pubsub
    counts = []
    for pattern in argv[1:]:
        pubsub.psubscribe(c, pattern)
        counts.append(_count(c))
    return _notices(c, b"psubscribe", list(argv[1:]), counts)


@command("ssubscribe", -2, "pubsub noscript loading stale", 1, -1, 1, group="pubsub", since="7.0.0")
def ssubscribe_cmd(c: Client, argv: list[bytes]) -> Any:
    """Listen for messages published to shard channels."""
    pubsub = c.server.pubsub
    counts = []
    for channel in argv[1:]:
        pubsub.ssubscribe(c, channel)
        counts.append(len(c.shard_channels))
    c.refresh()
    return _notices(c, b"ssubscribe", list(argv[1:]), counts)


def _unsubscribe(c: Client, argv: list[bytes], kind: bytes, current: set[bytes],
                 drop: Any, count: Any) -> Raw:
    names: list[bytes | None] = list(argv[1:]) if len(argv) > 1 else list(current)
    if not names:
        return _notices(c, kind, [None], [count()])
    counts = []
    for name in names:
        drop(c, name)
        counts.append(count())
    return _notices(c, kind, names, counts)


@command("unsubscribe", -1, "pubsub noscript loading stale", group="pubsub", since="2.0.0")
def unsubscribe_cmd(c: Client, argv: list[bytes]) -> Any:
    """Stop listening to channels (all of them without arguments)."""
    return _unsubscribe(c, argv, b"unsubscribe", c.channels, c.server.pubsub.unsubscribe, lambda: _count(c))


@command("punsubscribe", -1, "pubsub noscript loading stale", group="pubsub", since="2.0.0")
def punsubscribe_cmd(c: Client, argv: list[bytes]) -> Any:
    """Stop listening to patterns (all of them without arguments)."""
    return _unsubscribe(c, argv, b"punsubscribe", c.patterns, c.server.pubsub.punsubscribe, lambda: _count(c))


@command("sunsubscribe", -1, "pubsub noscript loading stale", 1, -1, 1, group="pubsub", since="7.0.0")
def sunsubscribe_cmd(c: Client, argv: list[bytes]) -> Any:
    """Stop listening to shard channels (all of them without arguments)."""
    reply = _unsubscribe(c, argv, b"sunsubscribe", c.shard_channels, c.server.pubsub.sunsubscribe,
                         lambda: len(c.shard_channels))
    c.refresh()
    return reply


@command("publish", 3, "pubsub loading stale fast may_replicate", group="pubsub", since="2.0.0")
def publish_cmd(c: Client, argv: list[bytes]) -> Any:
    """Post a message to a channel; returns how many subscribers received it."""
    feed = c.server.repl_feed
    if feed is not None:  # replicas deliver it to their own subscribers (stream only, not the WAL)
        feed([(c.db.id, [b"PUBLISH", argv[1], argv[2]])], c)
    return c.server.pubsub.publish(argv[1], argv[2])


@command("spublish", 3, "pubsub loading stale fast may_replicate", 1, 1, 1, group="pubsub", since="7.0.0")
def spublish_cmd(c: Client, argv: list[bytes]) -> Any:
    """Post a message to a shard channel."""
    return c.server.pubsub.spublish(argv[1], argv[2])


_PUBSUB_HELP = [
    "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CHANNELS [<pattern>]",
    "    Return the currently active channels matching a <pattern> (default: '*').",
    "NUMPAT",
    "    Return number of subscriptions to patterns.",
    "NUMSUB [<channel> ...]",
    "    Return the number of subscribers for the specified channels, excluding",
    "    pattern subscriptions(default: no channels).",
    "SHARDCHANNELS [<pattern>]",
    "    Return the currently active shard level channels matching a <pattern> (default: '*').",
    "SHARDNUMSUB [<shardchannel> ...]",
    "    Return the number of subscribers for the specified shard level channel(s)",
    "HELP",
    "    Prints this help.",
]


def _matching(names: Any, argv: list[bytes]) -> list[bytes]:
    if len(argv) == 2:
        return list(names)
    match = compile_glob(argv[2])
    return [name for name in names if match(name)]


@command("pubsub", -2, "", group="pubsub", since="2.8.0")
def pubsub_cmd(c: Client, argv: list[bytes]) -> Any:
    """Introspect the Pub/Sub state."""
    sub = argv[1].lower()
    n = len(argv)
    pubsub = c.server.pubsub
    if sub in (b"channels", b"shardchannels"):
        if n > 3:
            name = argv[1].decode("utf-8", "replace")
            raise CommandError(
                f"ERR unknown subcommand or wrong number of arguments for '{name}'. Try PUBSUB HELP."
            )
        table = pubsub.channels if sub == b"channels" else pubsub.shard_channels
        return _matching(table, argv)
    if sub in (b"numsub", b"shardnumsub"):
        table = pubsub.channels if sub == b"numsub" else pubsub.shard_channels
        out: list[Any] = []
        for channel in argv[2:]:
            out.append(channel)
            out.append(len(table.get(channel) or ()))
        return out
    if sub in (b"numpat", b"help"):
        if n != 2:
            raise CommandError(f"ERR wrong number of arguments for 'pubsub|{sub.decode()}' command")
        return pubsub.pattern_count() if sub == b"numpat" else _PUBSUB_HELP
    raise unknown_subcommand(argv[1], "PUBSUB")
