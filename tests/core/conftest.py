"""tests/core: after every test that used a SentryKV server, its log must show no traceback.

A handler that raises turns into ``-ERR internal error ...`` for the client and
a traceback in the server log; a test comparing replies might not notice the
former, so the part of the log written during the test is checked too.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.procs import ServerProcess

_BAD = ("Traceback", "error executing")


@pytest.fixture(autouse=True)
def no_tracebacks_in_server_log(request: pytest.FixtureRequest) -> Iterator[None]:
    srv: ServerProcess | None = None
    if "server" in request.fixturenames:
        srv = request.getfixturevalue("server")
    before = len(srv.log_text()) if srv is not None else 0
    yield
    if srv is None:
        return
    new = srv.log_text()[before:]
    assert not any(word in new for word in _BAD), new[-4000:]
