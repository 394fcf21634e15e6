"""Automatic failover of SentryKV by Redis Sentinel (Debian's redis-sentinel 7.0.15).

Sentinel talks to SentryKV exactly as to Redis: PING, INFO (run_id, role,
slaveN, master_link_down_since_seconds, slave_priority, slave_repl_offset...),
CLIENT SETNAME, PUBLISH/SUBSCRIBE on ``__sentinel__:hello``, and the failover
transaction ``MULTI; SLAVEOF NO ONE | host port; CONFIG REWRITE; CLIENT KILL
TYPE normal; CLIENT KILL TYPE pubsub; EXEC``.  The repeated-failover loop is
in test_failover_loop.py (slow).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.replication.helpers import info
from tests.replication.sentinel_topology import Topology


@pytest.fixture
def topology() -> Iterator[Topology]:
    topo = Topology().start()
    yield topo
    topo.stop()


def test_sentinel_failover_loses_no_acknowledged_write(topology: Topology) -> None:
    old_port = topology.master_port()
    writer = topology.start_writer()
    failover_s, rejoined_s = topology.failover()
    new_port = topology.master_port()
    assert new_port != old_port
    new = topology.node(new_port)
    assert info(new.client())["role"] == "master"
    # Sentinel's CONFIG REWRITE reached the config files: the roles survive restarts.
    assert "replicaof" not in open(new.conf).read()
    assert f"replicaof 127.0.0.1 {new_port}" in open(topology.node(old_port).conf).read()
    writer.stopping.set()
    writer.join(10)
    assert topology.lost() == []
    assert len(writer.acked) > 30
    for s in topology.sentinels:
        assert "+switch-master" in s.log_text() or "+config-update-from" in s.log_text()
    print(f"\nfailover: first acknowledged write {failover_s:.2f}s after kill -9; old master a synced "
          f"replica after {rejoined_s:.2f}s; {len(writer.acked)} writes acknowledged, 0 lost")
