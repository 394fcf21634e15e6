"""notify-keyspace-events as a directive: CONFIG SET/GET against redis-server, start-up, REWRITE."""

from __future__ import annotations

import os
import random

import redis

from tests.support.procs import RedisProcess, ServerProcess
from tests.transactions.wire import Wire

LETTERS = "Ag$lshzxeKEtmdn"


def _values() -> list[str]:
    fixed = ["", *LETTERS, "KEA", "AKE", "KEAn", "KEAnm", "Kg$lshzxetdnm", "gn", "tdn", "hl", "ex", "mn",
             "KEA m", "KEQ", "kea", "AA", "KKEE", "A$", "\u00e9", "K\x00E"]
    rng = random.Random(7)
    fixed += ["".join(rng.choice(LETTERS + "qQ ") for _ in range(rng.randint(1, 8))) for _ in range(120)]
    return fixed


def test_config_set_and_get_like_redis(server: ServerProcess, reference: RedisProcess) -> None:
    ours, theirs = Wire(server.port), Wire(reference.port)
    try:
        for value in _values():
            raw = value.encode()
            set_ours = ours.call("CONFIG", "SET", "notify-keyspace-events", raw)
            set_theirs = theirs.call("CONFIG", "SET", "notify-keyspace-events", raw)
            assert set_ours == set_theirs, value
            get_ours = ours.call("CONFIG", "GET", "notify-keyspace-events")
            assert get_ours == theirs.call("CONFIG", "GET", "notify-keyspace-events"), value
        assert ours.call("CONFIG", "SET", "notify-keyspace-events", "") == b"+OK\r\n"
        theirs.call("CONFIG", "SET", "notify-keyspace-events", "")
    finally:
        ours.close()
        theirs.close()


def test_start_up_value_and_rewrite(tmp_path: object) -> None:
    """The config file's value, overridden on the command line, rewritten by CONFIG REWRITE."""
    conf = os.path.join(str(tmp_path), "sentrykv.conf")
    with open(conf, "w") as fh:
        fh.write("notify-keyspace-events KEA\nappendonly no\n")
    srv = ServerProcess(args=["--notify-keyspace-events", "Kx$"])
    srv.command = lambda: [*ServerProcess.command(srv)[:3], conf, *ServerProcess.command(srv)[3:]]  # type: ignore[method-assign]
    srv.start()
    try:
        r = redis.Redis(port=srv.port)
        assert r.config_get("notify-keyspace-events") == {"notify-keyspace-events": "$xK"}
        p = r.pubsub()
        p.psubscribe("__key*")
        assert p.get_message(timeout=2)["type"] == "psubscribe"
        r.set("k", "v")
        msg = p.get_message(timeout=2)
        assert msg is not None and msg["channel"] == b"__keyspace@0__:k" and msg["data"] == b"set"
        p.close()
        r.config_set("notify-keyspace-events", "Elgn")
        r.config_rewrite()
        r.close()
        with open(conf) as fh:
            assert "notify-keyspace-events glnE\n" in fh.read()  # Redis's canonical form
    finally:
        srv.stop()
        srv.cleanup()
