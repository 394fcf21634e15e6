"""ACL users through real clients: redis-cli and sentrykv-cli ``--user --pass``, redis-py
``username=`` over RESP2 and RESP3 (AUTH user pass / HELLO 3 AUTH user pass)."""

from __future__ import annotations

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from tests.acl.support import AclPair
from tests.clients.clitools import run_cli, run_redis_cli


def _users(pair: AclPair) -> None:
    pair.same("ACL", "SETUSER", "app", "on", ">app pass", "~app:*", "-@all", "+@read", "+@write", "+acl|whoami")


def test_redis_cli_and_sentrykv_cli_with_user(pair: AclPair) -> None:
    _users(pair)
    outputs = []
    for side in pair.sides:
        port = str(side.port)
        base = ["-p", port, "--user", "app", "--pass", "app pass", "--no-auth-warning"]
        whoami = run_redis_cli(*base, "ACL", "WHOAMI")
        denied = run_redis_cli(*base, "GET", "other")
        allowed = run_redis_cli(*base, "SET", "app:1", "v")
        wrong = run_redis_cli("-p", port, "--user", "app", "--pass", "nope", "--no-auth-warning", "PING")
        outputs.append((whoami.stdout, denied.stdout, allowed.stdout, wrong.stdout, wrong.stderr))
    assert outputs[0] == outputs[1]
    assert outputs[0][0] == b"app\n"
    assert outputs[0][1].startswith(b"NOPERM this user has no permissions to access one of the keys")
    # SentryKV's own CLI, same flags.
    port = str(pair.skv.port)
    mine = run_cli("-p", port, "--user", "app", "--pass", "app pass", "ACL", "WHOAMI")
    assert mine.stdout == b"app\n", mine
    bad = run_cli("-p", port, "--user", "app", "--pass", "nope", "PING")
    assert bad.returncode != 0


@pytest.mark.parametrize("protocol", [2, 3])
def test_redis_py_username(pair: AclPair, protocol: int) -> None:
    _users(pair)
    for side in pair.sides:
        client = redis.Redis(port=side.port, username="app", password="app pass", protocol=protocol)
        try:
            assert client.acl_whoami() in ("app", b"app")
            assert client.set("app:k", "v") is True
            with pytest.raises(redis.exceptions.NoPermissionError):
                client.get("elsewhere")
            with pytest.raises(redis.exceptions.NoPermissionError):
                client.config_get("maxmemory")
        finally:
            client.close()
        wrong = redis.Redis(port=side.port, username="app", password="wrong", protocol=protocol,
                            retry=Retry(NoBackoff(), 0))
        with pytest.raises(redis.exceptions.AuthenticationError):
            wrong.ping()
        wrong.close()
