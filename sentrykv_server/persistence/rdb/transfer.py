"""Moving whole datasets: a Redis ``dump.rdb`` into a data directory, and back out.

:func:`import_rdb` streams the file and writes its keys straight into a
snapshot (``persistence/snapshot.py``) of generation 1 at LSN 0, in blocks of
2048 keys: the dataset never has to fit in memory twice, and once the
snapshot is renamed and its directory synced (the checkpoint sequence) a
``kill -9`` cannot lose it; the server then starts from it like from any
checkpoint.  Only a *fresh* directory is accepted (no snapshot, no WAL
segment), so an import can never mix with, or silently replace, data.

:func:`export_rdb` loads a data directory the way the server recovers it
(newest snapshot + WAL replay, without modifying anything) and writes every
live key to an RDB file that redis-server 7.0 loads.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from typing import Any, TextIO

from sentrykv_server.persistence import snapshot
from sentrykv_server.persistence.rdb.decode import Limits
from sentrykv_server.persistence.rdb.rdbfile import LoadReport, RdbWriter, read_rdb
from sentrykv_server.persistence.wal_format import list_segments

BLOCK_KEYS = 2048
PROGRESS_SECONDS = 2.0


class TransferError(Exception):
    """An import or export that cannot be done; the message says why."""


@dataclass
class ImportResult:
    report: LoadReport
    snapshot: str
    seconds: float


class _Blocks:
    """Keys of one database gathered into snapshot entries blocks."""

    def __init__(self, writer: snapshot.SnapshotWriter) -> None:
        self.writer = writer
        self.table = snapshot.encoders()
        self.pending: dict[int, tuple[list[bytes], list[Any], list[int], list[int]]] = {}
        self.seen: dict[int, set[bytes]] = {}

    def add(self, db: int, key: bytes, value: Any, expire: int | None) -> None:
        seen = self.seen.setdefault(db, set())
        if key in seen:
            raise TransferError(f"the file holds key {key[:100]!r} twice in db {db}")
        seen.add(key)
        keys, values, exp_idx, exp_ms = self.pending.setdefault(db, ([], [], [], []))
        if expire is not None:
            exp_idx.append(len(keys))
            exp_ms.append(expire)
        keys.append(key)
        values.append(value)
        if len(keys) >= BLOCK_KEYS:
            self.flush(db)

    def flush(self, db: int) -> None:
        block = self.pending.pop(db, None)
        if block is None or not block[0]:
            return
        keys, values, exp_idx, exp_ms = block
        try:
            flags, parts = snapshot.encode_entries(keys, values, exp_idx, exp_ms, self.table)
        except TypeError as exc:
            raise TransferError(f"cannot store a value in a snapshot: {exc}") from None
        self.writer.write_blocks([(db, len(keys), flags, parts)])

    def flush_all(self) -> None:
        for db in sorted(self.pending):
            self.flush(db)


def check_fresh(directory: str) -> None:
    """Refuse a directory that already holds a snapshot or WAL segments."""
    if snapshot.list_snapshots(directory) or list_segments(directory):
        raise TransferError(
            f"{directory} already holds SentryKV data (a snapshot or WAL segments); "
            "import into a fresh, empty data directory"
        )


def import_rdb(path: str, directory: str, config: Any, out: TextIO | None = None) -> ImportResult:
    """Load the RDB file at ``path`` into the fresh data directory ``directory``, durably."""
    out = out if out is not None else sys.stderr
    started = time.monotonic()
    os.makedirs(directory, exist_ok=True)
    check_fresh(directory)
    for stale in snapshot.list_temporary(directory):  # an import killed half-way
        os.unlink(stale)
    databases = int(config.get("databases"))
    limits = Limits.from_config(config)
    try:
        fh = open(path, "rb")
    except OSError as exc:
        raise TransferError(f"cannot read {path}: {exc.strerror or exc}") from None
    writer = snapshot.SnapshotWriter(directory, generation=1, lsn=0, databases=databases)
    last = [started]

    def progress(done: int, total: int, keys: int) -> None:
        now = time.monotonic()
        if now - last[0] >= PROGRESS_SECONDS:
            last[0] = now
            pct = 100.0 * done / total if total else 100.0
            print(f"Importing {path}: {done / 1e6:.1f} of {total / 1e6:.1f} MB ({pct:.0f}%), "
                  f"{keys} keys, {now - started:.0f}s", file=out, flush=True)

    codes: list[bytes] = []
    try:
        with fh:
            writer.open()
            blocks = _Blocks(writer)
            report = read_rdb(fh, limits, blocks.add, databases=databases, progress=progress,
                              on_function=codes.append)
            blocks.flush_all()
            _check_libraries(codes, config)
            writer.write_functions(codes)
            writer.finish()
    except BaseException as exc:
        writer.abort()
        if isinstance(exc, TransferError):
            raise
        if isinstance(exc, ValueError):  # RdbError and friends
            raise TransferError(f"{path}: {exc}") from None
        raise
    seconds = time.monotonic() - started
    print(f"Imported {path} into {directory}: {report.keys} keys, {report.expired} already expired "
          f"and {report.empty} empty keys skipped, RDB version {report.version}, "
          f"checksum {report.checksum}, {seconds:.1f}s", file=out, flush=True)
    return ImportResult(report, writer.path, seconds)


def _check_libraries(codes: list[bytes], config: Any) -> None:
    """Function libraries of an imported file must load, or the server would refuse to start."""
    if not codes:
        return
    from sentrykv_server.commands.errors import CommandError
    from sentrykv_server.scripting.functions import load_codes
    from sentrykv_server.server import Server

    try:
        load_codes(Server(config), codes)
    except CommandError as exc:
        raise TransferError(f"a function library of the file does not load: {exc.message}") from None


def load_directory(directory: str, config: Any) -> Any:
    """A keyspace recovered from ``directory`` (snapshot + WAL) without touching its files.

    The function libraries it holds are on ``keyspace.function_codes``."""
    from sentrykv_server.persistence import wal_reader
    from sentrykv_server.persistence.durability import ReplayClient
    from sentrykv_server.server import Server

    server = Server(config)
    keyspace = server.keyspace
    keyspace.loading = True
    try:
        loaded = snapshot.load_latest(directory, keyspace)
        if loaded is not None and loaded.functions:
            from sentrykv_server.scripting.functions import load_codes

            load_codes(server, loaded.functions)
        client = ReplayClient(server)
        wal_reader.recover_batches(
            directory, lambda first, payloads: client.apply_batch(payloads, first),
            after_lsn=loaded.lsn if loaded is not None else 0, fix_tail=False,
        )
    except (snapshot.SnapshotError, wal_reader.WalCorruptionError) as exc:
        raise TransferError(str(exc)) from None
    finally:
        keyspace.loading = False
    keyspace.function_codes = server.functions.codes() if server.functions is not None else []
    return keyspace


def export_rdb(directory: str, path: str, config: Any, out: TextIO | None = None) -> int:
    """Write every live key of the data directory to the RDB file ``path``; return the count."""
    out = out if out is not None else sys.stderr
    keyspace = load_directory(directory, config)
    limits = Limits.from_config(config)
    now = int(time.time() * 1000)
    tmp = path + ".tmp"
    try:
        with open(tmp, "wb") as fh:
            writer = RdbWriter(fh, limits)
            for code in keyspace.function_codes:
                writer.function(code)
            for db in keyspace.dbs:
                live = [(k, db.expires.get(k)) for k in db.data if db.expires.get(k, now + 1) > now]
                if not live:
                    continue
                writer.select_db(db.id, len(live), sum(1 for _k, e in live if e is not None))
                for key, expire in live:
                    writer.key(key, db.data[key], expire)
            writer.finish()
            fh.flush()
            os.fsync(fh.fileno())
        os.rename(tmp, path)
    except TypeError as exc:
        os.unlink(tmp)
        raise TransferError(f"cannot export: {exc}") from None
    except OSError as exc:
        raise TransferError(f"cannot write {path}: {exc.strerror or exc}") from None
    print(f"Exported {writer.keys} keys from {directory} to {path}", file=out, flush=True)
    return writer.keys
