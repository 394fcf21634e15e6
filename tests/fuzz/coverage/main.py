"""Coverage-guided fuzzing of one target with atheris (libFuzzer arguments pass through).

    python -m tests.fuzz.coverage.main framing -atheris_runs=200000
    python -m tests.fuzz.coverage.main snapshot_blocks -max_total_time=300 corpus_dir/

Targets: see tests/fuzz/coverage/targets.py (framing, wal_records, wal_segment,
snapshot_raw, snapshot_blocks).  A crash leaves ``crash-<sha1>`` in the current
directory; reproduce it with ``python -m tests.fuzz.coverage.main TARGET crash-<sha1>``.
"""

from __future__ import annotations

import os
import sys


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in ("framing", "wal_records", "wal_segment", "snapshot_raw",
                                                "snapshot_blocks"):
        sys.exit(__doc__)
    import atheris

    with atheris.instrument_imports(include=["sentrykv_server"]):
        import sentrykv_server.persistence.records  # noqa: F401
        import sentrykv_server.persistence.snapshot  # noqa: F401
        import sentrykv_server.persistence.wal_reader  # noqa: F401
        import sentrykv_server.protocol.connection  # noqa: F401
        import sentrykv_server.protocol.framing  # noqa: F401
        import sentrykv_server.protocol.inline  # noqa: F401
        import sentrykv_server.protocol.input_guard  # noqa: F401
        import sentrykv_server.server  # noqa: F401
    from tests.fuzz.coverage import targets

    target = targets.TARGETS[sys.argv[1]]
    corpus = [a for a in sys.argv[2:] if not a.startswith("-")]
    if corpus and os.path.isdir(corpus[0]) and not os.listdir(corpus[0]):
        for i, seed in enumerate(targets.seeds(sys.argv[1])):
            with open(os.path.join(corpus[0], f"seed-{i}"), "wb") as f:
                f.write(seed)
    atheris.Setup([sys.argv[0], *sys.argv[2:]], target)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
