"""Milliseconds since the epoch: the one clock expiry is measured with."""

from __future__ import annotations

import time

_time = time.time


def now_ms() -> int:
    return int(_time() * 1000)
