"""CONFIG GET / SET / RESETSTAT / REWRITE."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sentrykv_server.commands.errors import CommandError, unknown_subcommand
from sentrykv_server.commands.registry import command
from sentrykv_server.config import ConfigError

if TYPE_CHECKING:
    from sentrykv_server.protocol.connection import Client

_HELP = [
    "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GET <pattern>", "    Return parameters matching the glob-like <pattern> and their values.",
    "SET <directive> <value>", "    Set the configuration <directive> to <value>.",
    "RESETSTAT", "    Reset statistics reported by the INFO command.",
    "REWRITE", "    Rewrite the configuration file.",
    "HELP", "    Prints this help.",
]


@command("config", -2, "admin noscript loading stale", group="server")
def config_cmd(c: Client, argv: list[bytes]) -> Any:
    """Read or change the configuration at run time."""
    sub = argv[1].lower()
    config = c.server.config
    if sub == b"get":
        if len(argv) < 3:
            raise CommandError("ERR wrong number of arguments for 'config|get' command")
        result: dict[bytes, bytes] = {}
        for pattern in argv[2:]:
            text = pattern.decode("utf-8", "surrogateescape")
            exact = not any(ch in text for ch in "*?[")
            for name, value in config.matching(text):
                # An exact name is echoed as the client spelled it (CONFIG GET MAXCLIENTS).
                result[pattern if exact else name.encode()] = value.encode()
        return result
    if sub == b"set":
        if len(argv) < 4:
            raise CommandError("ERR wrong number of arguments for 'config|set' command")
        if len(argv) % 2:
            raise CommandError("ERR syntax error")
        pairs = [(argv[i].decode("utf-8", "replace"), argv[i + 1].decode("utf-8", "surrogateescape"))
                 for i in range(2, len(argv), 2)]
        try:
            config.set_many(pairs)
        except ConfigError as exc:
            if exc.reason == "unknown":
                shown = exc.name.split("\0", 1)[0]  # Redis prints the name as a C string
                raise CommandError(f"ERR Unknown option or number of arguments for CONFIG SET - '{shown}'") from None
            raise CommandError(
                f"ERR CONFIG SET failed (possibly related to argument '{exc.name}') - {exc.reason}"
            ) from None
        return "OK"
    if sub == b"resetstat" and len(argv) == 2:
        server = c.server
        server.stats.reset()
        server.keyspace.reset_hit_stats()
        server.keyspace.expired_keys = 0
        server.keyspace.evicted_keys = 0
        server.evictor.reset_stats()
        from sentrykv_server.commands.registry import COMMANDS

        for cmd in COMMANDS.values():
            for entry in (cmd, *cmd.subcommands.values()):
                entry.calls = entry.usec = entry.failed_calls = entry.rejected_calls = 0
        server.slowlog.reset()
        if server.aof is not None:
            server.aof.reset_stats()
        return "OK"
    if sub == b"rewrite" and len(argv) == 2:
        try:
            config.rewrite()
        except ConfigError as exc:
            raise CommandError(f"ERR {exc.reason}") from None
        except OSError as exc:
            raise CommandError(f"ERR Rewriting config file: {exc.strerror}") from None
        return "OK"
    if sub == b"help" and len(argv) == 2:
        return _HELP
    if sub in (b"resetstat", b"rewrite", b"help"):
        raise CommandError(f"ERR wrong number of arguments for 'config|{sub.decode()}' command")
    raise unknown_subcommand(argv[1], argv[0])
