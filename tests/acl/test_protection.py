"""Protected mode, enable-debug-command / enable-module-command and rename-command,
against redis-server 7.0 started with the same options.

Protected mode is tested with real peers that are not the loopback interface:

* a network namespace joined to this one by a veth pair (``ip netns``; needs
  root and iproute2 — ``make netns-tools`` installs it): the client really is
  another host as far as the server can tell;
* otherwise this machine's own non-loopback address, when it has one;
* and always a client bound to ``127.0.0.2``: Redis compares the peer address
  with the strings "127.0.0.1" and "::1", so that peer is not local either.

The decision function itself is also tested directly.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sentrykv_server.config import Config
from sentrykv_server.protection import DENIED, is_local, refuses_connection
from sentrykv_server.server import Server
from tests.acl.support import AclPair
from tests.support.procs import RedisProcess, ServerProcess
from tests.types.rawresp import RawConnection

PING = b"*1\r\n$4\r\nPING\r\n"


def _exchange_from(source: str, host: str, port: int, data: bytes = PING) -> tuple[bytes, bool]:
    """Connect from ``source`` (an address of this host), send, read until closed or quiet."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((source, 0))
    sock.connect((host, port))
    try:
        sock.sendall(data)
        return _read_reply(sock)
    finally:
        sock.close()


def _read_reply(sock: socket.socket) -> tuple[bytes, bool]:
    """One reply line (all these replies are one line), then whether the server closes."""
    got = b""
    sock.settimeout(10)
    try:
        while not got.endswith(b"\r\n"):
            chunk = sock.recv(65536)
            if not chunk:
                return got, True
            got += chunk
        sock.settimeout(0.3)
        return got, sock.recv(65536) == b""
    except TimeoutError:
        return got, False
    except ConnectionResetError:
        return got, True


def _start_pair(args: list[str], config_file: Callable[[ServerProcess], str] | None = None,
                ) -> tuple[ServerProcess, RedisProcess]:
    procs: list[ServerProcess] = []
    for kind in (ServerProcess, RedisProcess):
        proc = kind(args=args)
        if config_file is not None:
            proc.config_file = config_file(proc)
        procs.append(proc.start())
    return procs[0], procs[1]  # type: ignore[return-value]


def _stop(*procs: ServerProcess) -> None:
    for proc in procs:
        proc.stop()
        proc.cleanup()


# -- the decision --------------------------------------------------------------------------------
def test_protected_mode_decision() -> None:
    server = Server(Config())
    assert server.config.value("protected-mode") is True  # Redis's default
    for peer, local in [("127.0.0.1", True), ("::1", True), ("127.0.0.2", False), ("10.1.2.3", False),
                        ("::ffff:127.0.0.1", False), ("fe80::1", False), ("", False)]:
        assert is_local(peer) is local
        assert refuses_connection(server, peer) is (not local)
    server.config.set_many([("requirepass", "pw")])
    assert not refuses_connection(server, "10.1.2.3")  # a password: anyone may try AUTH
    server.config.set_many([("requirepass", "")])
    server.acl.set_user(None, b"default", [b"resetpass"])  # no password, but not nopass either
    assert not refuses_connection(server, "10.1.2.3")
    server.acl.set_user(None, b"default", [b"nopass"])
    server.config.set_many([("protected-mode", "no")])
    assert not refuses_connection(server, "10.1.2.3")


# -- 127.0.0.2 (Redis's rule: only 127.0.0.1 and ::1 are local) ------------------------------------
@pytest.fixture(scope="module")
def default_pair() -> Iterator[tuple[ServerProcess, RedisProcess]]:
    """Redis's defaults where they matter here: protected mode on, DEBUG and MODULE off."""
    skv, ref = _start_pair(["--bind", "127.0.0.1 127.0.0.2", "--enable-debug-command", "no"])
    yield skv, ref
    _stop(skv, ref)


def test_denied_from_a_non_local_peer_until_a_password_is_set(default_pair: tuple[ServerProcess, RedisProcess]
                                                              ) -> None:
    replies = []
    for proc in default_pair:
        rejected_before = _info_stat(proc.port, b"rejected_connections")
        got, closed = _exchange_from("127.0.0.2", "127.0.0.1", proc.port)
        assert closed and got == DENIED
        assert _info_stat(proc.port, b"rejected_connections") == rejected_before + 1
        # Loopback clients are served; with a password everyone may try AUTH.
        local, closed = _exchange_from("127.0.0.1", "127.0.0.1", proc.port)
        assert local == b"+PONG\r\n" and not closed
        admin = RawConnection(proc.port)
        assert admin.call("CONFIG", "SET", "requirepass", "pw") == ("status", b"OK")
        replies.append(_exchange_from("127.0.0.2", "127.0.0.2", proc.port))
        assert admin.call("AUTH", "pw") == ("status", b"OK")
        assert admin.call("CONFIG", "SET", "requirepass", "") == ("status", b"OK")
        assert admin.call("CONFIG", "SET", "protected-mode", "no") == ("status", b"OK")
        replies.append(_exchange_from("127.0.0.2", "127.0.0.1", proc.port))
        assert admin.call("CONFIG", "SET", "protected-mode", "yes") == ("status", b"OK")
        admin.close()
    assert replies[0] == replies[2] == (b"-NOAUTH Authentication required.\r\n", False)
    assert replies[1] == replies[3] == (b"+PONG\r\n", False)


def _info_stat(port: int, name: bytes) -> int:
    conn = RawConnection(port)
    text = conn.call("INFO", "stats")[1]
    conn.close()
    for line in text.splitlines():
        if line.startswith(name + b":"):
            return int(line.split(b":")[1])
    raise AssertionError(f"{name!r} missing from INFO stats")


def test_debug_and_module_refused_by_default(default_pair: tuple[ServerProcess, RedisProcess]) -> None:
    pair = AclPair(*default_pair)
    try:
        for line in (["DEBUG", "DIGEST"], ["DEBUG", "HELP"], ["MODULE", "LIST"], ["MODULE", "HELP"],
                     ["MODULE", "LOAD", "/nonexistent.so"], ["MODULE", "LOADEX", "/x.so", "ARGS", "a"],
                     ["MODULE", "UNLOAD", "x"], ["MODULE", "FOO"], ["MODULE"],
                     ["CONFIG", "SET", "enable-debug-command", "yes"],
                     ["CONFIG", "SET", "enable-module-command", "yes"],
                     ["CONFIG", "GET", "enable-debug-command"], ["CONFIG", "GET", "enable-module-command"],
                     ["CONFIG", "GET", "protected-mode"]):
            for proto in (2, 3):
                pair.same(*line, proto=proto)
        mine, theirs = pair.connect()
        for line in (["MULTI"], ["DEBUG", "DIGEST"], ["EXEC"]):
            assert mine.call(*line) == theirs.call(*line), line
    finally:
        pair.close()


# -- local / yes, and rename-command -----------------------------------------------------------------
RENAMES = 'rename-command DBSIZE mydbsize\nrename-command KEYS ""\nrename-command config cfg\n'


@pytest.fixture(scope="module")
def local_pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, RedisProcess]]:
    conf = tmp_path_factory.mktemp("renames") / "renames.conf"
    conf.write_text(RENAMES)
    skv, ref = _start_pair(["--bind", "127.0.0.1 127.0.0.2", "--protected-mode", "no",
                            "--enable-debug-command", "local", "--enable-module-command", "yes"],
                           lambda proc: str(conf))
    yield skv, ref
    _stop(skv, ref)


def test_debug_local_means_loopback_clients_only(local_pair: tuple[ServerProcess, RedisProcess]) -> None:
    digest = b"*2\r\n$5\r\nDEBUG\r\n$6\r\nDIGEST\r\n"
    results = []
    for proc in local_pair:
        local, _ = _exchange_from("127.0.0.1", "127.0.0.1", proc.port, digest)
        remote, _ = _exchange_from("127.0.0.2", "127.0.0.2", proc.port, digest)
        results.append((local, remote))
    assert results[0][1] == results[1][1] and results[0][1].startswith(b"-ERR DEBUG command not allowed.")
    for local, _ in results:  # the empty dataset's digest (SentryKV sends it as a bulk string)
        assert local.endswith(b"0" * 40 + b"\r\n"), local


def test_module_command_enabled_loads_nothing(local_pair: tuple[ServerProcess, RedisProcess]) -> None:
    pair = AclPair(*local_pair)
    try:
        for line in (["MODULE", "LOAD", "/nonexistent.so"], ["MODULE", "UNLOAD", "x"], ["MODULE", "LIST"],
                     ["MODULE", "LOADEX", "/x.so"]):
            pair.same(*line)
    finally:
        pair.close()


def test_rename_command(local_pair: tuple[ServerProcess, RedisProcess]) -> None:
    pair = AclPair(*local_pair)
    try:
        for line in (["DBSIZE"], ["mydbsize"], ["MYDBSIZE"], ["KEYS", "*"], ["CONFIG", "GET", "maxmemory"],
                     ["cfg", "GET", "maxmemory"], ["CFG", "FOO"], ["COMMAND", "INFO", "mydbsize"],
                     ["ACL", "SETUSER", "u", "on", "nopass", "+@all", "-dbsize", "-config|set"],
                     ["ACL", "DRYRUN", "u", "mydbsize"], ["ACL", "DRYRUN", "u", "dbsize"],
                     ["ACL", "DRYRUN", "u", "cfg", "set", "a", "b"], ["ACL", "DRYRUN", "u", "cfg", "get", "a"],
                     ["ACL", "SETUSER", "u2", "+mydbsize"]):
            pair.same(*line)
        mine, theirs = pair.connect()
        for conn in (mine, theirs):
            conn.call("AUTH", "u", "x")
        for line in (["mydbsize"], ["cfg", "SET", "maxmemory", "0"]):
            assert mine.call(*line) == theirs.call(*line), line
    finally:
        pair.close()


@pytest.mark.parametrize("renames", ["rename-command nosuch other\n", "rename-command get set\n",
                                     "rename-command get\n"])
def test_bad_rename_command_stops_startup(renames: str, tmp_path: Path) -> None:
    conf = tmp_path / "bad.conf"
    conf.write_text(renames)
    for kind in (ServerProcess, RedisProcess):
        proc = kind(config_file=str(conf))
        try:
            proc.start(wait=False)
            assert proc.proc is not None
            assert proc.proc.wait(20) != 0, kind.__name__
        finally:
            proc.stop()
            proc.cleanup()


# -- a peer on another network ---------------------------------------------------------------------
class RemotePeer:
    """Where the server listens and how a remote client talks to it."""

    def __init__(self, how: str, server_ip: str, run: Callable[[int], tuple[bytes, bool]]) -> None:
        self.how = how
        self.server_ip = server_ip
        self.exchange = run


_CLIENT = """
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
s.sendall(b"*1\\r\\n$4\\r\\nPING\\r\\n")
got, closed = b"", False
try:
    while not got.endswith(b"\\r\\n"):
        chunk = s.recv(65536)
        if not chunk:
            closed = True
            break
        got += chunk
    if not closed:
        s.settimeout(0.3)
        closed = s.recv(65536) == b""
except (TimeoutError, socket.timeout):
    pass
except ConnectionResetError:
    closed = True
sys.stdout.write(("closed " if closed else "open ") + got.hex())
"""


def _run(*cmd: str) -> None:
    subprocess.run(cmd, check=True, capture_output=True, timeout=20)


def _netns() -> Iterator[RemotePeer] | None:
    if os.geteuid() != 0 or shutil.which("ip") is None:
        return None
    tag = f"skv{os.getpid() % 100000}"
    ns, host_if, ns_if = f"{tag}ns", f"{tag}a", f"{tag}b"
    subnet = f"10.231.{os.getpid() % 250}"
    host_ip, ns_ip = f"{subnet}.1", f"{subnet}.2"
    try:
        _run("ip", "netns", "add", ns)
    except (subprocess.CalledProcessError, OSError):
        return None

    def exchange(port: int) -> tuple[bytes, bool]:
        out = subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-c", _CLIENT, host_ip, str(port)],
                             check=True, capture_output=True, timeout=20, text=True).stdout
        state, _, data = out.partition(" ")
        return bytes.fromhex(data), state == "closed"

    def peers() -> Iterator[RemotePeer]:
        try:
            _run("ip", "link", "add", host_if, "type", "veth", "peer", "name", ns_if)
            _run("ip", "link", "set", ns_if, "netns", ns)
            _run("ip", "addr", "add", f"{host_ip}/30", "dev", host_if)
            _run("ip", "link", "set", host_if, "up")
            _run("ip", "netns", "exec", ns, "ip", "addr", "add", f"{ns_ip}/30", "dev", ns_if)
            _run("ip", "netns", "exec", ns, "ip", "link", "set", ns_if, "up")
            _run("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")
            yield RemotePeer("netns", host_ip, exchange)
        finally:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=20)
            subprocess.run(["ip", "link", "del", host_if], capture_output=True, timeout=20)

    return peers()


def _local_non_loopback_address() -> str | None:
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("192.0.2.1", 9))  # no packet is sent: this only picks a source address
        address = str(probe.getsockname()[0])
    except OSError:
        return None
    finally:
        probe.close()
    return None if address.startswith("127.") or address == "0.0.0.0" else address


@pytest.fixture(scope="module")
def remote_peer() -> Iterator[RemotePeer]:
    peers = _netns()
    if peers is not None:
        yield from peers
        return
    address = _local_non_loopback_address()
    if address is None:
        pytest.skip("no network namespace (needs root and iproute2: make netns-tools) and no non-loopback "
                    "address on this machine; the decision and the 127.0.0.2 path are tested above")
    yield RemotePeer("local address", address, lambda port: _exchange_from(address, address, port))


def test_remote_client_gets_denied(remote_peer: RemotePeer) -> None:
    skv, ref = _start_pair(["--bind", f"127.0.0.1 {remote_peer.server_ip}"])
    try:
        results = [remote_peer.exchange(proc.port) for proc in (skv, ref)]
        assert results[0] == results[1] == (DENIED, True), (remote_peer.how, results)
        for proc in (skv, ref):
            admin = RawConnection(proc.port)
            assert admin.call("CONFIG", "SET", "requirepass", "pw") == ("status", b"OK")
            admin.close()
        time.sleep(0.05)
        results = [remote_peer.exchange(proc.port) for proc in (skv, ref)]
        assert results[0] == results[1] == (b"-NOAUTH Authentication required.\r\n", False), results
    finally:
        _stop(skv, ref)
