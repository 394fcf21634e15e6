"""The markdown report (docs/benchmarks.md and <out>/report.md) and its charts.

The report is generated, never hand-edited: it states the machine, the exact
commands, the method, the targets (met / not met with the measured ratio),
then one section per suite with tables and chart links.  Charts are written
into the run directory; :func:`publish` copies the ones the docs link into
``docs/img/`` because ``bench/results/`` is git-ignored.
"""

from __future__ import annotations

import re
import shlex
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench import charts
from bench.progress import human_rate
from bench.registry import Suite
from bench.results import METRICS, Results, Row
from bench.servers import MODES, ServerKind
from bench.targets import Outcome

CHART_PREFIX = "bench-"
SERVERS = ("redis", "sentrykv")


@dataclass
class RunInfo:
    profile: str
    reps: int
    argv: str
    facts: dict[str, str]
    kinds: list[ServerKind]
    suites: list[Suite]
    duration_s: float = 0.0
    load_after: str = ""
    out_dir: str = ""
    charts: list[Path] = field(default_factory=list)


def case_label(case: str) -> str:
    """``"set-c50-P16-r100000"`` -> ``"-c 50 -P 16 -r 100000"``."""
    parts = []
    for token in case.split("-")[1:]:
        if token[:1] in "cPr" and token[1:].isdigit():
            parts.append(f"-{token[0]} {token[1:]}")
    return " ".join(parts)


def row_label(row: Row) -> str:
    if row.suite == "default":
        return row.test
    suffix = case_label(row.case)
    return f"{row.test} {suffix}".strip()


def _num(value: float | None, metric: str) -> str:
    if value is None or value != value:
        return "—"
    if metric == "rps" or metric.endswith("_per_s"):
        return human_rate(value)
    if metric.endswith("_per_key"):
        return f"{value:,.0f}"
    if metric.endswith("_ms"):
        return f"{value:.3f}"
    if metric == "client_cpu_util":
        return f"{value:.2f}"
    return f"{value:.2f}" if value < 100 else f"{value:,.0f}"


def _ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}x"


def _lat(row: Row, server: str) -> str:
    p50, p99 = row.value(server, "p50_ms"), row.value(server, "p99_ms")
    if p50 is None:
        return "—"
    return f"{_num(p50, 'p50_ms')} / {_num(p99, 'p99_ms')}"


def _reps(row: Row) -> str:
    return "/".join(str(row.counts.get(s, 0)) for s in SERVERS)


def throughput_table(rows: Sequence[Row]) -> list[str]:
    out = [
        "| test | Redis req/s | SentryKV req/s | ratio | Redis p50 / p99 ms | SentryKV p50 / p99 ms "
        "| Redis µs CPU/req | SentryKV µs CPU/req | CPU ratio (lower is better) | client cores (Redis / SentryKV run) | n |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        util = "—"
        if r.value("redis", "client_cpu_util") is not None:
            util = f"{_num(r.value('redis', 'client_cpu_util'), 'client_cpu_util')} / " \
                   f"{_num(r.value('sentrykv', 'client_cpu_util'), 'client_cpu_util')}"
        out.append(
            f"| {row_label(r)} | {_num(r.value('redis', 'rps'), 'rps')} | {_num(r.value('sentrykv', 'rps'), 'rps')} "
            f"| **{_ratio(r.ratio('rps'))}** | {_lat(r, 'redis')} | {_lat(r, 'sentrykv')} "
            f"| {_num(r.value('redis', 'cpu_us_per_req'), 'cpu')} | {_num(r.value('sentrykv', 'cpu_us_per_req'), 'cpu')} "
            f"| {_ratio(r.ratio('cpu_us_per_req'))} | {util} | {_reps(r)} |"
        )
    return out


def latency_table(rows: Sequence[Row]) -> list[str]:
    cols = ("avg_ms", "min_ms", "p50_ms", "p95_ms", "p99_ms", "max_ms")
    out = ["| test | server | " + " | ".join(c[:-3] for c in cols) + " |", "|---|---|" + "---:|" * len(cols)]
    for r in rows:
        for s in SERVERS:
            if r.value(s, "p50_ms") is None:
                continue
            out.append(f"| {row_label(r)} | {charts.LABELS[s]} | " + " | ".join(_num(r.value(s, c), c) for c in cols) + " |")
    return out


def engine_table(rows: Sequence[Row]) -> list[str]:
    out = ["| data set | metric | Redis | SentryKV | SentryKV / Redis | better |", "|---|---|---:|---:|---:|---|"]
    for r in rows:
        metrics = [m for m in METRICS if any(m in r.medians.get(s, {}) for s in SERVERS)]
        for m in metrics:
            unit, higher = METRICS[m]
            out.append(
                f"| {r.test} | {m} ({unit}) | {_num(r.value('redis', m), m)} | {_num(r.value('sentrykv', m), m)} "
                f"| {_ratio(r.ratio(m))} | {'higher' if higher else 'lower'} |"
            )
    return out


def targets_table(outcomes: Sequence[Outcome]) -> list[str]:
    out = ["| target | threshold | measured (medians) | status | detail |", "|---|---:|---:|---|---|"]
    for o in outcomes:
        status = {"met": "✅ met", "NOT met": "❌ not met"}.get(o.status, "➖ not measured")
        measured = "—" if o.ratio is None else o.shown(o.ratio)
        out.append(f"| {o.name} | {o.shown(o.threshold)} | {measured} | {status} | {o.detail} |")
    return out


def _has_rps(rows: Sequence[Row]) -> bool:
    return any("rps" in metrics for r in rows for metrics in r.medians.values())


def _groups(results: Results, suite: str) -> list[tuple[str, list[Row]]]:
    rows = results.rows(suite)
    return [(m, [r for r in rows if r.mode == m]) for m in MODES if any(r.mode == m for r in rows)]


def make_charts(results: Results, out: Path) -> dict[str, list[Path]]:
    """Draw every chart into ``out``; returns suite -> chart paths in display order."""
    made: dict[str, list[Path]] = {}

    def add(suite: str, path: Path | None) -> None:
        if path is not None:
            made.setdefault(suite, []).append(path)

    for suite in results.suites():
        if suite == "restart-memory":
            rows = results.rows(suite)

            def label(r: Row) -> str:
                return r.test
            for metric, title, xlabel in (
                ("restart_s", "Restart until DBSIZE == N (lower is better)", "seconds"),
                ("used_memory_per_key", "INFO used_memory per key (lower is better)", "bytes/key"),
                ("rss_per_key", "RSS growth per key (lower is better)", "bytes/key"),
            ):
                add(suite, charts.grouped_bars(rows, metric, out / f"{CHART_PREFIX}{suite}-{metric}.png",
                                               title, xlabel, label))
            continue
        if not _has_rps(results.rows(suite)):
            continue  # engine suites: tables only
        for mode, rows in _groups(results, suite):
            tp = [r for r in rows if r.test != "(whole suite)"]
            stem = f"{CHART_PREFIX}{suite}-{mode}"
            add(suite, charts.grouped_bars(tp, "rps", out / f"{stem}-rps.png",
                                           f"{suite}, {mode}: throughput (median req/s)", "requests/s", row_label))
            add(suite, charts.latency_chart(tp, out / f"{stem}-latency.png",
                                            f"{suite}, {mode}: redis-benchmark latency (medians)", row_label))
            cpu_rows = [r for r in rows if r.value("redis", "cpu_us_per_req") is not None]
            add(suite, charts.grouped_bars(cpu_rows, "cpu_us_per_req", out / f"{stem}-cpu.png",
                                           f"{suite}, {mode}: server CPU per request (lower is better)",
                                           "µs CPU / request", row_label))
    items = [
        (f"{r.suite}/{r.mode}: {row_label(r)}", ratio)
        for r in results.rows() if r.suite != "restart-memory" and (ratio := r.ratio("rps")) is not None
    ]
    add("_overview", charts.ratio_chart(items, out / f"{CHART_PREFIX}overview-ratio.png",
                                        "SentryKV / Redis throughput, every test (medians)", (0.75, 0.9, 1.0, 1.3)))
    return made


#: Text of docs/benchmarks.md from this marker on is written by hand (figures measured with
#: other tools, e.g. the compiled build's instruction counts) and survives regeneration.
KEPT_MARKER = "<!-- kept: the sections below are written by hand; python -m bench keeps them -->"


def kept_tail(docs: Path) -> str:
    """The hand-written tail of an existing report (from :data:`KEPT_MARKER`), or ""."""
    try:
        text = docs.read_text()
    except OSError:
        return ""
    at = text.find(KEPT_MARKER)
    return "" if at < 0 else "\n" + text[at:]


def render(results: Results, run: RunInfo, outcomes: Sequence[Outcome], chart_map: dict[str, list[Path]],
           img_prefix: str) -> str:
    """The whole markdown document; ``img_prefix`` is prepended to chart file names."""
    L: list[str] = []
    redis, sky = run.kinds[0], run.kinds[1]
    L += [
        "# SentryKV vs Redis benchmarks",
        "",
        f"Generated by `{run.argv}` (profile **{run.profile}**, {run.reps} repetition(s), "
        f"{run.duration_s / 60:.1f} min). Do not edit by hand: rerun the harness "
        "(`make bench` for the quick profile, `make bench-full` for everything).",
        "",
    ]
    if Path(redis.command[0]).name == Path(sky.command[0]).name:
        L += ["> **Warning: both sides ran the same program** (`" + shlex.join(sky.command) +
              "`): this is a harness self-test, not a SentryKV measurement.", ""]
    L += ["## Targets", "", *targets_table(outcomes), ""]
    if "_overview" in chart_map:
        L += [f"![ratio overview]({img_prefix}{chart_map['_overview'][0].name})", ""]
    L += [
        "## How it was measured",
        "",
        "- **Side by side, alternating.** For every (suite, persistence mode, repetition) both servers "
        "are started fresh (new process, new temp data dir, free loopback port) and kept up for that "
        "repetition only. Each case runs against one server and immediately against the other; the "
        "order is A B on even repetitions and B A on odd ones. Only one server is under load at a time.",
        "- **Medians.** Every figure is the median over repetitions; *ratio* = median(SentryKV) / "
        "median(Redis). For req/s higher is better; for CPU per request and bytes per key lower is better.",
        "- **Matching persistence.** `none` = Redis `--appendonly no --save ''`, SentryKV `--appendonly no`; "
        "`everysec` / `always` = `--appendonly yes --appendfsync everysec|always` on both (Redis keeps "
        "`--save ''`, so no RDB fork runs in the background).",
        "- **At `-P 1` the client is the bottleneck.** This machine has "
        f"{run.facts.get('nproc', '?')} cores and redis-benchmark itself saturates one of them at `-P 1` "
        "(about 130-150k req/s is the ceiling for *any* server here; see the *client cores* column, "
        "close to 1.0 means the client was saturated). Req/s at `-P 1` therefore understates the gap between "
        "servers; compare **server CPU per request** (CPU time of all server threads read before and "
        "after each run, child processes included (SentryKV's fsync worker): the sum of `/proc/<pid>/task/*/schedstat`, exact to the nanosecond; utime+stime "
        "from `/proc/<pid>/stat`, 10 ms ticks, only if a thread exited in between) and the `-P 16` throughput.",
        "- **Noise.** The machine is shared; absolute numbers drift 20-25 % within an hour. Only the "
        "same-run ratios are meaningful.",
        "",
        "Server command lines (PORT and DIR are chosen per run):",
        "",
        "```",
        *[k.display(m) for k in run.kinds for m in MODES],
        "```",
        "",
        "## Machine",
        "",
        "| fact | value |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in run.facts.items()],
        f"| load average at end | {run.load_after} |",
        "",
        f"Raw data (every sample, redis-benchmark commands, server logs): `{run.out_dir}` "
        "(git-ignored; `results.json` holds all samples and medians).",
        "",
    ]
    for suite in run.suites:
        L += [f"## {suite.title} (`{suite.name}`)", "", suite.about, ""]
        if not suite.implemented:
            L += ["**skipped: not implemented yet** (engine-level benchmark; needs SentryKV's persistence code).", ""]
            continue
        if suite.name in results.skipped:
            L += [f"**skipped:** {results.skipped[suite.name]}", ""]
            continue
        rows = results.rows(suite.name)
        if not rows:
            L += ["No results (see Errors).", ""]
            continue
        if not _has_rps(rows):  # restart-memory and the engine suites: one metric per line
            L += [*engine_table(rows), ""]
        else:
            for mode, mode_rows in _groups(results, suite.name):
                L += [f"### {suite.name}, persistence `{mode}`", "", "```",
                      *results.commands.get(f"{suite.name}/{mode}", []), "```", "",
                      *throughput_table(mode_rows), "",
                      "<details><summary>all latency columns (ms, medians)</summary>", "",
                      *latency_table([r for r in mode_rows if r.test != "(whole suite)"]), "", "</details>", ""]
                for path in chart_map.get(suite.name, []):
                    if f"-{suite.name}-{mode}-" in path.name:
                        L.append(f"![{path.stem}]({img_prefix}{path.name})")
                L.append("")
            continue
        for path in chart_map.get(suite.name, []):
            L.append(f"![{path.stem}]({img_prefix}{path.name})")
        L.append("")
    if results.errors:
        L += ["## Errors", "", "```", *dedupe_errors(results.errors), "```", ""]
    return "\n".join(L).rstrip() + "\n"


def dedupe_errors(errors: Sequence[str]) -> list[str]:
    """The same failure in every repetition is one line with a count, not N lines."""
    counts: dict[str, int] = {}
    for err in errors:
        key = re.sub(r" rep \d+/\d+", "", err)
        counts[key] = counts.get(key, 0) + 1
    lines: list[str] = []
    for key, n in counts.items():
        first, *rest = key.splitlines() or [""]
        lines.append(f"{first}" + (f"  (x{n})" if n > 1 else ""))
        lines += [f"    {line}" for line in rest]
    return lines


def publish(chart_map: dict[str, list[Path]], img_dir: Path) -> None:
    """Copy the linked charts into ``img_dir``, replacing charts an earlier run left there."""
    img_dir.mkdir(parents=True, exist_ok=True)
    for old in img_dir.glob(f"{CHART_PREFIX}*.png"):
        old.unlink()
    for paths in chart_map.values():
        for path in paths:
            shutil.copy2(path, img_dir / path.name)


_KEPT = re.compile(r"<!-- kept: ([\w-]+) -->.*?<!-- /kept: \1 -->\n?", re.S)


def kept_sections(old: str) -> str:
    """The hand-written sections of an existing report, to carry over when it is rewritten.

    Measurements made outside the suites (e.g. docs/benchmarks.md's *Durable write
    path*, from ``bench.durable_ab``) live between ``<!-- kept: NAME -->`` and
    ``<!-- /kept: NAME -->``; a regenerated report would otherwise drop them.
    """
    return "".join(m.group(0) if m.group(0).endswith("\n") else m.group(0) + "\n" for m in _KEPT.finditer(old))
