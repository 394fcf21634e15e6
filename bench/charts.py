"""PNG charts (matplotlib, headless Agg backend) for the report.

One function per chart kind; each takes already-aggregated rows and a path
and returns the path written, or None when there is nothing to draw.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from bench.results import Row  # noqa: E402

COLORS = {"redis": "#c0392b", "sentrykv": "#2471a3"}
LABELS = {"redis": "Redis", "sentrykv": "SentryKV"}
SERVERS = ("redis", "sentrykv")
LATENCY = (("min_ms", "min"), ("p50_ms", "p50"), ("avg_ms", "avg"), ("p95_ms", "p95"), ("p99_ms", "p99"),
           ("max_ms", "max"))


def _save(fig: Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def grouped_bars(
    rows: Sequence[Row], metric: str, path: Path, title: str, xlabel: str,
    label: Callable[[Row], str], annotate_ratio: bool = True, log: bool = False,
) -> Path | None:
    """Horizontal bars, one pair (Redis, SentryKV) per row, ratio printed at the right."""
    rows = [r for r in rows if any(r.value(s, metric) is not None for s in SERVERS)]
    if not rows:
        return None
    height = 0.38
    fig, ax = plt.subplots(figsize=(9, 1.0 + 0.55 * len(rows)))
    ys = range(len(rows))
    top = 0.0
    for i, server in enumerate(SERVERS):
        values = [r.value(server, metric) or 0.0 for r in rows]
        top = max(top, *values)
        ax.barh([y + (i - 0.5) * height for y in ys], values, height, color=COLORS[server], label=LABELS[server])
    if annotate_ratio:
        for y, row in zip(ys, rows, strict=True):
            ratio = row.ratio(metric)
            if ratio is not None:
                ax.text(1.01, y, f"{ratio:.2f}x", transform=ax.get_yaxis_transform(), va="center", fontsize=8)
    ax.set_yticks(list(ys), [label(r) for r in rows], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    if log:
        ax.set_xscale("log")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="best")
    ax.grid(axis="x", alpha=0.3)
    return _save(fig, path)


def latency_chart(rows: Sequence[Row], path: Path, title: str, label: Callable[[Row], str]) -> Path | None:
    """redis-benchmark's latency columns: all percentiles per test if few tests, else p50/p99."""
    rows = [r for r in rows if any(r.value(s, "p50_ms") is not None for s in SERVERS)]
    if not rows:
        return None
    if len(rows) > 6:
        return _latency_p50_p99(rows, path, title, label)
    cols = min(len(rows), 3)
    lines = (len(rows) + cols - 1) // cols
    fig, axes = plt.subplots(lines, cols, figsize=(4.2 * cols, 3.2 * lines), squeeze=False)
    width = 0.38
    for ax, row in zip(axes.flat, rows, strict=False):
        xs = range(len(LATENCY))
        for i, server in enumerate(SERVERS):
            values = [row.value(server, key) or 0.0 for key, _ in LATENCY]
            ax.bar([x + (i - 0.5) * width for x in xs], values, width, color=COLORS[server], label=LABELS[server])
        ax.set_xticks(list(xs), [name for _, name in LATENCY], fontsize=8)
        ax.set_yscale("log")
        ax.set_ylabel("ms (log)", fontsize=8)
        ax.set_title(label(row), fontsize=9)
        ax.grid(axis="y", alpha=0.3)
    for ax in list(axes.flat)[len(rows):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    return _save(fig, path)


def _latency_p50_p99(rows: Sequence[Row], path: Path, title: str, label: Callable[[Row], str]) -> Path:
    fig, ax = plt.subplots(figsize=(9, 1.0 + 0.6 * len(rows)))
    height = 0.2
    series = [(s, k) for k in ("p50_ms", "p99_ms") for s in SERVERS]
    for i, (server, key) in enumerate(series):
        ys = [y + (i - 1.5) * height for y in range(len(rows))]
        values = [r.value(server, key) or 0.0 for r in rows]
        ax.barh(ys, values, height, color=COLORS[server], alpha=1.0 if key == "p50_ms" else 0.45,
                label=f"{LABELS[server]} {key[:3]}")
    ax.set_yticks(list(range(len(rows))), [label(r) for r in rows], fontsize=8)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("latency, ms (log)")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="best")
    ax.grid(axis="x", alpha=0.3)
    return _save(fig, path)


def ratio_chart(items: Sequence[tuple[str, float]], path: Path, title: str,
                thresholds: Sequence[float] = (1.0,)) -> Path | None:
    """SentryKV/Redis ratio per labelled test, with reference lines."""
    if not items:
        return None
    fig, ax = plt.subplots(figsize=(9, 1.0 + 0.32 * len(items)))
    ys = list(range(len(items)))
    ratios = [r for _, r in items]
    colors = [COLORS["sentrykv"] if r >= 1.0 else "#7fb3d5" for r in ratios]
    ax.barh(ys, ratios, 0.7, color=colors)
    for y, r in zip(ys, ratios, strict=True):
        ax.text(r, y, f" {r:.2f}", va="center", fontsize=7)
    for t in thresholds:
        ax.axvline(t, color="#555", lw=0.8, ls="--" if t != 1.0 else "-")
    ax.set_yticks(ys, [name for name, _ in items], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("SentryKV / Redis (req/s, higher is better)")
    ax.set_title(title, fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    return _save(fig, path)
