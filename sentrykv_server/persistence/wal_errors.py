"""Exceptions of the WAL writer that subclass built-ins.

Why a module of their own: persistence/wal_writer.py is compiled by mypyc, and
a native class cannot inherit from ``OSError``; this module stays ordinary
Python and wal_writer.py re-exports what it defines.
"""

from __future__ import annotations


class WalSyncLost(OSError):
    """An fsync failed and the unsynced data could not be rewritten: restart required."""
