"""Network throughput suites: redis-benchmark against both servers, alternating.

Method (also written into the report):

* for every (suite, persistence mode, repetition) BOTH servers are started
  fresh, each on its own free port with its own temp dir, and stay up for that
  repetition only;
* each case is then run against one server and immediately against the
  other (A B), with the order flipped on odd repetitions (B A), so slow drift
  on the shared machine hits both sides equally; the idle server sleeps;
* the server's CPU time is read before and after each redis-benchmark run
  (sum of /proc/<pid>/task/*/schedstat, nanoseconds; utime+stime from
  /proc/<pid>/stat, 10 ms ticks, if a thread exited in between): at ``-P 1`` the client saturates one of
  the two cores, so req/s there mostly measures redis-benchmark, and CPU per
  request is the fairer server comparison.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from bench.progress import human_rate
from bench.redis_benchmark import BenchCase, run_case, short_test_name
from bench.registry import Context, Suite, register
from bench.results import Sample
from bench.servers import ServerProcess, start_server

Plan = Sequence[tuple[str, Sequence[BenchCase]]]  # (mode, cases)

#: Slowest rate we still wait for before declaring a hang (req/s), plus slack.
_MIN_RATE = 2000.0
_SLACK_S = 45.0


def _scaled(case: BenchCase, ctx: Context) -> BenchCase:
    if ctx.requests_override is None:
        return case
    return BenchCase(case.key, case.tests, case.clients, ctx.requests_override, case.pipeline,
                     case.keyspace, case.datasize, case.command)


def _timeout(case: BenchCase) -> float:
    return case.requests * case.expected_tests() / _MIN_RATE + _SLACK_S


def run_plan(ctx: Context, suite: str, plan: Plan, setup: Callable[[int], None] | None = None) -> None:
    """Run every case of ``plan`` against both servers, ``ctx.reps`` times (see module doc).

    ``setup(port)`` prepares each freshly started server (e.g. loads scripts)."""
    for mode, raw_cases in plan:
        cases = [_scaled(c, ctx) for c in raw_cases]
        for case in cases:
            ctx.results.add_command(f"{suite}/{mode}", case.display())
        for rep in range(ctx.reps):
            order = ctx.order(rep)
            servers: dict[str, ServerProcess] = {}
            try:
                for kind in order:
                    servers[kind.name] = start_server(
                        kind, mode, ctx.log_dir, tmp_base=ctx.tmp_base, ready_timeout=ctx.ready_timeout
                    )
                    if setup is not None:
                        setup(servers[kind.name].port)
                for case in cases:
                    for kind in order:
                        _measure(ctx, suite, mode, rep, case, servers[kind.name])
            finally:
                for server in servers.values():
                    server.stop()


def _measure(ctx: Context, suite: str, mode: str, rep: int, case: BenchCase, server: ServerProcess) -> None:
    name = server.kind.name
    where = f"{suite}/{mode} rep {rep + 1}/{ctx.reps} {name:<8}"
    if not server.alive():
        ctx.results.errors.append(f"{where}: {case.key} not run: server is no longer running")
        ctx.progress.step(f"{where} {case.key}: skipped (server down)")
        return
    snap = server.cpu_snapshot()
    res = run_case(case, server.port, ctx.benchmark_binary, _timeout(case))
    cpu = server.cpu_since(snap) if server.alive() else float("nan")
    for err in res.errors:
        ctx.results.errors.append(f"{where} {case.key}: {err}")
    if not server.alive():
        ctx.results.errors.append(
            f"{where} {case.key}: server exited with code {server.proc.returncode}; "
            f"log tail:\n{server.log_tail(8)}"
        )
    cpu_per_req = cpu / res.requests * 1e6 if res.requests and cpu == cpu else None
    client_util = res.client_cpu_s / res.wall_s if res.wall_s else None
    single = len(res.tests) == 1
    for test, metrics in res.tests.items():
        m = dict(metrics)
        if single and cpu_per_req is not None:
            m["cpu_us_per_req"] = cpu_per_req
        if single and client_util is not None:
            m["client_cpu_util"] = client_util
        ctx.results.add(Sample(suite, mode, case.key, short_test_name(test), name, rep, m))
    if not single and res.tests and cpu_per_req is not None:
        # Several tests in one process: CPU can only be attributed to the whole case.
        whole = {"cpu_us_per_req": cpu_per_req}
        if client_util is not None:
            whole["client_cpu_util"] = client_util
        ctx.results.add(Sample(suite, mode, case.key, "(whole suite)", name, rep, whole))
    summary = ", ".join(f"{short_test_name(t)} {human_rate(v['rps'])}" for t, v in list(res.tests.items())[:3])
    if len(res.tests) > 3:
        summary += f", ... ({len(res.tests)} tests)"
    cpu_note = f"; {cpu_per_req:.1f} µs CPU/req" if cpu_per_req is not None else ""
    errs = f"; {len(res.errors)} error(s)" if res.errors else ""
    ctx.progress.step(f"{where} {case.key}: {summary or 'no results'}{cpu_note}{errs}")


def throughput_suite(
    name: str, title: str, about: str, plans: dict[str, Plan], order: int,
    setup: Callable[[int], None] | None = None,
) -> Suite:
    """Register a redis-benchmark suite whose cases depend on the profile."""

    def run(ctx: Context) -> None:
        run_plan(ctx, name, plans.get(ctx.profile) or plans["full"], setup)

    def steps(ctx: Context) -> int:
        plan = plans.get(ctx.profile) or plans["full"]
        return sum(len(cases) for _, cases in plan) * ctx.reps * len(ctx.kinds)

    return register(Suite(name, title, about, frozenset(plans), run, steps, order))


def _set_get(requests: int, pipeline: int, clients: int = 50, keyspace: int | None = None,
             tests: Sequence[str] = ("set", "get")) -> list[BenchCase]:
    """One case per test so server CPU per request can be attributed to each test."""
    suffix = f"c{clients}-P{pipeline}" + (f"-r{keyspace}" if keyspace else "")
    return [BenchCase(f"{t}-{suffix}", (t,), clients, requests, pipeline, keyspace) for t in tests]


PIPELINE = throughput_suite(
    "pipeline",
    "SET/GET, 50 clients, -P 1 and -P 16",
    "`-t set,get -c 50` at `-P 1` and `-P 16` (`-n 200000` in the full profile; the exact commands "
    "are listed per mode), run as one `-t` per process so server CPU can be attributed per test. "
    "Carries the headline targets.",
    {
        "smoke": [("everysec", _set_get(2000, 16, tests=("set",)))],
        "quick": [
            ("everysec", _set_get(500_000, 16)),
            ("always", _set_get(100_000, 1, tests=("set",))),
        ],
        "full": [
            (mode, _set_get(200_000, 1) + _set_get(200_000, 16))
            for mode in ("none", "everysec", "always")
        ],
    },
    order=10,
)

DEFAULT = throughput_suite(
    "default",
    "redis-benchmark default suite (-P 1)",
    "The default suite (no `-t`), 50 clients, `-P 1`. Server CPU is measured over the whole "
    "suite, so it is reported on a `(whole suite)` row. If SentryKV answers a test with an "
    "error, that test is recorded as an error and the suite resumes at the next test with `-t`.",
    {
        "quick": [("everysec", [BenchCase("default-c50", None, 50, 20_000)])],
        "full": [(mode, [BenchCase("default-c50", None, 50, 100_000)]) for mode in ("none", "everysec", "always")],
    },
    order=20,
)

SINGLE_CLIENT = throughput_suite(
    "single-client",
    "One client (-c 1), -P 1",
    "`-t set,get -c 1`: pure round-trip latency of one synchronous client, no batching possible.",
    {"full": [(mode, _set_get(20_000, 1, clients=1)) for mode in ("none", "everysec")]},
    order=30,
)

KEYSPACE = throughput_suite(
    "keyspace",
    "Random keys over a 100k key space (-r 100000)",
    "`-t set,get -c 50 -r 100000` at `-P 1` and `-P 16`: a real key space instead of one hot key.",
    {"full": [("everysec", _set_get(200_000, 1, keyspace=100_000) + _set_get(200_000, 16, keyspace=100_000))]},
    order=40,
)

GROUP_COMMIT = throughput_suite(
    "group-commit",
    "Durable writes: appendfsync always, 1 vs 50 clients",
    "`-t set` under `appendfsync always` with 1 client (bound by one fsync per write: about 200 µs "
    "on this disk) and 50 clients (where batching many writes per fsync — group commit — is the "
    "only way past about 5k durable writes/s).",
    {
        "full": [(
            "always",
            _set_get(10_000, 1, clients=1, tests=("set",))
            + _set_get(100_000, 1, tests=("set",))
            + _set_get(200_000, 16, tests=("set",)),
        )],
    },
    order=50,
)
