"""In-process cost of one pipelined request: GET/SET -P 16 through the real request path.

A real :class:`~sentrykv_server.server.Server` (persistence off) and a real
:class:`~sentrykv_server.protocol.connection.Client` with a stub transport:
every round feeds one 16-request pipeline to ``Client.data_received`` and runs
the pass's flush point, exactly the code a network request runs minus the
socket.  This isolates the server's per-request CPU cost from the network and
from the benchmark client, which on a shared 2-core machine is the only
figure stable enough to compare two versions of the hot path (the lead's
redis-benchmark runs measure the rest on a quiet machine).

    .venv/bin/python -m bench.request_micro                 # maxmemory off
    .venv/bin/python -m bench.request_micro --maxmemory 1gb --policy allkeys-lru
    .venv/bin/python -m bench.request_micro --policy allkeys-lfu --rounds 20000

Prints ns per request (best of ``--repeat`` runs) for each workload.  On a busy
machine wall-clock figures drift by tens of percent between runs; ``--instructions``
counts CPU instructions instead, with valgrind's callgrind: the same workload is
run twice (R and 2R rounds) and the difference divided by the extra requests, so
interpreter start-up and the fill are not counted:

    .venv/bin/python -m bench.request_micro --instructions --keys 10000
"""

from __future__ import annotations

import argparse
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from typing import Any

from sentrykv_server.config import Config
from sentrykv_server.protocol.connection import Client
from sentrykv_server.server import Server


class _Transport:
    """Accepts every byte at once (the kernel took it all)."""

    def __init__(self) -> None:
        self.sent = 0

    def write(self, data: bytes) -> None:
        self.sent += len(data)

    def get_write_buffer_size(self) -> int:
        return 0

    def is_closing(self) -> bool:
        return False

    def get_extra_info(self, name: str) -> Any:
        return None if name == "socket" else ("127.0.0.1", 1)

    def set_write_buffer_limits(self, high: int) -> None:
        return None

    def close(self) -> None:
        return None


class _Loop:
    """The event loop's part: call_soon callbacks other than the flush pass (run by hand
    once per round) are kept and run after it, as the next loop iteration would."""

    def __init__(self) -> None:
        self.ready: list[Any] = []

    def call_soon(self, fn: Any, *args: Any) -> None:
        if getattr(fn, "__name__", "") != "flush_pass":
            self.ready.append((fn, args))

    def run_ready(self) -> None:
        ready, self.ready = self.ready, []
        for fn, args in ready:
            fn(*args)

    def time(self) -> float:
        return time.monotonic()


def _resp(*args: bytes) -> bytes:
    out = b"*%d\r\n" % len(args)
    for a in args:
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def make_server(settings: list[tuple[str, str]]) -> tuple[Server, Client]:
    config = Config()
    config.load([("appendonly", "no"), *settings])
    server = Server(config)
    server.loop = _Loop()  # type: ignore[assignment]
    client = Client(server)
    client.connection_made(_Transport())  # type: ignore[arg-type]
    return server, client


def run(server: Server, client: Client, chunks: list[bytes], rounds: int) -> float:
    """ns per request over ``rounds`` pipelines (16 requests each)."""
    flush = server.flush_pass
    feed = client.data_received
    loop = server.loop
    assert isinstance(loop, _Loop)
    n = len(chunks)
    start = time.perf_counter_ns()
    for i in range(rounds):
        feed(chunks[i % n])
        flush()
        if loop.ready:
            loop.run_ready()
    elapsed = time.perf_counter_ns() - start
    return elapsed / (rounds * 16)


def workloads(keys: int) -> dict[str, list[bytes]]:
    rng = random.Random(7)
    value = b"x" * 3  # redis-benchmark's default -d 3
    sets, gets = [], []
    for _ in range(256):
        names = [b"key:%012d" % rng.randrange(keys) for _ in range(16)]
        sets.append(b"".join(_resp(b"SET", k, value) for k in names))
        gets.append(b"".join(_resp(b"GET", k) for k in names))
    return {"SET -P 16": sets, "GET -P 16": gets}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keys", type=int, default=100_000, help="key space (-r)")
    parser.add_argument("--maxmemory", default="0", help='bytes, or "+N": N above the filled usage')
    parser.add_argument("--policy", default="noeviction")
    parser.add_argument("--instructions", action="store_true", help="count instructions (callgrind)")
    parser.add_argument("--only", help=argparse.SUPPRESS)  # one workload, one timed run
    args = parser.parse_args(argv)
    if args.instructions:
        return count_instructions(args)
    relative = args.maxmemory.startswith("+")
    settings = [("maxmemory", "0" if relative else args.maxmemory), ("maxmemory-policy", args.policy)]
    server, client = make_server(settings)
    loads = workloads(args.keys)
    # Fill the key space first so GETs hit and SETs overwrite, as in a warmed cache.
    fill = [b"".join(_resp(b"SET", b"key:%012d" % i, b"xxx") for i in range(j, min(j + 16, args.keys)))
            for j in range(0, args.keys, 16)]
    for chunk in fill:
        client.data_received(chunk)
        server.flush_pass()
    if relative:  # "+N": N bytes above what the filled server uses (the gate is on from here)
        from sentrykv_server.config import parse_memory

        limit = server.memory.for_eviction() + parse_memory(args.maxmemory[1:])
        client.data_received(_resp(b"CONFIG", b"SET", b"maxmemory", b"%d" % limit))
        server.flush_pass()
    print(f"maxmemory={args.maxmemory} policy={args.policy} keys={args.keys} rounds={args.rounds}")
    for name, chunks in loads.items():
        if args.only is not None:
            if name.startswith(args.only):
                run(server, client, chunks, args.rounds)
            continue
        best = min(run(server, client, chunks, args.rounds) for _ in range(args.repeat))
        print(f"{name:10s} {best:8.1f} ns/request  ({1e9 / best / 1000:.0f}k req/s in-process)")
    return 0


def _callgrind_total(args: argparse.Namespace, workload: str, rounds: int) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "callgrind.out")
        cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable, "-m",
               "bench.request_micro", "--only", workload, "--rounds", str(rounds), "--keys", str(args.keys),
               "--maxmemory", args.maxmemory, "--policy", args.policy]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with open(out) as fh:
            match = re.search(r"^(?:summary|totals): (\d+)", fh.read(), re.M)
        assert match is not None, "no callgrind totals"
        return int(match.group(1))


def count_instructions(args: argparse.Namespace) -> int:
    rounds = max(1, args.rounds // 10)
    print(f"instructions per request (callgrind), maxmemory={args.maxmemory} policy={args.policy} "
          f"keys={args.keys}, {rounds} vs {2 * rounds} rounds of 16")
    for workload in ("SET", "GET"):
        low = _callgrind_total(args, workload, rounds)
        high = _callgrind_total(args, workload, 2 * rounds)
        print(f"{workload} -P 16  {(high - low) / (rounds * 16):10.0f} instructions/request")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
