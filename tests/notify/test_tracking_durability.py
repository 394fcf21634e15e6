"""A tracking client keeps the read barrier of appendfsync always while the disk fails.

Tracking clients take the dispatcher's general path; under disk trouble a read
must still wait until what it observed is durable (dispatch's
_read_during_disk_trouble), tracking or not, and its keys are still recorded.
"""

from __future__ import annotations

import threading

import redis

from tests.durability.test_disk_faults import faulty, info, set_fault, wait_for  # noqa: F401
from tests.support.procs import ServerProcess


def test_tracking_read_waits_for_durability(faulty: tuple[ServerProcess, str]) -> None:  # noqa: F811
    srv, fault_file = faulty
    w = srv.client()
    assert w.set("before", "1")
    reader = redis.Redis(port=srv.port, protocol=3)
    reader.execute_command("CLIENT", "TRACKING", "on")
    set_fault(fault_file, "write-enospc")
    result: dict[str, object] = {}

    def write() -> None:
        result["write"] = srv.client().set("during", "2")

    def read() -> None:
        result["read"] = reader.get("during")

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    writer.join(1.0)
    assert writer.is_alive()
    assert reader.get("before") == b"1"  # durable data is served
    t = threading.Thread(target=read, daemon=True)
    t.start()
    t.join(1.0)
    assert t.is_alive(), "a tracking client saw a write that is not durable"
    set_fault(fault_file, "")
    t.join(10)
    writer.join(10)
    assert result == {"write": True, "read": b"2"}
    wait_for(lambda: info(w)["aof_last_write_status"] == "ok")
    assert w.info()["tracking_total_keys"] == 2  # before and during were recorded
    reader.close()
    w.close()
