"""Three redis-sentinel processes, one SentryKV master and two SentryKV replicas, a writer.

The writer goes through redis-py's ``Sentinel`` client (it asks the sentinels
where the master is and follows a failover) and counts a write as
*acknowledged* only when ``WAITAOF 1 1`` confirmed it is fsynced on the
master and on at least one replica.  :meth:`Topology.failover` kills the
master with SIGKILL, measures how long until the first acknowledged write on
the new master, restarts the old master and waits until Sentinel has turned
it into a replica that caught up; :meth:`Topology.lost` lists acknowledged
writes missing from the current master.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import redis
from redis.sentinel import Sentinel

from tests.replication.helpers import (
    SentinelProcess,
    SentryKV,
    info,
    sentrykv,
    wait_for,
    wait_synced,
)

NAME = "mymaster"


class Writer(threading.Thread):
    def __init__(self, sentinels: list[SentinelProcess]) -> None:
        super().__init__(daemon=True)
        self.sentinel = Sentinel([("127.0.0.1", s.port) for s in sentinels], socket_timeout=2)
        self.acked: list[int] = []
        self.ack_times: list[float] = []
        self.errors = 0
        self.stopping = threading.Event()
        self.lock = threading.Lock()

    def run(self) -> None:
        seq = 0
        master = self.sentinel.master_for(NAME, socket_timeout=2, socket_connect_timeout=1)
        while not self.stopping.is_set():
            seq += 1
            try:
                master.set(f"w:{seq}", seq)
                local, replicas = master.execute_command("WAITAOF", 1, 1, 2000)
                if local >= 1 and replicas >= 1:
                    with self.lock:
                        self.acked.append(seq)
                        self.ack_times.append(time.monotonic())
            except (redis.ConnectionError, redis.TimeoutError, redis.ResponseError, OSError):
                self.errors += 1
                time.sleep(0.05)
            time.sleep(0.005)

    def acks_since(self, when: float) -> int:
        with self.lock:
            return sum(1 for t in self.ack_times if t > when)

    def first_ack_after(self, when: float) -> float | None:
        with self.lock:
            return next((t for t in self.ack_times if t > when), None)


@dataclass
class Topology:
    nodes: list[SentryKV] = field(default_factory=list)
    sentinels: list[SentinelProcess] = field(default_factory=list)
    writer: Writer | None = None

    def start(self) -> Topology:
        master = sentrykv().start()
        self.nodes = [master]
        for _ in range(2):
            self.nodes.append(sentrykv().replica_of(master).start())
        for node in self.nodes[1:]:
            wait_synced(node.client(), master.client())
        self.sentinels = [SentinelProcess(master.port).start() for _ in range(3)]
        for s in self.sentinels:
            wait_for(lambda s=s: self._sentinel_ready(s), 30, "sentinels to see both replicas and each other")
        return self

    @staticmethod
    def _sentinel_ready(s: SentinelProcess) -> bool:
        state = s.client().sentinel_master(NAME)
        return int(state["num-slaves"]) == 2 and int(state["num-other-sentinels"]) == 2

    def master_port(self) -> int:
        host, port = self.sentinels[0].client().sentinel_get_master_addr_by_name(NAME)
        return int(port)

    def node(self, port: int) -> SentryKV:
        return next(n for n in self.nodes if n.port == port)

    def start_writer(self) -> Writer:
        self.writer = Writer(self.sentinels)
        self.writer.start()
        wait_for(lambda: len(self.writer.acked) >= 20, 30, "acknowledged writes")  # type: ignore[union-attr]
        return self.writer

    def failover(self) -> tuple[float, float]:
        """kill -9 the master; (seconds to the first acknowledged write after it, seconds until
        the old master is a caught-up replica of the new one)."""
        assert self.writer is not None
        old = self.node(self.master_port())
        killed_at = time.monotonic()
        old.kill9()
        wait_for(lambda: self.master_port() != old.port, 60, "Sentinel to promote a replica")
        wait_for(lambda: self.writer.acks_since(killed_at) >= 10, 60,  # type: ignore[union-attr]
                 "acknowledged writes on the new master")
        first = self.writer.first_ack_after(killed_at)
        assert first is not None
        failover_s = first - killed_at
        old.start()
        try:
            # Against what all sentinels agree is the master now (a sentinel may still be
            # finishing a failover attempt of its own: its view is what counts in the end).
            wait_for(lambda: info(old.client()).get("master_port") == self.agreed_master_port(), 60,
                     "Sentinel to turn the old master into a replica")
        except TimeoutError as exc:
            logs = "\n".join(s.log_text()[-3000:] for s in self.sentinels)
            raise TimeoutError(f"{exc}\nold master {info(old.client())}\n{old.log_text()[-3000:]}\n{logs}") from None
        new = self.node(self.agreed_master_port())
        wait_synced(old.client(), new.client(), 60)
        return failover_s, time.monotonic() - killed_at

    def agreed_master_port(self) -> int:
        """The master all three sentinels report (0 while they disagree)."""
        ports = {int(s.client().sentinel_get_master_addr_by_name(NAME)[1]) for s in self.sentinels}
        return ports.pop() if len(ports) == 1 else 0

    def lost(self) -> list[int]:
        """Acknowledged writes missing from the current master."""
        assert self.writer is not None
        master = self.node(wait_for(self.agreed_master_port, 60, "the sentinels to agree")).client()
        with self.writer.lock:
            acked = list(self.writer.acked)
        missing = []
        for i in range(0, len(acked), 500):
            chunk = acked[i:i + 500]
            values = master.mget([f"w:{n}" for n in chunk])
            missing += [n for n, v in zip(chunk, values, strict=True) if v is None]
        return missing

    def stop(self) -> None:
        if self.writer is not None:
            self.writer.stopping.set()
            self.writer.join(10)
        for s in self.sentinels:
            s.stop()
            s.cleanup()
        for node in self.nodes:
            node.stop()
            node.cleanup()
