"""SentryKV benchmark harness: SentryKV and real Redis, side by side, in one run.

The shared machine is noisy (absolute figures drift 20-25 % within an hour), so
every figure this package reports is a *ratio against Redis measured in the
same run*, with the two servers exercised alternately and summarised by
medians.  See ``bench/README.md`` for how to run it and ``docs/benchmarks.md``
for the latest generated report.
"""
