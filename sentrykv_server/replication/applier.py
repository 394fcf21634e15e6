"""Applying the master's stream on a replica (Redis's master client), unit by unit.

The stream is parsed with hiredis; each command's size on the wire is its
canonical RESP length (what every master writes), which is how the offset
advances.  A unit is one command, or everything from ``MULTI`` to ``EXEC``:
its commands run through ``dispatch.call`` on a client that stands for the
master (replies discarded, never blocking, the copy-on-write guard of a
running checkpoint applied), then the unit's bytes go on to this replica's
backlog and sub-replicas, the offset advances, and only then are the unit's
effects committed as one WAL frame — so the WAL marker of that frame
(``marker.py``) carries an offset that includes it: a restart resumes after
exactly the units on disk.

While a unit runs the keyspace is in "loading" mode: keys whose TTL passed
stay visible to the master's commands (the master decides expiry and sends
DEL), as Redis does for its master client.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import hiredis

from sentrykv_server.commands.errors import CommandError
from sentrykv_server.commands.registry import lookup
from sentrykv_server.replication.stream import encode_command, encoded_size

if TYPE_CHECKING:
    from sentrykv_server.protocol.connection import Client
    from sentrykv_server.replication.replica import MasterLink
    from sentrykv_server.replication.state import Replication

log = logging.getLogger("sentrykv.replication")


class Applier:
    def __init__(self, repl: Replication, link: MasterLink) -> None:
        self.repl = repl
        self.link = link
        self.reader = hiredis.Reader()
        self.client = self._master_client()
        self.queued: list[list[bytes]] | None = None  # inside MULTI
        self.queued_size = 0
        self.errors = 0

    def _master_client(self) -> Client:
        from sentrykv_server.protocol.connection import Client

        client = Client(self.repl.server)
        client.authenticated = True
        client.deny_blocking = True
        client.is_master = True
        client.name = b""
        return client

    def reset(self) -> None:
        """After a full sync: a fresh parser, database 0 (the stream starts with a SELECT)."""
        self.reader = hiredis.Reader()
        self.queued = None
        self.queued_size = 0
        self.client.select(0)

    def feed(self, data: bytes) -> None:
        self.reader.feed(data)
        gets = self.reader.gets
        while not self.link.closed:
            try:
                item = gets()
            except hiredis.ProtocolError as exc:
                self.link.fail(f"Protocol error in the stream from the master: {exc}")
                return
            if item is False:
                return
            if type(item) is not list or not item or any(type(a) is not bytes for a in item):
                self.link.fail(f"Unexpected item in the stream from the master: {item!r:.80}")
                return
            self._command(item)

    def _command(self, argv: list[bytes]) -> None:
        size = encoded_size(argv)
        name = argv[0].lower()
        if self.queued is not None:
            self.queued_size += size
            if name == b"exec":
                units, self.queued = self.queued, None
                raw = [encode_command([b"MULTI"]), *map(encode_command, units), encode_command(argv)]
                self._apply(units, b"".join(raw))
            elif name == b"discard":
                self.queued = None
                self._advance(b"".join([encode_command([b"MULTI"]), encode_command(argv)]))
            else:
                self.queued.append(argv)
            return
        if name == b"multi":
            self.queued = []
            self.queued_size = size
            return
        if name == b"replconf" and len(argv) >= 2 and argv[1].lower() == b"getack":
            self.link.send_ack(force=True)  # the offset before this command, as Redis acks it
            self._advance(encode_command(argv))
            return
        if name == b"ping":
            self._advance(encode_command(argv))
            return
        self._apply([argv], encode_command(argv))

    def _advance(self, raw: bytes) -> None:
        # No WAL marker of its own: a restart that resumes before a PING or GETACK gets it
        # again, and both are no-ops (a marker-only frame would cost an fsync per WAITAOF).
        self.repl.proxy(raw)

    def _apply(self, units: list[list[bytes]], raw: bytes) -> None:
        from sentrykv_server.dispatch import after_call, call

        repl = self.repl
        server = repl.server
        c = self.client
        keyspace = server.keyspace
        keyspace.loading = True
        try:
            for argv in units:
                cmd = lookup(argv[0])
                if cmd is None:
                    self._error(argv, "unknown command")
                    continue
                result = call(c, cmd, argv)
                if type(result) is CommandError:
                    self._error(argv, result.message)
        finally:
            keyspace.loading = False
        c.out.clear()
        repl.proxy(raw)
        lsn_before = server.last_lsn
        had_ops = bool(server.ops)
        after_call(c)
        if had_ops and server.aof is not None and server.last_lsn >= lsn_before:
            self.link.committed(server.last_lsn, repl.offset)

    def _error(self, argv: list[bytes], message: str) -> None:
        self.errors += 1
        if self.errors <= 10 or self.errors % 1000 == 0:
            log.warning("== CRITICAL == This replica is sending an error to its master: '%s' after processing "
                        "the command '%s' (%d errors so far)", message, argv[0].decode("utf-8", "replace"),
                        self.errors)


def master_client_info(repl: Replication) -> Any:
    link = repl.link
    return None if link is None else link.applier.client
