"""Pub/Sub wire format and rules, compared byte for byte with redis-server."""

from __future__ import annotations

import time

import pytest
import redis

from tests.support.procs import RedisProcess, ServerProcess
from tests.transactions.wire import Wire, assert_same_script, lines, wait_for

Ports = tuple[int, int]


@pytest.fixture
def ports(r: redis.Redis, ref: redis.Redis, server: ServerProcess, reference: RedisProcess) -> Ports:
    return server.port, reference.port


SCRIPTS = {
    "unsubscribe_when_not_subscribed": "UNSUBSCRIBE; PUNSUBSCRIBE; SUNSUBSCRIBE; PING",
    "subscribe_counts": "SUBSCRIBE a b a; PSUBSCRIBE p* a; UNSUBSCRIBE a x; PUNSUBSCRIBE p*; UNSUBSCRIBE b; "
                        "PUNSUBSCRIBE a; PING",
    "subscribed_mode_rules": "SUBSCRIBE a; GET x; PUBLISH a 1; MULTI; PUBSUB NUMPAT; PING; PING hi; "
                             "PSUBSCRIBE q; CLIENT ID",
    "exec_rejected_in_subscribed_mode": "SUBSCRIBE a; EXEC; UNSUBSCRIBE a; EXEC",
    "reset_leaves_subscribed_mode": "SUBSCRIBE a; PSUBSCRIBE b*; RESET; GET x; PUBSUB NUMSUB a; PUBSUB NUMPAT",
    "shard_channels": "SSUBSCRIBE s1 s2; GET x; PING; SPUBLISH s1 m; SUNSUBSCRIBE s1; SUNSUBSCRIBE s2; "
                      "SUNSUBSCRIBE; PING; SPUBLISH s1 m",
    "shard_and_plain_counts_are_separate": "SUBSCRIBE a; SSUBSCRIBE s; SUNSUBSCRIBE s; UNSUBSCRIBE a; PING",
    "pubsub_introspection_errors": "PUBSUB; PUBSUB FOO; PUBSUB NUMPAT x; PUBSUB CHANNELS a b; "
                                   "PUBSUB SHARDCHANNELS a b; PUBSUB HELP x; PUBSUB HELP; SUBSCRIBE; PSUBSCRIBE; "
                                   "SSUBSCRIBE; PUBLISH a; SPUBLISH a; PUBLISH a b; PUBSUB NUMSUB; PUBSUB SHARDNUMSUB",
}


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_single_connection_replies_identical(name: str, ports: Ports) -> None:
    assert_same_script(ports[0], ports[1], lines(SCRIPTS[name]))


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_single_connection_replies_identical_resp3(name: str, ports: Ports) -> None:
    ours, theirs = Wire(ports[0]), Wire(ports[1])
    try:
        for w in (ours, theirs):
            w.call("HELLO", "3")
        for cmd in lines(SCRIPTS[name]):
            a, b = ours.call(*cmd), theirs.call(*cmd)
            # Several replies (one per channel, or messages to ourselves): drain both.
            while ours.pending(0.02) or theirs.pending(0.02):
                a += ours.reply()
                b += theirs.reply()
            assert a == b, cmd
    finally:
        ours.close()
        theirs.close()


def deliveries(port: int, resp3: bool, subscribe: list[list[str]], publish: list[tuple[str, str]]) -> object:
    sub = Wire(port)
    if resp3:
        sub.call("HELLO", "3")
    confirmations = []
    for cmd in subscribe:
        confirmations.append(sub.call(*cmd))
        for _ in range(len(cmd) - 2):
            confirmations.append(sub.reply())
    pub = redis.Redis(port=port)
    received = []
    for channel, message in publish:
        n = pub.publish(channel, message)
        got = sorted(sub.reply() for _ in range(n))  # patterns may be visited in any order
        received.append((n, got))
    assert not sub.pending(0.05)
    sub.close()
    pub.close()
    return confirmations, received


@pytest.mark.parametrize("resp3", [False, True])
def test_messages_identical_to_redis(ports: Ports, resp3: bool) -> None:
    subscribe = [["SUBSCRIBE", "news", "bin\x00ary"],
                 ["PSUBSCRIBE", "new*", "n?ws", "n[ae]ws", "n[^e]ws", "n\\*ws", "*"]]
    publish = [("news", "hello"), ("naws", ""), ("n*ws", "x" * 300), ("bin\x00ary", "\r\n"), ("other", "o"),
               ("newsroom", "r"), ("nws", "z")]
    ours = deliveries(ports[0], resp3, subscribe, publish)
    theirs = deliveries(ports[1], resp3, subscribe, publish)
    assert ours == theirs


def test_every_subscriber_gets_each_message_once_per_subscription(ports: Ports) -> None:
    def scenario(port: int) -> object:
        subs = [Wire(port) for _ in range(3)]
        subs[0].call("SUBSCRIBE", "c")
        subs[1].call("PSUBSCRIBE", "c*")
        subs[2].call("SUBSCRIBE", "c")
        subs[2].call("PSUBSCRIBE", "*")
        pub = redis.Redis(port=port)
        counts = [pub.publish("c", "m1"), pub.publish("cx", "m2")]
        got = [[s.reply() for _ in range(n)] for s, n in zip(subs, (1, 2, 3), strict=True)]
        assert not any(s.pending(0.05) for s in subs)
        numsub = pub.execute_command("PUBSUB", "NUMSUB", "c", "cx")
        numpat = pub.execute_command("PUBSUB", "NUMPAT")
        for s in subs:
            s.close()
        wait_for(lambda: pub.execute_command("PUBSUB", "NUMPAT") == 0)
        return counts, [sorted(g) for g in got], numsub, numpat

    assert scenario(ports[0]) == scenario(ports[1])


def test_pubsub_channels_and_numsub(ports: Ports) -> None:
    def scenario(port: int) -> object:
        a, b = Wire(port), Wire(port)
        a.call("SUBSCRIBE", "news.tech")
        a.reply() if a.pending(0.01) else None
        b.call("SUBSCRIBE", "news.art")
        b.call("SUBSCRIBE", "news.tech")
        b.call("SSUBSCRIBE", "shard1")
        b.call("PSUBSCRIBE", "news.*")
        c = redis.Redis(port=port)
        out = (
            sorted(c.execute_command("PUBSUB", "CHANNELS")),
            sorted(c.execute_command("PUBSUB", "CHANNELS", "news.t*")),
            c.execute_command("PUBSUB", "NUMSUB", "news.tech", "news.art", "nope"),
            c.execute_command("PUBSUB", "NUMPAT"),
            c.execute_command("PUBSUB", "SHARDCHANNELS"),
            c.execute_command("PUBSUB", "SHARDNUMSUB", "shard1", "news.tech"),
            int(c.info("stats")["pubsub_channels"]), int(c.info("stats")["pubsub_patterns"]),
        )
        a.close()
        b.close()
        wait_for(lambda: c.execute_command("PUBSUB", "CHANNELS") == [])
        return out

    assert scenario(ports[0]) == scenario(ports[1])


def test_redis_py_pubsub_object(server: ServerProcess, r: redis.Redis) -> None:
    for protocol in (2, 3):
        client = redis.Redis(port=server.port, protocol=protocol)
        p = client.pubsub()
        p.subscribe("ch")
        p.psubscribe("c*")
        assert p.get_message(timeout=1)["type"] == "subscribe"
        assert p.get_message(timeout=1)["type"] == "psubscribe"
        assert r.publish("ch", "hi") == 2
        msgs = [p.get_message(timeout=1), p.get_message(timeout=1)]
        assert {m["type"] for m in msgs} == {"message", "pmessage"}
        assert all(m["data"] == b"hi" for m in msgs)
        p.close()
        client.close()


def test_unsubscribe_all_lists_every_channel(ports: Ports) -> None:
    def scenario(port: int) -> list[bytes]:
        w = Wire(port)
        w.call("SUBSCRIBE", "a", "b", "c")
        w.reply()
        w.reply()
        got = [w.call("UNSUBSCRIBE"), w.reply(), w.reply()]
        w.close()
        return got

    # Redis walks its dict, so the channel order is unspecified; the counts go 2, 1, 0.
    for got in (scenario(ports[0]), scenario(ports[1])):
        assert [x[-4:] for x in got] == [b":2\r\n", b":1\r\n", b":0\r\n"]
        assert sorted(x[:-4] for x in got) == [b"*3\r\n$11\r\nunsubscribe\r\n$1\r\n" + ch + b"\r\n"
                                               for ch in (b"a", b"b", b"c")]


def test_publish_inside_multi_delivers_at_exec(ports: Ports) -> None:
    def scenario(port: int) -> object:
        sub = Wire(port)
        sub.call("SUBSCRIBE", "t")
        w = Wire(port)
        w.call("MULTI")
        w.call("PUBLISH", "t", "1")
        early = sub.pending(0.05)
        exec_reply = w.call("EXEC")
        msg = sub.reply()
        sub.close()
        w.close()
        return early, exec_reply, msg

    assert scenario(ports[0]) == scenario(ports[1]) == (
        False, b"*1\r\n:1\r\n", b"*3\r\n$7\r\nmessage\r\n$1\r\nt\r\n$1\r\n1\r\n")


def test_slow_subscriber_soft_limit(server: ServerProcess, r: redis.Redis) -> None:
    """Over the soft limit for longer than its seconds: disconnected."""
    r.config_set("client-output-buffer-limit", "normal 0 0 0 slave 268435456 67108864 60 pubsub 0 256kb 1")
    try:
        sub = Wire(server.port)
        sub.sock.setsockopt(__import__("socket").SOL_SOCKET, __import__("socket").SO_RCVBUF, 4096)
        sub.call("SUBSCRIBE", "slow")
        payload = "x" * 262144
        started = time.monotonic()
        while r.execute_command("PUBSUB", "NUMSUB", "slow")[1] == 1:
            assert time.monotonic() - started < 5, "soft limit never enforced"
            r.publish("slow", payload)
            time.sleep(0.05)
        assert time.monotonic() - started >= 0.9  # the soft limit allows its seconds first
        sub.close()
    finally:
        r.config_set("client-output-buffer-limit",
                     "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60")
