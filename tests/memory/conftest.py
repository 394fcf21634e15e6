"""tests/memory: every SentryKV server used by a test must log no traceback during it."""

from __future__ import annotations

from tests.core.conftest import no_tracebacks_in_server_log  # noqa: F401  (autouse fixture)
