"""WAL replay through the server's real recovery path: ``python -m bench.replay_micro``.

Writes N SET commands (``SET key:<n> <16 bytes>``) with the real WalWriter, in
frames of F ops (F = commands per event-loop pass: 1 for a lone unpipelined
client, 16+ under pipelining or many clients), then times
``Durability.recover`` on a fresh server object: scan + CRC + decode + apply
through the command table, exactly what a restart does.  Prints commands/s
and frames/s; with ``--repeat N`` the same log is replayed N times (a fresh
server each time) and the best and the median are shown.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time

from sentrykv_server.config import build_config
from sentrykv_server.persistence.durability import Durability
from sentrykv_server.persistence.records import encode_ops
from sentrykv_server.persistence.wal_writer import WalWriter
from sentrykv_server.server import Server


def write_log(directory: str, commands: int, per_frame: int) -> None:
    writer = WalWriter(directory, next_lsn=1)
    value = b"v" * 16
    ops: list[tuple[int, list[bytes]]] = []
    frames = 0
    for i in range(commands):
        ops.append((0, [b"SET", b"key:%07d" % i, value]))
        if len(ops) == per_frame:
            writer.append(encode_ops(ops))
            ops = []
            frames += 1
            if frames % 20000 == 0:
                writer.write_buffered()
    if ops:
        writer.append(encode_ops(ops))
    writer.write_buffered()
    writer.close()


def replay(directory: str) -> tuple[float, int, int]:
    server = Server(build_config(["--dir", directory]))
    start = time.perf_counter()
    aof = Durability.recover(server, directory, enabled=False)
    elapsed = time.perf_counter() - start
    assert aof is None
    return elapsed, server.recovery_info["wal_frames"], len(server.keyspace.dbs[0].data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--commands", type=int, default=1_000_000)
    parser.add_argument("--per-frame", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--repeat", type=int, default=1, help="replays of each log (best and median shown)")
    args = parser.parse_args()
    for per_frame in args.per_frame:
        directory = tempfile.mkdtemp(prefix="sentrykv-replay-")
        try:
            write_log(directory, args.commands, per_frame)
            size = sum(os.path.getsize(os.path.join(directory, n)) for n in os.listdir(directory))
            runs = []
            for _ in range(args.repeat):
                seconds, frames, keys = replay(directory)
                assert keys == args.commands, (keys, args.commands)
                runs.append(seconds)
            seconds = min(runs)
            median = f", median {args.commands / statistics.median(runs) / 1e6:.2f}M" if len(runs) > 1 else ""
            print(f"{args.commands} SETs, {per_frame} per frame ({size / 1e6:.0f} MB): replay {seconds:.2f} s = "
                  f"{args.commands / seconds / 1e6:.2f}M commands/s{median}, "
                  f"{frames / seconds / 1e6:.2f}M frames/s")
        finally:
            shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
