"""Import every module that registers suites; add new suite modules here."""

from bench import datatypes, engine, engine_suites, scripting_suite, streams, throughput  # noqa: F401  (imported for their register() side effects)
