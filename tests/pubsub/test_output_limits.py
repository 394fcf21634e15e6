"""Clients that stop reading must not make the server's memory grow without bound.

A subscriber is cut off by ``client-output-buffer-limit pubsub`` (and its
unsent buffer dropped at once); a normal client that pipelines big replies
and never reads stops being served (its input is left unread) instead.
"""

from __future__ import annotations

import socket
import time

import redis

from tests.support.procs import ServerProcess
from tests.transactions.wire import Wire, encode, rss_mb, wait_for

MB = 1024 * 1024


def non_reading_socket(port: int) -> socket.socket:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: a tiny window
    s.connect(("127.0.0.1", port))
    return s


def test_non_reading_subscriber_is_disconnected_and_memory_freed(server: ServerProcess, r: redis.Redis) -> None:
    assert server.proc is not None
    pid = server.proc.pid
    sub = non_reading_socket(server.port)
    sub.sendall(encode(["SUBSCRIBE", "firehose"]))
    wait_for(lambda: r.execute_command("PUBSUB", "NUMSUB", "firehose")[1] == 1)
    baseline = rss_mb(pid)
    other = Wire(server.port)  # a healthy subscriber keeps receiving throughout
    other.call("SUBSCRIBE", "firehose")
    message = b"m" * MB
    peak = 0.0
    receivers = []
    for i in range(150):  # 150 MB published, far over the 32 MB hard limit
        receivers.append(r.publish("firehose", message))
        assert len(other.reply()) > MB
        if i % 10 == 0:
            peak = max(peak, rss_mb(pid))
    # With close() instead of abort() the connection would linger (its unsent buffer
    # kept, still counted as a receiver) for as long as the peer does not read.
    assert receivers[0] == 2 and receivers[-1] == 1, "the slow subscriber was never disconnected"
    assert peak - baseline < 80, f"server RSS grew by {peak - baseline:.0f} MB"
    assert "closed for overcoming of output buffer limits" in server.log_text()
    assert r.execute_command("PUBSUB", "NUMSUB", "firehose")[1] == 1
    assert int(r.info("clients")["connected_clients"]) == 2
    try:
        sub.settimeout(2)
        data = b""
        while True:
            chunk = sub.recv(1 << 20)
            if not chunk:
                break
            data += chunk
    except ConnectionResetError:
        pass  # the server aborted the connection: what it had not sent is dropped
    sub.close()
    other.close()


def test_non_reading_client_with_big_pipelined_replies(server: ServerProcess, r: redis.Redis) -> None:
    assert server.proc is not None
    pid = server.proc.pid
    r.rpush("big", *([b"v" * 100] * 10000))  # each LRANGE reply is about 1.1 MB
    baseline = rss_mb(pid)
    s = non_reading_socket(server.port)
    s.sendall(encode(["LRANGE", "big", "0", "-1"]) * 250)  # 275 MB of replies if all were produced
    peak = 0.0
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        peak = max(peak, rss_mb(pid))
        time.sleep(0.05)
    assert peak - baseline < 60, f"server RSS grew by {peak - baseline:.0f} MB for one non-reading client"
    assert r.ping()  # everybody else is still served
    # Once it reads, it gets every reply, complete and in order.
    probe = Wire(server.port)
    one = probe.call("LRANGE", "big", "0", "-1")
    probe.close()
    expected = one * 250
    s.settimeout(10)
    received = bytearray()
    while len(received) < len(expected):
        chunk = s.recv(1 << 20)
        assert chunk, "connection closed before every reply arrived"
        received += chunk
    assert received == expected
    s.settimeout(0.1)
    try:
        assert s.recv(1) == b""
    except TimeoutError:
        pass  # nothing more: fine
    s.close()
