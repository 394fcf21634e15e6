"""Shutdown as Redis 7.0 does it: SHUTDOWN's flags, SIGTERM/SIGINT, and the save-or-stay rule.

Redis's sequence (server.c prepareForShutdown/finishShutdown): a signal handler only sets
``shutdown_asap``; the next cron pass runs the shutdown with the flags of
``shutdown-on-sigterm`` / ``shutdown-on-sigint``.  A save that fails (without FORCE)
cancels the shutdown: SHUTDOWN answers ``Errors trying to SHUTDOWN. Check logs.``, a
signal is logged, and the server keeps running.  Otherwise the log is flushed and
fsynced and the process exits 0.  A second SIGINT exits at once with status 1.  With no
replicas are waited for (``shutdown-timeout``, not with NOW) by ``Server.shutdown`` through
``Replication.before_shutdown``, after the save; ABORT cannot cancel that wait.

Two things make this hold under load in Python:

* The handlers are installed with :func:`signal.signal`, not ``loop.add_signal_handler``:
  Python runs them between bytecodes even while a command holds the loop, so
  ``DEBUG SLEEP`` (which sleeps in slices, see :func:`interruptible_sleep`) notices the
  flag within 50 ms, as Redis's nanosleep returns on EINTR; the loop is woken with
  ``call_soon_threadsafe``.
* Once the shutdown starts, every client stops being read, so 50 clients hammering the
  server cannot delay the final flush and fsync.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sentrykv_server.commands.errors import CommandError, syntax_error

if TYPE_CHECKING:
    from sentrykv_server.protocol.connection import Client
    from sentrykv_server.server import Server

log = logging.getLogger("sentrykv")

SIGNAL_FLAG_NAMES = ("default", "save", "nosave", "now", "force")
SAVE_AND_NOSAVE = "shutdown options SAVE and NOSAVE can't be used simultaneously"
SHUTDOWN_FAILED = "ERR Errors trying to SHUTDOWN. Check logs."
_SLEEP_SLICE = 0.05


class ShutdownWait:
    """``client.blocked`` for the client whose SHUTDOWN is running (Redis's BLOCKED_SHUTDOWN):
    nothing it pipelined after SHUTDOWN runs.  ``keys`` is empty for the blocking registry."""

    __slots__ = ()
    keys: tuple[bytes, ...] = ()


@dataclass(frozen=True)
class Flags:
    """SHUTDOWN's options; ``save`` None means "as configured" (shutdown-checkpoint)."""

    save: bool | None = None
    now: bool = False
    force: bool = False


def parse_command(argv: list[bytes]) -> Flags | None:
    """SHUTDOWN's arguments: the flags, or None for ABORT (Redis's shutdownCommand checks)."""
    save = nosave = now = force = abort = False
    for arg in argv[1:]:
        low = arg.lower()
        if low == b"nosave":
            nosave = True
        elif low == b"save":
            save = True
        elif low == b"now":
            now = True
        elif low == b"force":
            force = True
        elif low == b"abort":
            abort = True
        else:
            raise syntax_error()
    if (abort and (save or nosave or now or force)) or (save and nosave):
        raise syntax_error()
    if abort:
        return None
    return Flags(save=True if save else (False if nosave else None), now=now, force=force)


def parse_signal_flags(text: str) -> frozenset[str]:
    """``shutdown-on-sigterm`` / ``shutdown-on-sigint``: space-separated flag names."""
    words = [w.lower() for w in text.split(" ")]
    if not text or any(w not in SIGNAL_FLAG_NAMES for w in words):
        raise ValueError("argument(s) must be one of the following: " + ", ".join(SIGNAL_FLAG_NAMES))
    names = frozenset(w for w in words if w != "default")
    if "save" in names and "nosave" in names:
        raise ValueError(SAVE_AND_NOSAVE)
    return names


def show_signal_flags(names: frozenset[str]) -> str:
    return " ".join(n for n in SIGNAL_FLAG_NAMES if n in names) or "default"


def _flags_from_names(names: frozenset[str]) -> Flags:
    save = True if "save" in names else (False if "nosave" in names else None)
    return Flags(save=save, now="now" in names, force="force" in names)


class ShutdownControl:
    """The server's shutdown state: signals, SHUTDOWN, and the save-or-stay decision."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.asap = False  # a signal asked for a shutdown (Redis's shutdown_asap)
        self.last_signal = 0
        self.in_progress = False
        self.now = False
        self.task: asyncio.Task[None] | None = None

    # -- signals -----------------------------------------------------------------------------
    def install(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_signal)

    def _on_signal(self, signum: int, frame: Any) -> None:
        """Runs in the main thread between bytecodes, possibly inside a command."""
        if self.asap and signum == signal.SIGINT:
            log.warning("You insist... exiting now.")
            os._exit(1)
        name = "SIGINT" if signum == signal.SIGINT else "SIGTERM"
        log.warning("Received %s scheduling shutdown...", name)
        self.asap = True
        self.last_signal = signum
        loop = self.server.loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._from_signal)

    def _from_signal(self) -> None:
        if self.in_progress:
            return
        name = "shutdown-on-sigint" if self.last_signal == signal.SIGINT else "shutdown-on-sigterm"
        self.begin(_flags_from_names(self.server.config.value(name)), None)

    # -- the sequence ------------------------------------------------------------------------
    def command(self, client: Client, argv: list[bytes]) -> None:
        """SHUTDOWN: start the sequence; the client gets no reply unless it fails."""
        flags = parse_command(argv)
        if flags is None:
            raise CommandError("ERR No shutdown in progress.")  # nothing ever waits for replicas
        if not self.begin(flags, client):
            raise CommandError(SHUTDOWN_FAILED)

    def begin(self, flags: Flags, client: Client | None) -> bool:
        """Stop reading every client, then save if asked and exit (False if already running)."""
        server = self.server
        if self.in_progress:
            return False
        self.in_progress = True
        self.now = flags.now  # SHUTDOWN NOW: do not wait for replicas (Server.shutdown)
        log.warning("User requested shutdown...")
        self._pause_clients(True)
        save = flags.save if flags.save is not None else bool(server.config.shutdown_checkpoint)
        if client is not None:
            client.blocked = ShutdownWait()
        if not save or server.checkpointer is None:
            # Nothing to wait for: decide now.  This also lets a slow script's busy
            # hook (scripting/busy.py), which runs while the loop cannot, see it.
            self._finish()
            return True
        self.task = asyncio.get_running_loop().create_task(self._run(flags, client))
        return True

    async def _run(self, flags: Flags, client: Client | None) -> None:
        server = self.server
        assert server.checkpointer is not None
        ok = await server.checkpointer.final_save()
        if not ok and not flags.force:
            log.warning("Error trying to save the DB, can't exit.")
            self._cancel(client)
            return
        self._finish()

    def _finish(self) -> None:
        """The final checkpoint (if any) is taken: let serve() run the shutdown."""
        server = self.server
        server.shutdown_save = False
        if server.shutdown_requested is not None:
            server.shutdown_requested.set()

    def _cancel(self, client: Client | None) -> None:
        """The save failed: report it and keep serving (Redis's finishShutdown error path)."""
        if client is None:
            name = "SIGINT" if self.last_signal == signal.SIGINT else "SIGTERM"
            log.warning("%s received but errors trying to shut down the server, "
                        "check the logs for more information", name)
        self.in_progress = False
        self.asap = False
        self._pause_clients(False)
        if client is not None:
            from sentrykv_server.protocol.reply import encode_error

            client.blocked = None
            client.push(encode_error(SHUTDOWN_FAILED))
            client.resume()

    def _pause_clients(self, pause: bool) -> None:
        for client in list(self.server.clients.values()):
            transport = client.transport
            if transport is None or client.closing or transport.is_closing():
                continue
            if client.replica_link is not None:
                continue  # replicas are never paused: their acknowledgements end the wait for them
            if pause:
                transport.pause_reading()
            elif not client.read_paused:
                transport.resume_reading()

    def stop_reading_all(self) -> None:
        """The final sequence: clients connected meanwhile stop being read too."""
        self._pause_clients(True)


def interruptible_sleep(server: Server, seconds: float) -> bool:
    """DEBUG SLEEP: block the loop like Redis, but wake for a shutdown signal; True if woken."""
    deadline = time.monotonic() + seconds
    control = server.shutdown_ctl
    while not control.asap:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        time.sleep(min(remaining, _SLEEP_SLICE))
    return True
