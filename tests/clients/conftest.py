"""Fixtures for the client tests (servers come from tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.clients.clitools import DroppingServer


@pytest.fixture
def dropping_server() -> Iterator[DroppingServer]:
    srv = DroppingServer()
    yield srv
    srv.close()
