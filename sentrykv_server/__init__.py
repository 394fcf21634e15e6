"""SentryKV: a crash-safe, Redis-compatible key-value server."""

from sentrykv_server.buildinfo import install_pure_finder

__version__ = "0.1.0"
REDIS_COMPAT_VERSION = "7.0.15"

# SENTRYKV_PURE=1 must win over compiled .so files installed beside the .py
# sources: decide before any other submodule is imported (docs/build.md).
install_pure_finder()
