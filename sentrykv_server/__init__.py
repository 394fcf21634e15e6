"""SentryKV: a crash-safe, Redis-compatible key-value server."""

__version__ = "0.1.0"
REDIS_COMPAT_VERSION = "7.0.15"
