"""The request hot path in process, no sockets: ``python -m bench.hotpath_micro``.

A real :class:`Server` and real :class:`Client` objects; requests are fed
with ``Client.data_received`` in chunks of 16 (redis-benchmark ``-P 16``) and
the loop pass is flushed into a transport that discards the bytes.  What is
timed is exactly the server's per-request work: parsing, dispatch, the
command, the reply encoding and the flush.  Prints ns per request (best and
median of ``--repeat`` runs) for each scenario:

* ``off``: SET, GET of a present key, GET of a missing key (no notifications,
  nobody tracking): the cost every user pays;
* ``notify``: the same with ``notify-keyspace-events KEA`` (+ ``n``/``m``) and
  no subscriber, then with one pattern subscriber receiving every event;
* ``tracking``: a different client tracks keys (the writer's SETs hit the
  invalidation hook), then the measuring client tracks its own GETs.

Run it against another checkout (e.g. ``main`` before a change) with
``PYTHONPATH=<checkout> python -m bench.hotpath_micro --scenario off``;
scenarios the checkout cannot run are skipped.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from typing import Any

from sentrykv_server.config import build_config
from sentrykv_server.protocol.connection import Client
from sentrykv_server.server import Server

PIPELINE = 16


class _Loop:
    """Enough of an event loop for the flush scheduling: callbacks run on demand."""

    def __init__(self) -> None:
        self.callbacks: list[Callable[[], Any]] = []

    def call_soon(self, fn: Callable[..., Any], *args: Any) -> None:
        self.callbacks.append(lambda: fn(*args))

    def run_pending(self) -> None:
        while self.callbacks:
            batch, self.callbacks = self.callbacks, []
            for fn in batch:
                fn()


class _Transport:
    """Discards what is written (counts it), never applies back-pressure."""

    def __init__(self) -> None:
        self.written = 0

    def get_extra_info(self, name: str) -> Any:
        return None if name == "socket" else ("127.0.0.1", 1)

    def set_write_buffer_limits(self, high: int) -> None:
        return None

    def write(self, data: bytes) -> None:
        self.written += len(data)

    def is_closing(self) -> bool:
        return False

    def get_write_buffer_size(self) -> int:
        return 0

    def close(self) -> None:
        return None


def _encode(*args: bytes) -> bytes:
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)


def _chunks(make: Callable[[int], bytes], requests: int) -> list[bytes]:
    return [b"".join(make(i * PIPELINE + j) for j in range(PIPELINE)) for i in range(requests // PIPELINE)]


class Bench:
    def __init__(self) -> None:
        self.tmp = tempfile.TemporaryDirectory(prefix="sentrykv-hotpath-")
        self.server = Server(build_config(["--appendonly", "no", "--dir", self.tmp.name]))
        self.loop = _Loop()
        self.server.loop = self.loop  # type: ignore[assignment]

    def client(self) -> Client:
        c = Client(self.server)
        c.connection_made(_Transport())  # type: ignore[arg-type]
        return c

    def send(self, c: Client, *args: bytes) -> None:
        c.data_received(_encode(*args))
        self.loop.run_pending()

    def time_chunks(self, c: Client, chunks: list[bytes]) -> float:
        """ns per request for feeding ``chunks`` to ``c`` (one loop pass per chunk)."""
        feed = c.data_received
        run = self.loop.run_pending
        start = time.perf_counter_ns()
        for chunk in chunks:
            feed(chunk)
            run()
        return (time.perf_counter_ns() - start) / (len(chunks) * PIPELINE)


def _measure(bench: Bench, c: Client, chunks: list[bytes], repeat: int) -> tuple[float, float]:
    samples = [bench.time_chunks(c, chunks) for _ in range(repeat)]
    return min(samples), statistics.median(samples)


def run(scenarios: list[str], requests: int, repeat: int, keys: int) -> list[tuple[str, float, float]]:
    bench = Bench()
    c = bench.client()
    value = b"v" * 16
    sets = _chunks(lambda i: _encode(b"SET", b"key:%d" % (i % keys), value), requests)
    gets = _chunks(lambda i: _encode(b"GET", b"key:%d" % (i % keys)), requests)
    misses = _chunks(lambda i: _encode(b"GET", b"nokey:%d" % (i % keys)), requests)
    bench.time_chunks(c, sets)  # fill and warm up
    rows: list[tuple[str, float, float]] = []

    def trio(label: str, client: Client) -> None:
        for name, chunks in (("SET", sets), ("GET hit", gets), ("GET miss", misses)):
            best, median = _measure(bench, client, chunks, repeat)
            rows.append((f"{label}: {name}", best, median))

    if "off" in scenarios:
        trio("off", c)
    has_notify = hasattr(bench.server, "notify_flags")
    has_tracking = hasattr(bench.server, "tracking")
    if "notify" in scenarios and has_notify:
        bench.send(c, b"CONFIG", b"SET", b"notify-keyspace-events", b"KEA")
        trio("KEA, no subscriber", c)
        bench.send(c, b"CONFIG", b"SET", b"notify-keyspace-events", b"KEAnm")
        trio("KEAnm, no subscriber", c)
        sub = bench.client()
        bench.send(sub, b"PSUBSCRIBE", b"__key*")
        trio("KEAnm, 1 pattern subscriber", c)
        bench.send(sub, b"PUNSUBSCRIBE")
        bench.send(c, b"CONFIG", b"SET", b"notify-keyspace-events", b"")
    if "tracking" in scenarios and has_tracking:
        other = bench.client()
        bench.send(other, b"HELLO", b"3")
        bench.send(other, b"CLIENT", b"TRACKING", b"on")
        bench.send(other, b"MGET", *[b"other:%d" % i for i in range(100)])
        trio("another client tracks 100 keys", c)
        bench.send(c, b"HELLO", b"3")
        bench.send(c, b"CLIENT", b"TRACKING", b"on")
        trio("this client tracks", c)
    bench.tmp.cleanup()
    return rows


def run_one(case: str, setting: str, requests: int, build: int, keys: int) -> None:
    """One untimed pass of ``requests`` requests of ``case``, for instruction counting.

    Under ``valgrind --tool=callgrind`` the difference between two runs with
    different ``--requests`` and the same ``--build`` is the cost of the extra
    requests alone (set-up and request encoding are identical in both).
    """
    bench = Bench()
    c = bench.client()
    value = b"v" * 16
    for i in range(keys):
        bench.send(c, b"SET", b"key:%d" % i, value)
    if setting.startswith("notify="):
        bench.send(c, b"CONFIG", b"SET", b"notify-keyspace-events", setting[7:].encode())
    elif setting == "tracking-other":
        other = bench.client()
        bench.send(other, b"HELLO", b"3")
        bench.send(other, b"CLIENT", b"TRACKING", b"on")
        bench.send(other, b"MGET", *[b"other:%d" % i for i in range(100)])
    elif setting == "tracking-self":
        bench.send(c, b"HELLO", b"3")
        bench.send(c, b"CLIENT", b"TRACKING", b"on")
    make = {
        "set": lambda i: _encode(b"SET", b"key:%d" % (i % keys), value),
        "get": lambda i: _encode(b"GET", b"key:%d" % (i % keys)),
        "miss": lambda i: _encode(b"GET", b"nokey:%d" % (i % keys)),
    }[case]
    chunks = _chunks(make, build)
    bench.time_chunks(c, chunks[: requests // PIPELINE])
    bench.tmp.cleanup()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=160_000, help="requests per timed run")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per case (best and median shown)")
    parser.add_argument("--keys", type=int, default=1000, help="distinct keys cycled through")
    parser.add_argument("--scenario", nargs="+", default=["off", "notify", "tracking"],
                        choices=["off", "notify", "tracking"])
    parser.add_argument("--only", choices=["set", "get", "miss"],
                        help="run one case once, untimed (for valgrind --tool=callgrind)")
    parser.add_argument("--setting", default="off",
                        help="with --only: off | notify=<flags> | tracking-other | tracking-self")
    parser.add_argument("--build", type=int, default=0, help="with --only: requests encoded (>= --requests)")
    args = parser.parse_args(argv)
    if args.only:
        run_one(args.only, args.setting, args.requests, max(args.build, args.requests), args.keys)
        return
    for label, best, median in run(args.scenario, args.requests, args.repeat, args.keys):
        print(f"{label:<48} best {best:7.0f} ns/req   median {median:7.0f} ns/req")


if __name__ == "__main__":
    main()
