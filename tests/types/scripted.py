"""Scripted differential cases: one command per line, run on SentryKV and redis-server.

Lines are split like a shell would (``shlex``) and ``\\xNN`` escapes become bytes,
so binary values (HyperLogLog headers, NUL bytes) can be written inline.  Every
case list runs twice from an empty dataset, once per protocol, and the final
dataset is compared too.
"""

from __future__ import annotations

import shlex

from tests.types.diff import Differ


def parse(line: str) -> tuple[bytes, ...]:
    return tuple(
        part.encode("latin-1").decode("unicode_escape").encode("latin-1") for part in shlex.split(line)
    )


def run_script(differ: Differ, script: str, config: dict[str, str] | None = None) -> None:
    lines = [ln.strip() for ln in script.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    for proto in (2, 3):
        differ.reset(config)
        for line in lines:
            differ.run(parse(line), proto)
        differ.compare_state(string_encoding=False)
