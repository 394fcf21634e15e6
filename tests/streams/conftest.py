"""Fixtures for the stream tests (the shared servers live in tests/conftest.py)."""

from tests.blocking.test_blocking import ports  # noqa: F401  (both servers, flushed)
from tests.transactions.wire import server_log_clean  # noqa: F401  (autouse fixture)
