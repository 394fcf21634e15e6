"""Micro-benchmark of the WAL layer alone (no server): ``python -m bench.wal_micro``.

Prints, for a SET-shaped op (``SET key:<n> <16 bytes> PXAT <ms>``):

* encode_ops ns/op, and encode + WalWriter.append ns/op (the per-write hot path);
* append + write_buffered + sync throughput, at several frames per fsync
  (1 = one fsync per write, as a lone client under ``always``; larger batches
  are what group commit achieves under load);
* recovery of N records (default 1M): scan + CRC only, and scan + decode_ops.

Figures are absolute and the machine is shared and noisy: compare runs made
close together, not with figures from another day.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time

from sentrykv_server.persistence.records import decode_ops, encode_ops
from sentrykv_server.persistence.wal_reader import recover
from sentrykv_server.persistence.wal_writer import WalWriter

VALUE = b"v" * 16
PXAT = b"1712345678901"


def _op(i: int) -> list[tuple[int, list[bytes]]]:
    return [(0, [b"SET", b"key:%08d" % i, VALUE, b"PXAT", PXAT])]


def bench_encode(n: int) -> float:
    ops = [_op(i) for i in range(1000)]
    best = float("inf")
    for _ in range(5):
        t = time.perf_counter_ns()
        for i in range(n):
            encode_ops(ops[i % 1000])
        best = min(best, (time.perf_counter_ns() - t) / n)
    return best


def bench_append(directory: str, n: int) -> float:
    ops = [_op(i) for i in range(1000)]
    best = float("inf")
    for r in range(3):
        d = os.path.join(directory, f"append{r}")
        w = WalWriter(d, 1)
        t = time.perf_counter_ns()
        for i in range(n):
            w.append(encode_ops(ops[i % 1000]))
            if i % 64 == 63:
                w._buf.clear()  # keep memory flat; this measures encode + append only
        best = min(best, (time.perf_counter_ns() - t) / n)
        w._buf.clear()
        w.close()
    return best


def bench_durable(directory: str, batch: int, seconds: float) -> tuple[float, float]:
    """Frames/s and fsyncs/s for append*batch + write_buffered + sync, for ``seconds``."""
    d = os.path.join(directory, f"durable{batch}")
    w = WalWriter(d, 1)
    payloads = [encode_ops(_op(i)) for i in range(1000)]
    frames = syncs = 0
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for _ in range(batch):
            w.append(payloads[frames % 1000])
            frames += 1
        w.write_buffered()
        w.sync()
        syncs += 1
    elapsed = time.perf_counter() - t0
    w.close()
    shutil.rmtree(d)
    return frames / elapsed, syncs / elapsed


def build(directory: str, n: int) -> tuple[str, float]:
    d = os.path.join(directory, "recover")
    w = WalWriter(d, 1)
    t = time.perf_counter()
    for i in range(n):
        w.append(encode_ops(_op(i)))
        if i % 256 == 255:
            w.write_buffered()
    w.close()
    return d, time.perf_counter() - t


def bench_recover(d: str, decode: bool) -> tuple[float, int]:
    count = 0

    def apply_noop(lsn: int, payload: bytes) -> None:
        nonlocal count
        count += 1

    def apply_decode(lsn: int, payload: bytes) -> None:
        nonlocal count
        decode_ops(payload)
        count += 1

    t = time.perf_counter()
    recover(d, apply_decode if decode else apply_noop, fix_tail=False)
    elapsed = time.perf_counter() - t
    return count / elapsed, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=1_000_000, help="records for the recovery test")
    parser.add_argument("--seconds", type=float, default=2.0, help="duration of each durable-write run")
    parser.add_argument("--dir", default=None, help="scratch directory (default: a new temp dir)")
    args = parser.parse_args()
    scratch = tempfile.mkdtemp(prefix="wal-micro-", dir=args.dir)
    try:
        print(f"scratch dir: {scratch}")
        print(f"encode_ops, SET-shaped op:        {bench_encode(200_000):8.0f} ns/op")
        print(f"encode_ops + append:              {bench_append(scratch, 200_000):8.0f} ns/op")
        for batch in (1, 16, 256):
            fps, sps = bench_durable(scratch, batch, args.seconds)
            print(
                f"append+write+fsync, {batch:3d} frames/fsync: {fps:10.0f} frames/s  {sps:7.0f} fsyncs/s"
            )
        d, secs = build(scratch, args.records)
        size = sum(os.path.getsize(os.path.join(d, n)) for n in os.listdir(d))
        print(f"built {args.records} records ({size / 1e6:.0f} MB) in {secs:.1f} s")
        rate, count = bench_recover(d, decode=False)
        print(f"recover, scan + CRC only:         {rate:10.0f} records/s ({count})")
        rate, count = bench_recover(d, decode=True)
        print(f"recover, scan + CRC + decode_ops: {rate:10.0f} records/s ({count})")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
