"""``sentrykv-check DIR [--fix] [--dump]``: verify a data directory offline.

``--export-rdb FILE`` writes the directory's data as a Redis RDB file and
``--import-rdb FILE`` loads one into a fresh directory (persistence/rdb/transfer.py).

Exit status: 0 healthy (or fixed by ``--fix``), 1 damaged, 2 usage error.

The directory is checked by a list of :class:`Checker` objects, in order.
The snapshot checker verifies the newest snapshot (``*.snap``, see
persistence/snapshot.py) and sets ``ctx.base_lsn`` to its LSN; the WAL checker
then also verifies that the log reaches back to ``base_lsn + 1`` (without a
snapshot the log is checked on its own and may start at any LSN).

``--fix`` only ever cuts a torn tail of the last segment (what a crash
leaves, and what the server itself cuts at start-up); it prints exactly what
it drops first and refuses to touch damage in the middle of the log.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass, field
from typing import Protocol, TextIO

from sentrykv_server.persistence.records import RecordError, decode_ops, format_op
from sentrykv_server.persistence.wal_reader import (
    RecoveryReport,
    TornTail,
    WalCorruptionError,
    WalScan,
    cut_tail,
)

EXIT_OK, EXIT_DAMAGED, EXIT_USAGE = 0, 1, 2


@dataclass
class CheckContext:
    directory: str
    out: TextIO
    fix: bool = False
    dump: bool = False
    base_lsn: int | None = None  # LSN the newest valid snapshot covers, set by its checker
    problems: list[str] = field(default_factory=list)

    def say(self, line: str = "") -> None:
        print(line, file=self.out)


class Checker(Protocol):
    name: str

    def run(self, ctx: CheckContext) -> None:
        """Print findings; append one line per problem to ``ctx.problems``."""


class SnapshotChecker:
    """Verifies the newest snapshot (every block) and sets ``ctx.base_lsn`` to its LSN."""

    name = "snapshots"

    def run(self, ctx: CheckContext) -> None:
        from sentrykv_server.persistence.snapshot import check_snapshots

        check_snapshots(ctx)


class WalChecker:
    name = "wal"

    def run(self, ctx: CheckContext) -> None:
        scan = WalScan(ctx.directory, ctx.base_lsn, fix_tail=False, skip_covered=False)
        report = scan.report
        frames = 0
        first: int | None = None
        last: int | None = None
        corruption: WalCorruptionError | None = None
        undecodable: list[str] = []
        try:
            for lsn, payload in scan.frames():
                frames += 1
                if first is None:
                    first = lsn
                last = lsn
                if ctx.dump:
                    _dump_frame(ctx, lsn, payload, undecodable)
        except WalCorruptionError as exc:
            corruption = exc
        self._summary(ctx, report, frames, first, last)
        if undecodable:
            ctx.problems.append(
                f"{len(undecodable)} frame(s) with a valid CRC do not decode as commands "
                f"(first: {undecodable[0]})"
            )
        if corruption is not None:
            ctx.say(f"CORRUPT: {corruption.path} at offset {corruption.offset}: {corruption.reason}")
            ctx.say(f"first bad offset: {corruption.path}:{corruption.offset}")
            ctx.problems.append(f"corruption in {corruption.path} at offset {corruption.offset}")
            if ctx.fix:
                ctx.say(
                    "refusing to fix: this is damage inside the log, not a torn tail of the last "
                    "segment; cutting it would silently lose acknowledged writes. Restore the "
                    "directory from a backup or replica, or cut it by hand knowing what is lost."
                )
            return
        if report.tails:
            self._tails(ctx, report.tails)

    def _summary(
        self, ctx: CheckContext, report: RecoveryReport, frames: int, first: int | None, last: int | None
    ) -> None:
        total = sum(s.size for s in report.segments)
        lsn_range = f"LSN {first}..{last}" if first is not None else "no frames"
        ctx.say(f"WAL: {len(report.segments)} segment(s), {frames} frame(s), {lsn_range}, {total} bytes")
        for seg in report.segments:
            span = f"LSN {seg.first_lsn}..{seg.last_lsn}" if seg.last_lsn is not None else f"first LSN {seg.first_lsn}, empty"
            zeros = f" ({seg.zero_tail} of them preallocated zeros after the last frame)" if seg.zero_tail else ""
            ctx.say(f"  {os.path.basename(seg.path)}: {seg.frames} frame(s), {span}, {seg.size} bytes{zeros}")

    def _tails(self, ctx: CheckContext, tails: list[TornTail]) -> None:
        first = tails[0]
        ctx.say(f"first bad offset: {first.path}:{first.offset}")
        for tail in tails:
            what = (
                f"remove {tail.path} ({tail.bytes_dropped} bytes: {tail.reason})"
                if tail.whole_file
                else f"drop {tail.bytes_dropped} bytes from {tail.path} at offset {tail.offset} "
                f"({tail.reason})"
            )
            if ctx.fix:
                ctx.say(f"torn tail: will {what}")
            else:
                ctx.say(f"torn tail: --fix (or starting the server) would {what}")
        if not ctx.fix:
            ctx.problems.append("torn tail at the end of the last segment")
            return
        for tail in reversed(tails):
            cut_tail(tail)
        ctx.say("fixed: torn tail cut off and synced")


def _dump_frame(ctx: CheckContext, lsn: int, payload: bytes, undecodable: list[str]) -> None:
    try:
        ops = decode_ops(payload)
    except RecordError as exc:
        ctx.say(f"lsn={lsn} <undecodable payload of {len(payload)} bytes: {exc}>")
        undecodable.append(f"lsn={lsn}")
        return
    if len(ops) == 1:
        ctx.say(f"lsn={lsn} {format_op(*ops[0])}")
        return
    ctx.say(f"lsn={lsn} ops={len(ops)}")
    for db, argv in ops:
        ctx.say(f"  {format_op(db, argv)}")


CHECKERS: list[Checker] = [SnapshotChecker(), WalChecker()]


def check_directory(directory: str, *, fix: bool = False, dump: bool = False, out: TextIO | None = None) -> int:
    """Run every checker; return the exit status."""
    ctx = CheckContext(directory, out if out is not None else sys.stdout, fix=fix, dump=dump)
    for checker in CHECKERS:
        checker.run(ctx)
    if ctx.problems:
        ctx.say("status: DAMAGED")
        for problem in ctx.problems:
            ctx.say(f"  - {problem}")
        return EXIT_DAMAGED
    ctx.say("status: OK")
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="sentrykv-check",
        description="Verify a SentryKV data directory (WAL frames, CRCs, LSN continuity).",
    )
    parser.add_argument("dir", help="the server's data directory (its `dir` setting)")
    parser.add_argument(
        "--fix", action="store_true", help="cut a torn tail of the last WAL segment (never mid-log damage)"
    )
    parser.add_argument("--dump", action="store_true", help="print every frame as readable commands")
    parser.add_argument("--export-rdb", metavar="FILE",
                        help="write the directory's data to a Redis 7.0 RDB file (redis-server loads it)")
    parser.add_argument("--import-rdb", metavar="FILE",
                        help="load a Redis dump.rdb into DIR, which must hold no data yet")
    parser.add_argument("--databases", type=int, default=16, help="databases of the server (with --*-rdb)")
    args = parser.parse_args(argv)
    if args.export_rdb or args.import_rdb:
        return _rdb_transfer(args)
    if not os.path.isdir(args.dir):
        print(f"sentrykv-check: {args.dir}: not a directory", file=sys.stderr)
        return EXIT_USAGE
    try:
        return check_directory(args.dir, fix=args.fix, dump=args.dump)
    except BrokenPipeError:
        # Output piped into `head` and closed: not an error of the data.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except OSError as exc:
        print(f"sentrykv-check: {exc}", file=sys.stderr)
        return EXIT_DAMAGED


def _rdb_transfer(args: argparse.Namespace) -> int:
    """--import-rdb / --export-rdb (see persistence/rdb/transfer.py)."""
    from sentrykv_server.config import build_config
    from sentrykv_server.persistence.rdb.transfer import TransferError, export_rdb, import_rdb

    config = build_config(["--dir", args.dir, "--databases", str(args.databases), "--appendonly", "no"])
    try:
        if args.import_rdb:
            import_rdb(args.import_rdb, os.path.abspath(args.dir), config, out=sys.stdout)
        else:
            if not os.path.isdir(args.dir):
                print(f"sentrykv-check: {args.dir}: not a directory", file=sys.stderr)
                return EXIT_USAGE
            export_rdb(os.path.abspath(args.dir), args.export_rdb, config, out=sys.stdout)
    except TransferError as exc:
        print(f"sentrykv-check: {exc}", file=sys.stderr)
        return EXIT_DAMAGED
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
