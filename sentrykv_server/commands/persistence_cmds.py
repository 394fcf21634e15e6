"""Persistence commands: SAVE, BGSAVE, BGREWRITEAOF (checkpoints) and WAITAOF.

SAVE, BGSAVE and BGREWRITEAOF all take the same checkpoint (a snapshot at one
LSN, then the WAL segments it covers are deleted; see
persistence/checkpoint.py).  BGREWRITEAOF is Redis's way of asking to compact
the log, which is what a checkpoint does, so it reports through the
``aof_*rewrite*`` INFO fields; the others through the ``rdb_*`` fields.
SAVE never stops the server as Redis's does: only the calling client waits
until the snapshot is durable.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sentrykv_server.commands.errors import CommandError, parse_int, syntax_error
from sentrykv_server.commands.registry import command
from sentrykv_server.protocol.reply import NO_REPLY, encode_error, to_bytes

if TYPE_CHECKING:
    from sentrykv_server.persistence.checkpoint import Checkpointer
    from sentrykv_server.protocol.connection import Client

NO_AOF = "ERR WAITAOF cannot be used when numlocal is set but appendonly is disabled."
WAITAOF_POLL_S = 0.001


def _checkpointer(c: Client) -> Checkpointer:
    ckpt = c.server.checkpointer
    if ckpt is None:
        raise CommandError("ERR checkpoints are not available (the server is starting or stopping)")
    return ckpt  # type: ignore[no-any-return,unused-ignore]


@command("save", 1, "admin noscript no_async_loading no_multi", group="server")
def save_cmd(c: Client, argv: list[bytes]) -> Any:
    """Take a checkpoint and reply once it is durable (other clients keep running)."""
    if c.in_exec or c.multi is not None:
        raise CommandError("ERR Command not allowed inside a transaction")
    try:
        _checkpointer(c).save(c)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    return NO_REPLY


@command("bgsave", -1, "admin noscript no_async_loading", group="server")
def bgsave_cmd(c: Client, argv: list[bytes]) -> Any:
    """Start a checkpoint in the background (SCHEDULE: after the running one)."""
    schedule = False
    if len(argv) > 1:
        if len(argv) == 2 and argv[1].lower() == b"schedule":
            schedule = True
        else:
            raise syntax_error()
    try:
        return _checkpointer(c).bgsave(c, schedule)
    except ValueError as exc:
        raise CommandError(str(exc)) from None


@command("bgrewriteaof", 1, "admin noscript no_async_loading", group="server")
def bgrewriteaof_cmd(c: Client, argv: list[bytes]) -> Any:
    """Compact the write-ahead log: take a checkpoint, drop the segments it covers."""
    try:
        return _checkpointer(c).bgrewriteaof(c)
    except ValueError as exc:
        raise CommandError(str(exc)) from None


# -- WAITAOF ------------------------------------------------------------------------------------
class AofWait:
    """``client.blocked`` while WAITAOF waits (no further request is parsed meanwhile)."""

    __slots__ = ("task",)

    def __init__(self) -> None:
        self.task: asyncio.Task[None] | None = None


def _parse_timeout_ms(raw: bytes) -> int:
    """Redis's getTimeoutFromObjectOrReply in milliseconds."""
    value = parse_int(raw, "ERR timeout is not an integer or out of range")
    if value < 0:
        raise CommandError("ERR timeout is negative")
    return value


def _acked_local(c: Client) -> int:
    aof = c.server.aof
    return 1 if aof is not None and aof.durable_lsn >= c.wait_lsn else 0


def _acked_replicas(c: Client) -> int:
    """Replicas whose FACK (stream fsynced there) covers this client's writes."""
    return c.server.repl.count_acked(c.woff, fsynced=True)


@command("waitaof", 4, "noscript", group="generic", since="7.2.0")
def waitaof_cmd(c: Client, argv: list[bytes]) -> Any:
    """Wait until this client's writes are fsynced locally and by N replicas (their FACKs)."""
    numlocal = parse_int(argv[1])
    if not 0 <= numlocal <= 1:
        raise CommandError("ERR value is out of range, value must between 0 and 1")
    numreplicas = parse_int(argv[2])
    if numreplicas < 0:
        raise CommandError("ERR value is out of range, must be positive")
    timeout_ms = _parse_timeout_ms(argv[3])
    server = c.server
    if server.repl.is_replica:
        raise CommandError(
            "ERR WAITAOF cannot be used with replica instances. Please also note that writes to "
            "replicas are just local and are not propagated."
        )
    if numlocal and server.aof is None:
        raise CommandError(NO_AOF)
    acked = _acked_local(c)
    replicas = _acked_replicas(c)
    # Like Redis: answer at once when satisfied, or where a client may not block (EXEC).
    if (acked >= numlocal and replicas >= numreplicas) or c.in_exec or c.multi is not None:
        return [acked, replicas]
    if numreplicas:
        server.repl.request_acks()
    if server.aof is not None and not acked:
        server.aof.write_pass()  # hand this client's frames to the kernel before asking for the fsync
        _request_sync(c)
    state = AofWait()
    c.blocked = state
    deadline = time.monotonic() + timeout_ms / 1000.0 if timeout_ms else None
    task = asyncio.get_running_loop().create_task(
        poll_then_reply(c, state, _aof_poll(c, numlocal, numreplicas, deadline)))
    state.task = task
    ckpt = server.checkpointer
    if ckpt is not None:
        ckpt.wait_tasks.add(task)
        task.add_done_callback(ckpt.wait_tasks.discard)
    return NO_REPLY


def _request_sync(c: Client) -> None:
    """Under everysec / no, make the group committer fsync now rather than at its next tick."""
    aof = c.server.aof
    if aof is None:
        return
    sync_now = getattr(aof.committer, "sync_now", None)
    if sync_now is not None:
        sync_now()
    else:  # pragma: no cover - older group committer: the kick works under "always" only
        aof.committer.kick()


async def poll_then_reply(c: Client, state: Any, poll: Callable[[], bytes | None]) -> None:
    """Call ``poll`` every millisecond until it returns the reply; then unblock the client,
    send the reply and run its next requests (WAITAOF here, WAIT in replication/commands.py)."""
    reply: bytes | None = None
    try:
        while not c.closing:
            reply = poll()
            if reply is not None:
                break
            await asyncio.sleep(WAITAOF_POLL_S)
    except asyncio.CancelledError:
        if c.blocked is state:
            c.blocked = None
        raise
    if c.blocked is state:
        c.blocked = None
    if reply is not None and not c.closing:
        c.push(reply)
        c.process_input()


def _aof_poll(c: Client, numlocal: int, numreplicas: int, deadline: float | None) -> Callable[[], bytes | None]:
    """WAITAOF's condition: the reply once satisfied or timed out, else None."""

    def poll() -> bytes | None:
        if numlocal and c.server.aof is None:
            return encode_error(NO_AOF)  # appendonly switched off while waiting (Redis does this)
        acked = _acked_local(c)
        replicas = _acked_replicas(c)
        if (acked >= numlocal and replicas >= numreplicas) or (deadline is not None and time.monotonic() >= deadline):
            return to_bytes([acked, replicas], c.resp3)
        if not acked and numlocal:
            _request_sync(c)
        return None

    return poll
