"""What clients see of a running checkpoint: how long the event loop is held, and when.

A checkpoint works in short slices on the loop.  These tests pin down what keeps a
request's latency to at most the slice in progress:

* a reply is flushed before the next slice starts (the server flushes replies in a
  ``call_soon`` pass; a scan resuming with ``asyncio.sleep(0)`` ran ahead of it);
* nothing is imported on the loop during a checkpoint (importing the command modules in
  the first copy-on-write hook stalled the loop for tens to hundreds of ms);
* the keys are listed during the first few slices, so an insert or a delete after that
  does not make the hook list the remaining keys in one go.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import pytest

from sentrykv_server.loop import new_event_loop
from sentrykv_server.persistence import checkpoint, snapshot
from sentrykv_server.store.keyspace import Keyspace
from tests.checkpoint.helpers import StubServer, dump, start_recording_cut

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def string_keyspace(n: int) -> Keyspace:
    ks = Keyspace(16)
    data = ks.dbs[0].data
    for i in range(n):
        data[b"key:%d" % i] = b"v" * 24
    return ks


class FlushingServer(StubServer):
    """The stub server plus the server's reply flush: ``call_soon`` once per loop pass."""

    def __init__(self, directory: str, keyspace: Keyspace, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(directory, keyspace)
        self.loop = loop
        self._flush_scheduled = False
        self.flushed: list[float] = []
        self.pending = 0

    @property  # type: ignore[override]
    def flush_pending(self) -> bool:
        return self._flush_scheduled

    @flush_pending.setter
    def flush_pending(self, value: bool) -> None:
        self._flush_scheduled = value

    def schedule_flush(self) -> None:
        self.pending += 1
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self.loop.call_soon(self.flush_pass)

    def flush_pass(self) -> None:
        self._flush_scheduled = False
        now = time.perf_counter()
        self.flushed += [now] * self.pending
        self.pending = 0


_CLIENT_SCRIPT = r"""
import json, select, socket, sys, time
sock = socket.socket(fileno=int(sys.argv[1]))
sent = []
end = time.perf_counter() + 30
while time.perf_counter() < end:
    sock.send(b"x")
    sent.append(time.perf_counter())  # after send(): readable from now on
    if select.select([sock], [], [], 0.0007)[0]:
        break  # the parent says stop
print(json.dumps(sent))
"""


def slices_between_request_and_reply(make_loop: Callable[[], asyncio.AbstractEventLoop], tmp: str) -> tuple[int, int]:
    """A client process sends a request every ~0.7 ms while a checkpoint runs; count the
    slices that *started* after a request was readable and ended before its reply left.

    (perf_counter is CLOCK_MONOTONIC: comparable across processes.)
    """
    loop = make_loop()
    asyncio.set_event_loop(loop)
    ours, theirs = socket.socketpair()
    client = subprocess.Popen(
        [sys.executable, "-c", _CLIENT_SCRIPT, str(theirs.fileno())], pass_fds=[theirs.fileno()],
        stdout=subprocess.PIPE, text=True,
    )
    theirs.close()
    note = checkpoint.Run.note_pause
    try:
        ks = string_keyspace(100_000)
        server = FlushingServer(tmp, ks, loop)
        ckpt = checkpoint.Checkpointer(server)  # type: ignore[arg-type]
        server.checkpointer = ckpt
        ckpt.start()
        slices: list[tuple[float, float]] = []

        def recording(run: checkpoint.Run, seconds: float, cpu: float) -> None:
            now = time.perf_counter()
            slices.append((now - seconds, now))
            note(run, seconds, cpu)

        started = asyncio.Event()

        def on_read() -> None:
            for _ in ours.recv(4096):
                server.schedule_flush()
            started.set()

        async def main() -> checkpoint.Run:
            ours.setblocking(False)
            loop.add_reader(ours.fileno(), on_read)
            await started.wait()  # the client runs
            run = ckpt._start(checkpoint.SAVE, "test")
            assert run.task is not None
            await run.task
            loop.remove_reader(ours.fileno())
            for reaper in list(ckpt.reapers):
                await reaper
            await ckpt.stop(save=False)
            return run

        checkpoint.Run.note_pause = recording  # type: ignore[method-assign,assignment]
        run = loop.run_until_complete(main())
        assert run.ok, run.error
        ours.setblocking(True)
        ours.send(b"s")
        out, _ = client.communicate(timeout=30)
        sent = json.loads(out)
        bad = requests = 0
        for t_sent, t_flushed in zip(sent, server.flushed, strict=False):
            if slices[0][0] <= t_sent <= slices[-1][1]:
                requests += 1
                bad += any(start > t_sent and end < t_flushed for start, end in slices)
        return bad, requests
    finally:
        checkpoint.Run.note_pause = note  # type: ignore[method-assign]
        client.kill()
        client.wait()
        ours.close()
        asyncio.set_event_loop(None)
        loop.close()


@pytest.mark.parametrize("loop_kind", ["uvloop", "asyncio"])
def test_a_reply_leaves_before_the_next_slice(tmp_path: Any, loop_kind: str) -> None:
    make = new_event_loop if loop_kind == "uvloop" else asyncio.new_event_loop
    bad, requests = slices_between_request_and_reply(make, str(tmp_path))
    assert requests >= 10, "the checkpoint was too short to interleave requests"
    # A request that becomes readable between the loop's poll and the start of a slice
    # (microseconds, or longer when the writer thread holds the GIL then) waits for that
    # slice: nothing can poll in between; 0-10% here.  Resuming the scan ahead of the
    # reply flush (asyncio.sleep(0)) delayed every one of them.
    assert bad <= max(2, requests // 5), f"{bad} of {requests} replies waited for a whole slice"


async def test_keys_are_listed_first_so_later_inserts_list_nothing(tmp_path: Any) -> None:
    ks = string_keyspace(20_000)
    for i in range(0, 20_000, 7):
        ks.dbs[0].set_expire(b"key:%d" % i, 9_000_000_000_000 + i)
    _server, ckpt, run, cut = await start_recording_cut(str(tmp_path), ks)
    assert run.task is not None
    while any(cap.iterator is not None for cap in run.captured):
        await asyncio.sleep(0)
    assert not run.task.done() and run.entries < 20_000, "the encoding should still be running"
    db = ks.dbs[0]
    for i in range(200):
        db.set(b"new:%d" % i, b"n")  # inserts
        db.delete(b"key:%d" % (19_999 - i))  # deletes, of keys not encoded yet
        db.set(b"key:%d" % i, b"over")  # overwrites
    await run.task
    await ckpt.stop(save=False)
    assert run.ok, run.error
    assert run.materialized == 0
    fresh = Keyspace(16)
    assert snapshot.load_latest(str(tmp_path), fresh) is not None
    assert dump(fresh) == cut


_NO_IMPORT_SCRIPT = r"""
import asyncio, sys
from sentrykv_server.loop import new_event_loop
from sentrykv_server.persistence import checkpoint
from sentrykv_server.store.keyspace import Keyspace
from tests.checkpoint.helpers import StubServer

loop = new_event_loop()
asyncio.set_event_loop(loop)
ks = Keyspace(16)
for i in range(5000):
    ks.dbs[0].data[b"k%d" % i] = b"v"
server = StubServer(sys.argv[1], ks)
ckpt = checkpoint.Checkpointer(server)
server.checkpointer = ckpt
ckpt.start()
ckpt.slow_s = 0.0005

async def main():
    before = set(sys.modules)
    run = ckpt._start(checkpoint.SAVE, "test")
    await asyncio.sleep(0)
    db = ks.dbs[0]
    db.set(b"k1", b"over")
    db.set(b"brand-new", b"x")
    db.delete(b"k2")
    db.set_expire(b"k3", 10**13)
    await run.task
    assert run.ok, run.error
    print(sorted(set(sys.modules) - before))

loop.run_until_complete(main())
"""


def test_nothing_is_imported_on_the_loop_during_a_checkpoint(tmp_path: Any) -> None:
    """In a fresh interpreter (as in a server or the micro-benchmark), the modules the hooks
    and the scan need are imported when the Checkpointer is made, not during a checkpoint."""
    out = subprocess.run(
        [sys.executable, "-c", _NO_IMPORT_SCRIPT, str(tmp_path)], cwd=ROOT, capture_output=True,
        text=True, timeout=60, env=dict(os.environ, PYTHONPATH=ROOT),
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]", f"imported during the checkpoint: {out.stdout.strip()}"


@pytest.mark.parametrize("sizes", [(1,), (7, 4096, 3), (5000, 1, 9000), (100_000,)])
def test_listed_keys_are_taken_exactly_once(sizes: tuple[int, ...]) -> None:
    """Keys are listed in lists of LIST_STEP and taken across their boundaries."""
    data = {b"k%d" % i: b"v" for i in range(10_000)}
    cap = checkpoint.Captured(0, data, {})
    assert not cap.list_some(checkpoint.LIST_STEP)
    cap.materialize()  # the rest at once, as the hook does before an insert
    assert cap.iterator is None and sum(map(len, cap.keys)) == len(data)
    taken: list[bytes] = []
    i = 0
    while True:
        n = sizes[i % len(sizes)]
        i += 1
        chunk = cap.take(n)
        if not chunk:
            break
        assert len(chunk) == n or not cap.keys
        taken += chunk
    assert len(taken) == len(data) and set(taken) == set(data)


def test_the_loop_does_not_encode_while_the_writer_thread_writes(tmp_path: Any, monkeypatch: Any) -> None:
    """One CPU at a time: no slice starts between handing a batch to the writer thread and
    its completion (on a small machine a slice in parallel with the writer left clients
    without a CPU)."""
    loop = new_event_loop()
    asyncio.set_event_loop(loop)
    jobs: list[list[float]] = []  # [handed over, written]
    slices: list[tuple[float, float]] = []
    write_blocks = snapshot.SnapshotWriter.write_blocks
    note = checkpoint.Run.note_pause

    def slow_write(self: snapshot.SnapshotWriter, blocks: list[snapshot.Block]) -> None:
        write_blocks(self, blocks)
        time.sleep(0.002)  # a slow disk: plenty of time for a slice to start meanwhile

    def recording(run: checkpoint.Run, seconds: float, cpu: float) -> None:
        now = time.perf_counter()
        slices.append((now - seconds, now))
        note(run, seconds, cpu)

    monkeypatch.setattr(snapshot.SnapshotWriter, "write_blocks", slow_write)
    monkeypatch.setattr(checkpoint.Run, "note_pause", recording)
    try:
        server = StubServer(str(tmp_path), string_keyspace(100_000))
        ckpt = checkpoint.Checkpointer(server)  # type: ignore[arg-type]
        server.checkpointer = ckpt
        ckpt.start()
        submit = ckpt.executor.submit

        def watched(fn: Any, /, *args: Any) -> Any:
            fut = submit(fn, *args)
            if getattr(fn, "__func__", None) is slow_write:
                job = [time.perf_counter(), 0.0]
                jobs.append(job)

                def written(_fut: Any, job: list[float] = job) -> None:
                    job[1] = time.perf_counter()

                fut.add_done_callback(written)
            return fut

        ckpt.executor.submit = watched  # type: ignore[method-assign,assignment]

        async def main() -> checkpoint.Run:
            run = ckpt._start(checkpoint.SAVE, "test")
            assert run.task is not None
            await run.task
            await ckpt.stop(save=False)
            return run

        run = loop.run_until_complete(main())
    finally:
        asyncio.set_event_loop(None)
        loop.close()
    assert run.ok, run.error
    assert len(jobs) >= 3, "expected several write batches"
    during = [(start, job) for start, _end in slices for job in jobs if job[0] < start < job[1]]
    assert not during, f"{len(during)} slices started while a batch was being written"
