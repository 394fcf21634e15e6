"""EVALSHA / FCALL in process, no sockets: ``python -m bench.scripting_micro``.

The same harness as :mod:`bench.hotpath_micro` (a real ``Server`` and
``Client`` fed with ``Client.data_received`` in pipelines of 16), sending
the scripting suite's script (GET + SET + EXPIRE on one key) as ``EVALSHA``
and as ``FCALL``.  Prints ns per call (best and median of ``--repeat``
runs).  For before/after comparisons count instructions instead: ``--only
evalsha|fcall --requests N --build M`` runs one case once, untimed, so the
difference between two ``valgrind --tool=callgrind`` runs with different
``--requests`` (same ``--build``, ``PYTHONHASHSEED=0``) is the cost of the
extra calls alone.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from bench.hotpath_micro import PIPELINE, Bench, _chunks, _encode, _measure
from bench.scripting_suite import BODY, LIBRARY, SHA
from sentrykv_server.protocol.connection import Client


def _makers(keys: int) -> dict[str, Callable[[int], bytes]]:
    sha = SHA.encode()
    return {
        "evalsha": lambda i: _encode(b"EVALSHA", sha, b"1", b"key:%d" % (i % keys), b"value"),
        "fcall": lambda i: _encode(b"FCALL", b"getsetex", b"1", b"key:%d" % (i % keys), b"value"),
        "set": lambda i: _encode(b"SET", b"key:%d" % (i % keys), b"value"),
    }


def _prepare() -> tuple[Bench, Client]:
    """A server with the suite's script cached and its library loaded, and one client."""
    bench = Bench()
    c = bench.client()
    bench.send(c, b"SCRIPT", b"LOAD", BODY.encode())
    bench.send(c, b"FUNCTION", b"LOAD", b"REPLACE", LIBRARY.encode())
    return bench, c


def run(cases: list[str], requests: int, repeat: int, keys: int) -> list[tuple[str, float, float]]:
    """(case, best, median) ns per call for each case, after one warm-up pass."""
    bench, c = _prepare()
    makers = _makers(keys)
    rows = []
    for name in cases:
        chunks = _chunks(makers[name], requests)
        bench.time_chunks(c, chunks)  # warm-up
        best, median = _measure(bench, c, chunks, repeat)
        rows.append((name, best, median))
    bench.tmp.cleanup()
    return rows


def run_one(case: str, requests: int, build: int, keys: int) -> None:
    """One untimed pass of ``requests`` calls of ``case`` (for callgrind)."""
    bench, c = _prepare()
    chunks = _chunks(_makers(keys)[case], build)
    bench.time_chunks(c, chunks[:2])  # first-call set-up out of the count
    bench.time_chunks(c, chunks[2: 2 + requests // PIPELINE])
    bench.tmp.cleanup()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=32_000, help="calls per timed run")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per case")
    parser.add_argument("--keys", type=int, default=1000, help="distinct keys cycled through")
    parser.add_argument("--cases", nargs="+", default=["evalsha", "fcall", "set"],
                        choices=["evalsha", "fcall", "set"])
    parser.add_argument("--only", choices=["evalsha", "fcall", "set"],
                        help="run one case once, untimed (for valgrind --tool=callgrind)")
    parser.add_argument("--build", type=int, default=0, help="with --only: calls encoded (>= --requests + 32)")
    args = parser.parse_args(argv)
    if args.only:
        run_one(args.only, args.requests, max(args.build, args.requests + 2 * PIPELINE), args.keys)
        return
    for label, best, median in run(args.cases, args.requests, args.repeat, args.keys):
        print(f"{label:<10} best {best:7.0f} ns/call   median {median:7.0f} ns/call")


if __name__ == "__main__":
    main()
