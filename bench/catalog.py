"""Import every module that registers suites; add new suite modules here."""

from bench import (  # noqa: F401  (imported for their register() side effects)
    datatypes,
    engine,
    engine_suites,
    memory_per_key,
    replication,
    scripting_suite,
    streams,
    throughput,
)
