"""The fsync worker: a small child process that fsyncs WAL files on request.

Why a process and not a thread: an fsync thread in CPython must take the GIL
to start and again to report back, and the event loop holds the GIL while it
serves clients.  Measured under ``appendfsync always`` with 50 clients, the
hand-offs (executor queue -> thread -> GIL -> future -> task) cost about
0.5 ms per fsync, more than the fsync itself (~0.3 ms on this disk), so group
commit ran at a third of what the disk allows.  A child process has its own
GIL: the loop sends the file descriptors to sync over a Unix socket
(SCM_RIGHTS), the child fsyncs them in order and answers, and the loop reads
the answer from its own poller, like any other socket, with no thread involved.

Protocol (SOCK_SEQPACKET, one answer per sync):
  request:  b"S" with the fds attached, in fsync order (more than MAX_FDS
            fds: b"M" messages of MAX_FDS fds each, then the final b"S");
  answer:   4 bytes little-endian ``done`` (fds synced) + 4 bytes errno
            (0 when all succeeded).
The child exits when the socket closes (the server stopped or was killed), so
it never outlives the server.  Test fault injection (SENTRYKV_FAULT_FILE)
applies here exactly as in the writer.
"""

from __future__ import annotations

import errno
import os
import signal
import socket
import struct
import subprocess
import sys

ANSWER = struct.Struct("<II")
MAX_FDS = 128  # fds per message (the kernel's limit is 253)


def serve(sock: socket.socket) -> None:
    """Child side: answer sync requests until the socket closes."""
    from sentrykv_server.persistence.fault_injection import from_environment

    faults = from_environment()
    fds: list[int] = []
    while True:
        try:
            msg, more, _flags, _addr = socket.recv_fds(sock, 16, MAX_FDS)
        except OSError:
            return
        if not msg:
            return
        fds += more
        if msg == b"M":
            continue
        done = 0
        code = 0
        try:
            for fd in fds:
                if faults is not None:
                    faults.before_fsync()
                os.fdatasync(fd)
                done += 1
        except OSError as exc:
            code = exc.errno or errno.EIO
        finally:
            for fd in fds:
                os.close(fd)
            fds = []
        try:
            sock.send(ANSWER.pack(done, code))
        except OSError:
            return


class FsyncWorker:
    """Parent side: the child process and our end of its socket."""

    def __init__(self) -> None:
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.sock = parent
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "sentrykv_server.persistence.fsync_worker", str(child.fileno())],
                pass_fds=(child.fileno(),),
                stdin=subprocess.DEVNULL,
                close_fds=True,
            )
        except BaseException:
            parent.close()
            raise
        finally:
            child.close()
        self.sock.setblocking(False)

    def fileno(self) -> int:
        return self.sock.fileno()

    def request(self, fds: list[int]) -> None:
        """Ask for an fsync of ``fds`` (in order); the answer arrives on :meth:`fileno`."""
        sock = self.sock
        while len(fds) > MAX_FDS:
            socket.send_fds(sock, [b"M"], fds[:MAX_FDS])
            fds = fds[MAX_FDS:]
        socket.send_fds(sock, [b"S"], fds)

    def answer(self) -> tuple[int, int] | None:
        """The answer to the request in flight: (fds synced, errno); None if none is ready.

        Raises ConnectionError when the child is gone.
        """
        try:
            data = self.sock.recv(ANSWER.size)
        except BlockingIOError:
            return None
        if len(data) != ANSWER.size:
            raise ConnectionError("the fsync worker process exited")
        done, code = ANSWER.unpack(data)
        return done, code

    def close(self) -> None:
        """Close the socket (the child exits on EOF) and reap the child."""
        self.sock.close()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def main() -> None:
    # The server handles Ctrl-C and SIGTERM and then closes the socket; the worker
    # must live until then (it may still have to fsync the last frames).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    serve(socket.socket(fileno=int(sys.argv[1])))


if __name__ == "__main__":
    main()
