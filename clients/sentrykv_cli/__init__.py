"""sentrykv-cli: a redis-cli-like shell for SentryKV with the reference engines' words.

Run ``sentrykv-cli --help``; the exit statuses are in :mod:`sentrykv_cli.exitcodes`.
"""

__version__ = "0.1.0"
