"""`python -m bench`: parse the command line, run the suites, write raw data, report and charts.

Profiles:

* ``--quick`` (default, ``make bench``): the target-carrying tests only, 3
  repetitions, fewer requests; under 2 minutes on the 2-core machine;
* ``--full`` (``make bench-full``): every suite, every persistence mode;
  20-30 minutes;
* ``--smoke``: 1 repetition, 2000 requests, one test; for the harness's own
  test.  It writes its report inside ``--out`` and leaves docs/ alone.

Exit status: 0 if every selected suite ran without errors (targets not being
met is a result, not a failure), 1 on benchmark errors, 2 on usage errors.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shlex
import sys
from pathlib import Path

from bench import (
    catalog,  # noqa: F401  (registers the suites)
    machine,
    registry,
    report,
    targets,
)
from bench.progress import Progress
from bench.redis_benchmark import find_binary
from bench.registry import Context
from bench.results import Results
from bench.servers import (
    ServerStartError,
    install_signal_handlers,
    redis_kind,
    sentrykv_kind,
    stop_all,
    sweep_stale_dirs,
)

REPO = Path(__file__).resolve().parent.parent
DEFAULT_REPS = {"smoke": 1, "quick": 3, "full": 3}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    prof = p.add_mutually_exclusive_group()
    prof.add_argument("--quick", dest="profile", action="store_const", const="quick",
                      help="target tests only, under 2 minutes (default)")
    prof.add_argument("--full", dest="profile", action="store_const", const="full",
                      help="every suite and persistence mode (20-30 minutes)")
    prof.add_argument("--smoke", dest="profile", action="store_const", const="smoke",
                      help="1 rep, n=2000, one test: checks the harness itself")
    p.set_defaults(profile="quick")
    p.add_argument("--reps", type=int, help="repetitions per server (default: 1 smoke, 3 otherwise)")
    p.add_argument("--requests", type=int, help="override -n for every redis-benchmark case")
    p.add_argument("--suites", help="comma-separated suite names (default: the profile's suites); see --list")
    p.add_argument("--list", action="store_true", help="list the registered suites and exit")
    p.add_argument("--out", type=Path, help="run directory (default: bench/results/<timestamp>/)")
    p.add_argument("--docs", type=Path,
                   help="markdown report to (re)write (default: docs/benchmarks.md; none for --smoke)")
    p.add_argument("--no-docs", action="store_true", help="write the report only inside --out")
    p.add_argument("--img-dir", type=Path, help="where the docs' charts are copied (default: <docs dir>/img)")
    p.add_argument("--sentrykv-cmd",
                   help="command that starts SentryKV (directives are appended), default: "
                        f"'{Path(sys.executable).name} -m sentrykv_server'; e.g. \"redis-server --save ''\" "
                        "to test the harness with Redis on both sides")
    p.add_argument("--redis-cmd", default="redis-server", help="command that starts the reference Redis")
    p.add_argument("--redis-benchmark", default="redis-benchmark", help="redis-benchmark binary")
    p.add_argument("--tmp-dir", help="parent of the servers' temp data dirs (default: the system temp dir)")
    p.add_argument("--ready-timeout", type=float, default=30.0, help="seconds to wait for a server's PING")
    p.add_argument("--engine-keys", type=int, help=argparse.SUPPRESS)  # tests: shrink 1M-key suites
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.list:
        for s in registry.all_suites():
            state = "" if s.implemented else "  [TODO: not implemented yet]"
            print(f"{s.name:<16} profiles={','.join(sorted(s.profiles)):<18} {s.title}{state}")
        return 0
    try:
        binary = find_binary(args.redis_benchmark)
        redis_server = find_binary(shlex.split(args.redis_cmd)[0])
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        suites = registry.select(args.profile, args.suites.split(",") if args.suites else None)
    except KeyError as exc:
        print(f"error: {exc.args[0]}", file=sys.stderr)
        return 2

    profile = args.profile
    reps = args.reps or DEFAULT_REPS[profile]
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    out: Path = (args.out or REPO / "bench" / "results" / stamp).resolve()
    out.mkdir(parents=True, exist_ok=True)
    docs: Path | None = None
    if not args.no_docs:
        docs = args.docs or (None if profile == "smoke" else REPO / "docs" / "benchmarks.md")
    kinds = [
        redis_kind(shlex.split(args.redis_cmd)),
        sentrykv_kind(shlex.split(args.sentrykv_cmd) if args.sentrykv_cmd else None, cwd=str(REPO)),
    ]
    facts = machine.facts(redis_server, binary, REPO, args.tmp_dir)
    results = Results()
    restore = install_signal_handlers()
    for stale in sweep_stale_dirs(args.tmp_dir):
        print(f"removed stale data dir of a killed run: {stale}", file=sys.stderr)
    ctx = Context(profile, reps, kinds, out, results, Progress(0, quiet=args.quiet), binary,
                  args.tmp_dir, args.requests, args.ready_timeout, args.engine_keys)
    ctx.progress.total = max(1, sum(s.steps(ctx) for s in suites if s.implemented))
    ctx.progress.say(f"profile {profile}: {len(suites)} suite(s), {reps} rep(s); output in {out}")
    status = 0
    try:
        for suite in suites:
            if suite.run is None:
                results.skipped[suite.name] = "not implemented yet"
                ctx.progress.say(f"{suite.name}: skipped: not implemented yet")
                continue
            ctx.progress.say(f"{suite.name}: {suite.title}")
            try:
                suite.run(ctx)
            except ServerStartError as exc:
                results.errors.append(f"{suite.name}: a server failed to start: {exc}")
                ctx.progress.say(f"{suite.name}: ABORTED, a server failed to start:\n{exc}")
    except (KeyboardInterrupt, SystemExit) as exc:
        # Ctrl-C, or SIGTERM/SIGHUP turned into SystemExit by the handler: keep what was measured,
        # but never let a partial run overwrite the published docs.
        status = exc.code if isinstance(exc, SystemExit) and isinstance(exc.code, int) else 130
        ctx.progress.say(f"interrupted: stopping servers; partial report in {out} (docs left alone)")
        docs = None
    finally:
        stop_all()
        restore()

    run = report.RunInfo(profile, reps, "python -m bench " + " ".join(argv if argv is not None else sys.argv[1:]),
                         facts, kinds, suites, ctx.progress.elapsed(), machine.load_average(), _rel(out))
    outcomes = targets.evaluate(results)
    results.write(out / "results.json")
    chart_map = report.make_charts(results, out)
    (out / "report.md").write_text(report.render(results, run, outcomes, chart_map, ""))
    if docs is not None:
        img_dir = args.img_dir or docs.parent / "img"
        report.publish(chart_map, img_dir)
        prefix = _relative_prefix(img_dir, docs.parent)
        docs.parent.mkdir(parents=True, exist_ok=True)
        kept = report.kept_sections(docs.read_text()) if docs.exists() else ""
        tail = report.kept_tail(docs)  # read before the file is rewritten
        text = report.render(results, run, outcomes, chart_map, prefix)
        docs.write_text(text + ("\n" + kept if kept else "") + tail)
    _summary(outcomes, results, out, docs)
    if status == 0 and results.errors:
        status = 1
    return status


def _rel(path: Path) -> str:
    try:
        return str(path.relative_to(REPO)) + "/"
    except ValueError:
        return str(path) + "/"


def _relative_prefix(img_dir: Path, base: Path) -> str:
    try:
        return str(img_dir.resolve().relative_to(base.resolve())) + "/"
    except ValueError:
        return str(img_dir.resolve()) + "/"


def _summary(outcomes: list[targets.Outcome], results: Results, out: Path, docs: Path | None) -> None:
    """The short verdict on stdout."""
    width = max((len(o.name) for o in outcomes), default=10)
    print("Targets (median SentryKV / Redis):")
    for o in outcomes:
        ratio = "   —  " if o.ratio is None else o.shown(o.ratio)
        print(f"  {o.name:<{width}}  {ratio}  {o.status}")
    for name, reason in results.skipped.items():
        print(f"  {name}: skipped: {reason}")
    if results.errors:
        print(f"{len(results.errors)} error(s); first: {results.errors[0].splitlines()[0]}")
    print(f"raw data and charts: {out}")
    if docs is not None:
        print(f"report: {docs}")
