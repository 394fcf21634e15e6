"""Instructions per request of a real server under load: ``python -m bench.callgrind_server``.

Why: on a shared 2-core machine wall-clock throughput drifts by tens of percent
between runs, while valgrind's instruction counts repeat to a fraction of a
percent.  This starts a server (SentryKV by default, ``--redis`` for
redis-server) under ``valgrind --tool=callgrind`` on a free loopback port,
warms it up with redis-benchmark, zeroes the counters (``callgrind_control
--zero``), runs the measured redis-benchmark case (``-c 50``, ``-P`` as given)
and dumps the counters (``callgrind_control --dump``).  Instructions of the
whole process (every thread, user space only: the kernel is not counted) are
divided by the requests sent.  The build of SentryKV is whatever the import
gives: set ``SENTRYKV_PURE=1`` for the pure-Python modules.

    .venv/bin/python -m bench.callgrind_server --pipeline 16 1 --tests set get
    SENTRYKV_PURE=1 .venv/bin/python -m bench.callgrind_server --pipeline 16
"""

from __future__ import annotations

import argparse
import glob
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from bench.resp import RespError, command
from bench.servers import free_port


def _wait_ready(port: int, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            if command(port, "PING", timeout=2.0) in ("PONG", b"PONG"):
                return
        except (OSError, RespError):
            pass
        time.sleep(0.5)
    raise TimeoutError("server not ready")


def _benchmark(port: int, test: str, pipeline: int, requests: int, clients: int) -> None:
    subprocess.run(["redis-benchmark", "-p", str(port), "-c", str(clients), "-n", str(requests),
                    "-P", str(pipeline), "-t", test, "-q"], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=600)


def _ctl(pid: int, *args: str) -> None:
    subprocess.run(["callgrind_control", *args, str(pid)], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=120)


def _last_dump_total(out_dir: str, before: set[str], keep: str | None = None) -> int:
    """Total Ir of the newest dump file that was not there before (copied to ``keep``)."""
    for _ in range(100):
        new = sorted(set(glob.glob(os.path.join(out_dir, "callgrind.out*"))) - before,
                     key=os.path.getmtime)
        if new:
            with open(new[-1]) as fh:
                text = fh.read()
            match = re.search(r"^(?:summary|totals): (\d+)", text, re.M)
            if match:
                if keep:
                    shutil.copy(new[-1], keep)
                return int(match.group(1))
        time.sleep(0.2)
    raise RuntimeError("no callgrind dump appeared")


def measure(redis: bool, mode: str, cases: list[tuple[str, int]], requests: int, clients: int,
            keep: str | None = None) -> dict[str, float]:
    """Start one server under callgrind, run every (test, pipeline) case, return Ir/request."""
    port = free_port()
    data = tempfile.mkdtemp(prefix="sentrykv-cg-")
    persist = ["--appendonly", "no"] if mode == "none" else ["--appendonly", "yes", "--appendfsync", mode]
    if redis:
        server = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", data,
                  "--save", "", *persist]
    else:
        server = [sys.executable, "-m", "sentrykv_server", "--port", str(port), "--bind", "127.0.0.1",
                  "--dir", data, *persist]
    out = os.path.join(data, "callgrind.out")
    cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", "--collect-atstart=yes", *server]
    log = open(os.path.join(data, "server.log"), "wb")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=data)
    results: dict[str, float] = {}
    try:
        _wait_ready(port, proc, 300.0)
        for test, pipeline in cases:
            _benchmark(port, test, pipeline, max(requests // 10, 1000), clients)  # warm-up
            _ctl(proc.pid, "--zero")
            _benchmark(port, test, pipeline, requests, clients)
            before = set(glob.glob(out + "*"))
            _ctl(proc.pid, "--dump")
            name = f"{test.upper()} -P {pipeline}"
            dump = os.path.join(keep, f"callgrind.{test}.P{pipeline}.out") if keep else None
            results[name] = _last_dump_total(data, before, dump) / requests
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(120)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        log.close()
        shutil.rmtree(data, ignore_errors=True)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.callgrind_server", description=__doc__.splitlines()[0])
    parser.add_argument("--tests", nargs="+", default=["set", "get"])
    parser.add_argument("--pipeline", nargs="+", type=int, default=[16, 1])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--mode", default="everysec", choices=["none", "everysec", "always"])
    parser.add_argument("--redis", action="store_true", help="measure redis-server instead")
    parser.add_argument("--keep", metavar="DIR", help="keep each case's dump here (callgrind_annotate)")
    args = parser.parse_args(argv)
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        print("valgrind (callgrind_control) is not installed: apt-get install valgrind", file=sys.stderr)
        return 2
    cases = [(t, p) for p in args.pipeline for t in args.tests]
    who = "redis-server" if args.redis else "sentrykv"
    if not args.redis:
        from sentrykv_server import buildinfo

        who += f" [{buildinfo.describe()}]"
    print(f"{who}: instructions per request (callgrind, -c {args.clients}, -n {args.requests}, {args.mode})")
    for case, ir in measure(args.redis, args.mode, cases, args.requests, args.clients, args.keep).items():
        print(f"  {case:10s} {ir:10.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
