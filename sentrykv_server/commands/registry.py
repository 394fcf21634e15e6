"""The command table (Redis's server.c ``redisCommandTable``).

Every command is a plain function ``handler(client, argv) -> reply`` running on
the event loop; there is no coroutine per command.  The table entry carries
what the dispatcher needs before calling it (arity, auth, write gating, MULTI
queuing) and what ``COMMAND`` reports to clients.

Family modules register themselves with the :func:`command` decorator; the
package ``__init__`` imports them all so that importing
``sentrykv_server.commands`` builds the complete table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sentrykv_server.protocol.connection import Client

Handler = Callable[["Client", list[bytes]], Any]

# Flag names as Redis 7 reports them in COMMAND INFO.
WRITE = "write"
READONLY = "readonly"
DENYOOM = "denyoom"
ADMIN = "admin"
PUBSUB = "pubsub"
NOSCRIPT = "noscript"
BLOCKING = "blocking"
LOADING = "loading"
STALE = "stale"
FAST = "fast"
NO_AUTH = "no_auth"
NO_MULTI = "no_multi"
SKIP_SLOWLOG = "skip_slowlog"
ALLOW_BUSY = "allow_busy"
MAY_REPLICATE = "may_replicate"
SKIP_MONITOR = "skip_monitor"


@dataclass(eq=False, slots=True)
class Command:
    """One entry of the command table."""

    name: str
    handler: Handler
    arity: int
    flags: frozenset[str]
    first_key: int = 0
    last_key: int = 0
    step: int = 0
    group: str = "generic"
    summary: str = ""
    since: str = "1.0.0"
    complexity: str = ""
    subcommands: dict[str, Command] = field(default_factory=dict)
    parent: Command | None = None
    # Movable keys (SORT ... STORE, GEORADIUS ... STORE): argv -> key indexes.
    key_finder: Callable[[list[bytes]], list[int]] | None = None
    # Hot-path booleans derived from flags, read by the dispatcher.
    is_write: bool = False
    is_readonly: bool = False
    no_auth: bool = False
    calls: int = 0
    usec: int = 0
    rejected_calls: int = 0
    failed_calls: int = 0

    def __post_init__(self) -> None:
        self.is_write = WRITE in self.flags
        self.is_readonly = READONLY in self.flags
        self.no_auth = NO_AUTH in self.flags

    @property
    def full_name(self) -> str:
        """``config|get`` style name used by INFO commandstats and COMMAND."""
        return f"{self.parent.name}|{self.name}" if self.parent else self.name

    def key_positions(self, argv: list[bytes]) -> list[int]:
        """Indexes of key arguments in argv (COMMAND GETKEYS, WATCH bookkeeping)."""
        if self.key_finder is not None:
            return self.key_finder(argv)
        if self.first_key <= 0:
            return []
        last = self.last_key if self.last_key >= 0 else len(argv) + self.last_key
        return list(range(self.first_key, min(last, len(argv) - 1) + 1, self.step or 1))


# name (lower-case str) -> Command
COMMANDS: dict[str, Command] = {}
# Hot-path lookup keyed by the raw bytes clients send, in lower and upper case.
LOOKUP: dict[bytes, Command] = {}


def _flags(spec: str) -> frozenset[str]:
    return frozenset(spec.split()) if spec else frozenset()


def command(
    name: str,
    arity: int,
    flags: str = "",
    first_key: int = 0,
    last_key: int = 0,
    step: int = 0,
    *,
    group: str = "generic",
    summary: str = "",
    since: str = "1.0.0",
    complexity: str = "",
    keys: Callable[[list[bytes]], list[int]] | None = None,
) -> Callable[[Handler], Handler]:
    """Register a top-level command.  ``arity`` follows Redis: negative = at least."""

    def deco(fn: Handler) -> Handler:
        cmd = Command(
            name, fn, arity, _flags(flags), first_key, last_key, step,
            group=group, summary=summary or (fn.__doc__ or "").strip().split("\n")[0],
            since=since, complexity=complexity, key_finder=keys,
        )
        COMMANDS[name] = cmd
        raw = name.encode()
        LOOKUP[raw] = cmd
        LOOKUP[raw.upper()] = cmd
        return fn

    return deco


def subcommand(
    parent: str,
    name: str,
    arity: int,
    flags: str = "",
    first_key: int = 0,
    last_key: int = 0,
    step: int = 0,
    *,
    summary: str = "",
    since: str = "1.0.0",
) -> Callable[[Handler], Handler]:
    """Register ``PARENT NAME`` (e.g. CONFIG GET); the parent must be registered first."""

    def deco(fn: Handler) -> Handler:
        owner = COMMANDS[parent]
        sub = Command(
            name, fn, arity, _flags(flags), first_key, last_key, step,
            group=owner.group, summary=summary or (fn.__doc__ or "").strip().split("\n")[0],
            since=since, parent=owner,
        )
        owner.subcommands[name] = sub
        return fn

    return deco


def total_calls() -> int:
    """total_commands_processed: per-command counters summed (no global counter on the hot path)."""
    return sum(cmd.calls + sum(sub.calls for sub in cmd.subcommands.values()) for cmd in COMMANDS.values())


def lookup(name: bytes) -> Command | None:
    """Find a command by the bytes a client sent, in any letter case."""
    cmd = LOOKUP.get(name)
    if cmd is None:
        try:
            cmd = COMMANDS.get(name.decode("latin-1").lower())
        except AttributeError:
            return None
    return cmd
