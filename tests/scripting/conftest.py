"""Fixtures of the scripting tests: the differential runner against redis-server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.scripting.luadiff import LuaDiff
from tests.support.procs import RedisProcess


@pytest.fixture(scope="module")
def luadiff(reference: RedisProcess) -> Iterator[LuaDiff]:
    client = reference.client()
    yield LuaDiff(client)
    client.close()
