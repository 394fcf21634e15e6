"""fdatasync latency of the real WalWriter with and without preallocated segments.

    .venv/bin/python -m bench.prealloc_micro [--rounds 6] [--syncs 300] [--dir /var/tmp]

Each round writes ``--syncs`` groups (one ~1 KB frame, write, sync) with each
mode, alternating, into a fresh directory on the disk under test, and prints
the median and p90 sync time per mode and the ratio.  The machine's disk is
shared and noisy: compare the modes within a round, and look at the median
of the per-round ratios.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time

from sentrykv_server.persistence.wal_writer import WalWriter

PAYLOAD = b"*4\r\n$1\r\n0\r\n$3\r\nSET\r\n$16\r\nkey:000000000000\r\n$3\r\nxxx\r\n" * 20


def one(directory: str, preallocate: bool, syncs: int) -> list[float]:
    d = tempfile.mkdtemp(dir=directory, prefix="prealloc-")
    try:
        w = WalWriter(d, 1, preallocate=preallocate)
        w.append(PAYLOAD)
        w.write_buffered()
        w.sync()  # the segment's creation (and first zeros) are not what is measured
        times = []
        for _ in range(syncs):
            w.append(PAYLOAD)
            w.write_buffered()
            t = time.perf_counter()
            w.sync()
            times.append(time.perf_counter() - t)
        w.close()
        return times
    finally:
        shutil.rmtree(d, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--syncs", type=int, default=300)
    ap.add_argument("--dir", default="/var/tmp")
    opts = ap.parse_args()
    ratios = []
    for r in range(opts.rounds):
        res = {}
        for mode in ((True, False) if r % 2 else (False, True)):
            t = sorted(one(opts.dir, mode, opts.syncs))
            res[mode] = (statistics.median(t), t[int(len(t) * 0.9)])
        ratios.append(res[True][0] / res[False][0])
        print(f"round {r}: append {res[False][0] * 1e6:6.0f} us (p90 {res[False][1] * 1e6:6.0f})  "
              f"preallocated {res[True][0] * 1e6:6.0f} us (p90 {res[True][1] * 1e6:6.0f})  "
              f"ratio {ratios[-1]:.2f}", flush=True)
    print(f"median ratio preallocated/append: {statistics.median(ratios):.2f}")


if __name__ == "__main__":
    main()
