"""In-process cost of one request through ``Client.process_input`` (the hot path).

No sockets, no event loop: a :class:`Server` and a :class:`Client` are built
in this process, pipelined ``SET``/``GET`` requests are fed to
``data_received`` and the replies are dropped.  What is left is exactly the
per-request work of the dispatcher: parse, lookup, the fast-path test, the
handler, the reply encoding.  It is the figure that tells whether a feature
(ACL, protected commands ...) slowed the hot path down: run it on two
checkouts and compare.

    python -m bench.dispatch_micro                  # this checkout
    PYTHONPATH=/path/to/other/checkout python -m bench.dispatch_micro

``--user restricted`` measures a client whose ACL user has a restriction
(``+@all ~k* &*``): those take the checked path and pay for the ACL check.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from typing import Any


class _NoLoop:
    """Enough of an event loop for Server.schedule_flush: the flush never runs."""

    def call_soon(self, *args: Any) -> None:
        return None


def _request(*args: bytes) -> bytes:
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)


def measure(pipeline: int, rounds: int, repeats: int, user: str, freeze: bool = False) -> list[float]:
    """Nanoseconds per request, one figure per repeat."""
    from sentrykv_server.config import Config
    from sentrykv_server.protocol.connection import Client
    from sentrykv_server.server import Server

    config = Config()
    server = Server(config)
    server.loop = _NoLoop()  # type: ignore[assignment]
    client = Client(server)
    if user == "restricted":
        acl = server.acl  # type: ignore[attr-defined]
        acl.set_user(None, b"bench", [b"on", b"nopass", b"+@all", b"~k*", b"&*"])
        client.execute([b"AUTH", b"bench", b"x"])
        client.out.clear()
        assert client.special, "a restricted user must take the checked path"
    payload = b"".join(_request(b"SET", b"k%d" % (i % 8), b"v" * 16) + _request(b"GET", b"k%d" % (i % 8))
                       for i in range(pipeline // 2))
    per_round = 2 * (pipeline // 2)
    out = client.out
    if freeze:  # start-up objects out of the collector's way, as gc.freeze() in a server would
        gc.freeze()
    for _ in range(max(1, rounds // 10)):  # warm up
        client.data_received(payload)
        out.clear()
    results = []
    for _ in range(repeats):
        start = time.perf_counter_ns()
        for _ in range(rounds):
            client.data_received(payload)
            out.clear()
        results.append((time.perf_counter_ns() - start) / (rounds * per_round))
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pipeline", type=int, default=16, help="requests per data_received call")
    parser.add_argument("--rounds", type=int, default=2000, help="data_received calls per repeat")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--user", choices=("default", "restricted"), default="default")
    parser.add_argument("--freeze", action="store_true", help="gc.freeze() once the server is built")
    args = parser.parse_args(argv)
    figures = measure(args.pipeline, args.rounds, args.repeats, args.user, args.freeze)
    print(f"dispatch_micro pipeline={args.pipeline} user={args.user}: "
          f"min {min(figures):.0f} ns/request, median {statistics.median(figures):.0f} ns/request "
          f"({args.repeats} repeats of {args.rounds} x {args.pipeline})")


if __name__ == "__main__":
    main()
