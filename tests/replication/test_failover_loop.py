"""Repeated automatic failovers under continuous acknowledged writes (slow; `make test-failover`).

Every round kills the current master with SIGKILL while the writer runs, lets
Sentinel promote a replica, restarts the old master (Sentinel turns it into a
replica of the new one) and checks that no write acknowledged by
``WAITAOF 1 1`` is missing.  Prints the failover times; the goal is zero lost
acknowledged writes.  ``SENTRYKV_FAILOVER_ROUNDS`` sets the number of rounds.
"""

from __future__ import annotations

import os
import statistics

import pytest

from tests.replication.sentinel_topology import Topology


@pytest.mark.slow
def test_repeated_failovers_lose_no_acknowledged_write() -> None:
    rounds = int(os.environ.get("SENTRYKV_FAILOVER_ROUNDS", "4"))  # make test-failover: 20
    topo = Topology().start()
    try:
        writer = topo.start_writer()
        times: list[float] = []
        lost_total = 0
        for n in range(rounds):
            failover_s, rejoined_s = topo.failover()
            lost = topo.lost()
            lost_total += len(lost)
            times.append(failover_s)
            print(f"round {n + 1}: first acknowledged write {failover_s:.2f}s after kill -9, old master "
                  f"rejoined in {rejoined_s:.2f}s, {len(writer.acked)} acknowledged so far, {len(lost)} lost")
        print(f"\n{rounds} failovers: failover time min {min(times):.2f}s median {statistics.median(times):.2f}s "
              f"max {max(times):.2f}s; {len(writer.acked)} writes acknowledged (WAITAOF 1 1), "
              f"{lost_total} lost, {writer.errors} client errors during failovers")
        assert lost_total == 0
    finally:
        topo.stop()
