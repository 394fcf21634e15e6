"""Side-by-side runs of the durable write path (``appendfsync always``) against redis-server.

Why a separate script: the ``group-commit`` suite reports throughput and CPU, but the
durable path is tuned by looking at *where* the time goes per fsync group -- commands
per fsync, fsync latency, server CPU per request split into user and system time --
for the exact cases of issue 16 (c=50 -P 1, c=1, c=50 -P 16), alternating the two
servers run by run so the machine's drift hits both alike.

    .venv/bin/python -m bench.durable_ab --reps 3 [--cases c50,c1,p16] [--only sentrykv]

CPU per request is the server's (and its children's: the fsync worker) utime+stime
delta from /proc over the benchmark run, divided by the requests.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import redis

CASES = {
    "c50": ["-c", "50", "-n", "200000", "-P", "1"],
    "c1": ["-c", "1", "-n", "10000", "-P", "1"],
    "p16": ["-c", "50", "-n", "200000", "-P", "16"],
}
TICK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as fh:
                out += [int(x) for x in fh.read().split()]
    except OSError:
        pass
    return out


def cpu(pid: int) -> tuple[float, float, float]:
    """(user, system, total) seconds of ``pid`` and its direct children.

    user and system come from /proc/<pid>/stat (tick-sampled: a process that
    runs briefly at tick time is charged whole ticks, badly so at one client);
    total is the nanosecond run time of every thread from schedstat.
    """
    user = system = total = 0.0
    for p in (pid, *_children(pid)):
        try:
            with open(f"/proc/{p}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            for tid in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{tid}/schedstat") as fh:
                    total += int(fh.read().split()[0]) / 1e9
        except OSError:
            continue
        user += int(fields[11]) / TICK
        system += int(fields[12]) / TICK
    return user, system, total


class Server:
    def __init__(self, kind: str, python: str, policy: str = "always", env: dict[str, str] | None = None) -> None:
        self.kind = "redis" if kind == "redis" else "sentrykv"
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix=f"dab-{self.kind}-", dir=os.environ.get("DAB_TMP", "/var/tmp"))
        common = ["--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir,
                  "--appendonly", "yes", "--appendfsync", policy]
        env = dict(env or {})
        python = env.pop("PYTHON", python)  # a variant may run another checkout (e.g. main)
        if kind == "redis":
            cmd = ["redis-server", *common, "--save", "", "--daemonize", "no"]
        else:
            cmd = [python, "-m", "sentrykv_server", *common]
        self.log = open(os.path.join(self.dir, "..", f"{os.path.basename(self.dir)}.log"), "wb")
        # cwd: not the checkout, whose sentrykv_server would shadow a variant's PYTHONPATH
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, env={**os.environ, **env},
                                     cwd=self.dir)
        self.client = redis.Redis(port=self.port, socket_timeout=30)
        deadline = time.time() + 20
        while True:
            try:
                self.client.ping()
                break
            except redis.ConnectionError:
                if time.time() > deadline or self.proc.poll() is not None:
                    self.stop()
                    raise RuntimeError(f"{kind} did not start") from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)
        try:
            os.unlink(self.log.name)
        except OSError:
            pass


def run_case(server: Server, args: list[str]) -> dict[str, float]:
    info0 = server.client.info("persistence") if server.kind == "sentrykv" else {}
    u0, s0, c0 = cpu(server.proc.pid)
    t0 = time.perf_counter()
    out = subprocess.run(["redis-benchmark", "-p", str(server.port), "-t", "set", "-q", "--csv", *args],
                         capture_output=True, text=True, check=True).stdout
    elapsed = time.perf_counter() - t0
    u1, s1, c1 = cpu(server.proc.pid)
    line = [ln for ln in out.splitlines() if ln.startswith('"SET"')][0]
    rps = float(line.split(",")[1].strip('"'))
    n = int(args[args.index("-n") + 1])
    res = {"rps": rps, "user_us": (u1 - u0) * 1e6 / n, "sys_us": (s1 - s0) * 1e6 / n,
           "cpu_us": (c1 - c0) * 1e6 / n, "wall": elapsed}
    if server.kind == "sentrykv":
        info1 = server.client.info("persistence")
        fs = int(info1.get("wal_fsyncs", 0)) - int(info0.get("wal_fsyncs", 0))
        res["fsyncs"] = fs
        res["cmds_per_fsync"] = n / fs if fs else 0.0
        res["fsync_avg_us"] = float(info1.get("wal_fsync_avg_us", 0))
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--cases", default="c50,c1,p16")
    ap.add_argument("--only", choices=("redis", "sentrykv"))
    ap.add_argument("--variant", action="append", default=[],
                    help="NAME:VAR=VALUE[,VAR=VALUE]: one more SentryKV with these environment variables")
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--policy", default="always", help="appendfsync of both servers (everysec for a baseline)")
    opts = ap.parse_args()
    kinds = [opts.only] if opts.only else ["redis", "sentrykv"]
    envs: dict[str, dict[str, str]] = {}
    for v in opts.variant:
        name, _, assigns = v.partition(":")
        envs[name] = dict(a.split("=", 1) for a in assigns.split(",") if a)
        kinds.append(name)
    servers = {k: Server(k, opts.python, opts.policy, envs.get(k)) for k in kinds}
    results: dict[tuple[str, str], list[dict[str, float]]] = {}
    try:
        for case in opts.cases.split(","):
            for rep in range(opts.reps):
                order = kinds if rep % 2 == 0 else kinds[::-1]
                for kind in order:
                    r = run_case(servers[kind], CASES[case])
                    results.setdefault((case, kind), []).append(r)
                    extra = ""
                    if kind != "redis":
                        extra = f" cmds/fsync {r['cmds_per_fsync']:.1f} fsync_avg {r['fsync_avg_us']:.0f}us"
                    print(f"{case} {kind:8s} {r['rps']:>10.0f} req/s  cpu {r['cpu_us']:.2f} us/req (ticks: user "
                          f"{r['user_us']:.2f} sys {r['sys_us']:.2f}){extra}", flush=True)
    finally:
        for s in servers.values():
            s.stop()
    print("\nmedians:")
    for case in opts.cases.split(","):
        med = {}
        for kind in kinds:
            rs = results[(case, kind)]
            med[kind] = {k: statistics.median(r[k] for r in rs) for k in rs[0]}
            m = med[kind]
            print(f"  {case} {kind:8s} {m['rps']:>10.0f} req/s  cpu {m['cpu_us']:.2f} us/req "
                  f"(ticks: user {m['user_us']:.2f} sys {m['sys_us']:.2f})"
                  + (f" cmds/fsync {m['cmds_per_fsync']:.1f}" if kind != "redis" else ""))
        if "redis" in med:
            for kind in kinds[1:]:
                print(f"  {case} ratio {kind} {med[kind]['rps'] / med['redis']['rps']:.2f}x")


if __name__ == "__main__":
    main()
