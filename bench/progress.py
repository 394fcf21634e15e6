"""Progress lines on stderr: step counter, elapsed time and a rough time-left estimate.

stdout stays free for the final summary; a long full run should still show
that it is alive and what it is measuring right now.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


def _clock(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"


def human_rate(value: float) -> str:
    if value >= 1e6:
        return f"{value / 1e6:.2f}M"
    if value >= 1e3:
        return f"{value / 1e3:.1f}k"
    return f"{value:.0f}"


class Progress:
    def __init__(self, total: int, stream: TextIO | None = None, quiet: bool = False) -> None:
        self.total = max(total, 1)
        self.done = 0
        self.t0 = time.perf_counter()
        self.stream = stream or sys.stderr
        self.quiet = quiet

    def _prefix(self) -> str:
        elapsed = time.perf_counter() - self.t0
        left = elapsed / self.done * (self.total - self.done) if self.done else 0.0
        eta = f" ~{_clock(left)} left" if self.done and self.done < self.total else ""
        return f"[{self.done:>3}/{self.total} {_clock(elapsed)}{eta}]"

    def step(self, message: str) -> None:
        """One unit of work finished."""
        self.done += 1
        self.say(message)

    def say(self, message: str) -> None:
        if not self.quiet:
            print(f"{self._prefix()} {message}", file=self.stream, flush=True)

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0
