"""The ACL file (aclfile, ACL SAVE / LOAD), ``user`` directives in the config file and
CONFIG REWRITE, against redis-server 7.0 given the same files."""

from __future__ import annotations

import os
import shlex
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.acl.support import AclPair, norm_list, norm_rules
from tests.support.procs import RedisProcess, ServerProcess

ACLFILE = "users.acl"


def _with_aclfile(proc: ServerProcess, content: bytes = b"") -> ServerProcess:
    Path(proc.dir, ACLFILE).write_bytes(content)
    return proc


@pytest.fixture(scope="module")
def file_pair() -> Iterator[AclPair]:
    skv = _with_aclfile(ServerProcess(args=["--appendonly", "no", "--aclfile", ACLFILE])).start()
    ref = _with_aclfile(RedisProcess(args=["--aclfile", ACLFILE])).start()
    pair = AclPair(skv, ref)
    pair.procs = (skv, ref)  # type: ignore[attr-defined]
    yield pair
    pair.close()
    for proc in (skv, ref):
        proc.stop()
        proc.cleanup()


@pytest.fixture
def fpair(file_pair: AclPair) -> AclPair:
    file_pair.reset()
    return file_pair


def _files(pair: AclPair) -> list[bytes]:
    return [Path(proc.dir, ACLFILE).read_bytes() for proc in pair.procs]  # type: ignore[attr-defined]


def _write(pair: AclPair, content: bytes) -> None:
    for proc in pair.procs:  # type: ignore[attr-defined]
        Path(proc.dir, ACLFILE).write_bytes(content)


USERS = [
    "alice on >pw ~k* %R~r* %W~w* resetchannels &ch* -@all +@read +set +select|0 +config|get",
    "bob on #5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8 +@all -@dangerous ~* &*",
    "carol off nopass (+get ~a*) (+set %W~b* &x)",
    "dave on >pw skip-sanitize-payload -@all +@hash",
]


def test_save_then_load_round_trip(fpair: AclPair) -> None:
    for user in USERS:
        fpair.same("ACL", "SETUSER", *shlex.split(user))
    saved = fpair.same("ACL", "LIST", norm=norm_list)
    fpair.same("ACL", "SAVE")
    mine, theirs = _files(fpair)
    assert [norm_rules(x) for x in mine.splitlines()] == [norm_rules(x) for x in theirs.splitlines()]
    assert mine.endswith(b"\n")
    # Change everything, then load the file back; clients of non-default users are disconnected.
    alice = [side.connect("alice") for side in fpair.sides]
    fpair.same("ACL", "DELUSER", "bob", "carol")
    fpair.same("ACL", "SETUSER", "eve", "on")
    fpair.same("ACL", "SETUSER", "default", ">changed")
    fpair.same("ACL", "LOAD")
    assert fpair.same("ACL", "LIST", norm=norm_list) == saved
    time.sleep(0.2)
    for conn in alice:
        with pytest.raises((ConnectionError, OSError)):
            conn.call("PING")
            conn.call("PING")


BAD_FILES = [
    b"user alice on +nosuch\nuser bob on\n",
    b"user alice on\nuser alice off\n",
    b"alice on\n",
    b"user\n",
    b"# comment\nuser a on\n",
    b"user a bogus ~* ~a\nuser b #zz\n",
    b"user a\tb on\n",
    b"\n\n  user   spaced   on  \r\n\tuser tabbed on\n",
    b"user default on nopass ~* &* +@all -debug\nuser x on >p \t\n",
]


def test_load_errors_change_nothing(fpair: AclPair) -> None:
    fpair.same("ACL", "SETUSER", "keep", "on", ">pw")
    before = fpair.same("ACL", "LIST", norm=norm_list)
    for content in BAD_FILES:
        _write(fpair, content)
        reply = fpair.same("ACL", "LOAD")
        if reply[0] == "error":
            assert fpair.same("ACL", "LIST", norm=norm_list) == before
        else:
            fpair.same("ACL", "LIST", norm=norm_list)
            fpair.reset()
            fpair.same("ACL", "SETUSER", "keep", "on", ">pw")
    # An unmatched parenthesis: redis-server 7.0.15 crashes (a NULL dereference in
    # ACLLoadFromFile); SentryKV reports it like any other error and changes nothing.
    mine = fpair.skv.admin()
    Path(fpair.procs[0].dir, ACLFILE).write_bytes(b"user a on (+get ~x\n")  # type: ignore[attr-defined]
    assert mine.call("ACL", "LOAD") == ("error", b"ERR users.acl:1: Unmatched parenthesis in selector definition."
                                                 b"WARNING: ACL errors detected, no change to the previously "
                                                 b"active ACL rules was performed")
    assert norm_list(mine.call("ACL", "LIST")) == before
    os.unlink(Path(fpair.procs[0].dir, ACLFILE))  # type: ignore[attr-defined]
    os.unlink(Path(fpair.procs[1].dir, ACLFILE))  # type: ignore[attr-defined]
    fpair.same("ACL", "LOAD")
    _write(fpair, b"")


def test_users_from_the_config_file_and_config_rewrite(tmp_path: Path) -> None:
    conf = (
        'user alice on >pw ~* +@all\n'
        'user bob on "#5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8" -@all +get ~k*\n'
        'requirepass frompass\n'
    )
    procs: list[ServerProcess] = []
    try:
        for kind in (ServerProcess, RedisProcess):
            path = tmp_path / f"{kind.__name__}.conf"
            path.write_text(conf)
            procs.append(kind(args=["--appendonly", "no"], config_file=str(path), password="frompass").start())
        pair = AclPair(procs[0], procs[1])  # type: ignore[arg-type]
        for side in pair.sides:
            assert side.root.call("AUTH", "frompass") == ("status", b"OK")
            assert side.admin().call("AUTH", "frompass") == ("status", b"OK")
        pair.same("ACL", "LIST", norm=norm_list)
        pair.same("ACL", "SETUSER", "carol", "on", ">x", "+@hash", "~*")
        pair.same("ACL", "DELUSER", "bob")
        pair.same("CONFIG", "REWRITE")
        pair.close()
        texts = [(tmp_path / f"{k.__name__}.conf").read_text() for k in (ServerProcess, RedisProcess)]
        users = [[norm_rules(line.encode()) for line in t.splitlines() if line.startswith("user ")] for t in texts]
        assert users[0] == users[1], texts
        assert any(b"carol" in u for u in users[0]) and not any(b"bob" in u for u in users[0])
        # The rewritten file starts the same users again.
        procs[0].restart()
        again = AclPair(procs[0], procs[1])  # type: ignore[arg-type]
        conn = again.skv.connect("carol", "x")
        assert conn.call("ACL", "WHOAMI")[0] == "error"  # carol may only run hash commands
        assert conn.call("HSET", "h", "f", "v") == ("int", 1)
        again.close()
    finally:
        for proc in procs:
            proc.stop()
            proc.cleanup()


def _startup_fails(kind: type[ServerProcess], args: list[str], files: dict[str, bytes], tmp: Path) -> str:
    proc = kind(args=args)
    try:
        for name, content in files.items():
            Path(proc.dir, name).write_bytes(content)
        proc.start(wait=False)
        assert proc.proc is not None
        try:
            code = proc.proc.wait(20)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{kind.__name__} {args} started although it should not")
        assert code != 0
        return proc.log_text()
    finally:
        proc.stop()
        proc.cleanup()


@pytest.mark.parametrize("case", ["missing", "bad-rule", "both"])
def test_startup_refuses_bad_acl_configuration(case: str, tmp_path: Path) -> None:
    if case == "missing":
        args, files = ["--aclfile", "nosuch.acl"], {}
    elif case == "bad-rule":
        args, files = ["--aclfile", ACLFILE], {ACLFILE: b"user a on +nosuch\n"}
    else:
        args, files = ["--aclfile", ACLFILE, "--user", "alice", "on"], {ACLFILE: b""}
    for kind in (ServerProcess, RedisProcess):
        log = _startup_fails(kind, args, files, tmp_path)
        if case != "both":
            assert "ACL" in log, log[-2000:]
