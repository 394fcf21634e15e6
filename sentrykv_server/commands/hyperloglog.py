"""HyperLogLog commands (Redis's hyperloglog.c): PFADD PFCOUNT PFMERGE PFSELFTEST PFDEBUG.

The values are strings in Redis's exact format (store/hyperloglog.py), worked on
as a bytearray copy and stored back as bytes.

What is logged.  Dense updates do not depend on any setting, so a PFADD or
PFMERGE that only touched a dense value is logged as sent (as Redis propagates
it).  Sparse updates depend on ``hll-sparse-max-bytes`` (when a sparse string
is promoted); a change of that setting between the write and a recovery must
not change the bytes, so a write that went through the sparse encoding is
logged as ``SET key <bytes> KEEPTTL``.  A single-key PFCOUNT that refreshes the
cached cardinality in the header is logged as ``PFCOUNT key``, as Redis does;
PFDEBUG GETREG/TODENSE conversions as ``PFDEBUG TODENSE key``.
"""

from __future__ import annotations

import math
import random
from typing import TYPE_CHECKING, Any

from sentrykv_server.commands.errors import CommandError, c_text, wrong_type
from sentrykv_server.commands.registry import command
from sentrykv_server.notify import STRING, notify
from sentrykv_server.store import hyperloglog as hll

if TYPE_CHECKING:
    from sentrykv_server.protocol.connection import Client
    from sentrykv_server.store.keyspace import Database


def _max_bytes(c: Client) -> int:
    return int(c.server.config.value("hll-sparse-max-bytes"))


def _get_hll(db: Database, key: bytes, read: bool) -> bytes | None:
    """The HLL string at ``key`` or None; WRONGTYPE errors as isHLLObjectOrReply sends them."""
    value = db.lookup_read(key) if read else db.lookup(key)
    if value is None:
        return None
    if type(value) is not bytes:
        raise wrong_type()
    if not hll.is_hll(value):
        raise CommandError(hll.NOT_HLL_ERROR)
    return value


def _invalid() -> CommandError:
    return CommandError(hll.INVALID_HLL_ERROR)


def _store(c: Client, key: bytes, buf: bytearray, argv: list[bytes], sparse_path: bool) -> None:
    db = c.db
    value = bytes(buf)
    db.set(key, value, keep_ttl=True)
    if sparse_path:
        c.server.propagate(db.id, [b"SET", key, value, b"KEEPTTL"])
    else:
        c.server.propagate(db.id, argv)


@command("pfadd", -2, "write denyoom fast", 1, 1, 1, group="hyperloglog", since="2.8.9")
def pfadd_cmd(c: Client, argv: list[bytes]) -> Any:
    """Add elements to a HyperLogLog; 1 when its registers (or the key) changed."""
    db = c.db
    key = argv[1]
    value = _get_hll(db, key, read=False)
    updated = 0
    if value is None:
        buf = hll.new_sparse()
        updated = 1
    else:
        buf = bytearray(value)
    sparse_path = buf[4] == hll.SPARSE
    max_bytes = _max_bytes(c)
    for element in argv[2:]:
        result, buf = hll.add(buf, element, max_bytes)
        if result == 1:
            updated += 1
        elif result == -1:
            # Redis updates the string in place: what changed before the damage stays.
            if updated:
                _store(c, key, buf, argv, True)
            raise _invalid()
    if updated:
        hll.invalidate_cache(buf)
        _store(c, key, buf, argv, sparse_path)
        notify(c.server, STRING, b"pfadd", db, key)
    return 1 if updated else 0


@command("pfcount", -2, "readonly", 1, -1, 1, group="hyperloglog", since="2.8.9")
def pfcount_cmd(c: Client, argv: list[bytes]) -> Any:
    """Estimated cardinality of one HyperLogLog, or of the union of several."""
    db = c.db
    if len(argv) > 2:
        merged = bytes(hll.REGISTERS)
        for key in argv[1:]:
            value = _get_hll(db, key, read=True)
            if value is None:
                continue
            try:
                merged = hll.register_max(merged, hll.registers(value))
            except hll.CorruptHLL:
                raise _invalid() from None
        return hll.estimate(hll.histogram_of_registers(merged))
    key = argv[1]
    value = _get_hll(db, key, read=True)
    if value is None:
        return 0
    cached = hll.cached_cardinality(value)
    if cached is not None:
        return cached
    try:
        card = hll.estimate(hll.histogram(value))
    except hll.CorruptHLL:
        raise _invalid() from None
    buf = bytearray(value)
    hll.store_cardinality(buf, card)
    db.set(key, bytes(buf), keep_ttl=True)
    c.server.propagate(db.id, [b"PFCOUNT", key])
    return card


@command("pfmerge", -2, "write denyoom", 1, -1, 1, group="hyperloglog", since="2.8.9")
def pfmerge_cmd(c: Client, argv: list[bytes]) -> Any:
    """Merge HyperLogLogs into the first key (which takes part in the union)."""
    db = c.db
    merged = bytes(hll.REGISTERS)
    use_dense = False
    for key in argv[1:]:
        value = _get_hll(db, key, read=True)
        if value is None:
            continue
        if value[4] == hll.DENSE:
            use_dense = True
        try:
            merged = hll.register_max(merged, hll.registers(value))
        except hll.CorruptHLL:
            raise _invalid() from None
    dst = argv[1]
    current = _get_hll(db, dst, read=False)
    buf = hll.new_sparse() if current is None else bytearray(current)
    if use_dense:
        try:
            buf = hll.sparse_to_dense(buf)
        except hll.CorruptHLL:
            raise _invalid() from None
    sparse_path = buf[4] == hll.SPARSE
    if sparse_path:
        max_bytes = _max_bytes(c)
        cursor = hll.SparseCursor()
        for index, count in enumerate(merged):
            if not count:
                continue
            if buf[4] == hll.DENSE:
                hll.dense_set(buf, index, count)
            else:
                _result, buf = hll.sparse_set(buf, index, count, max_bytes, cursor)
    else:
        current_regs = hll.dense_registers(buf)
        buf = hll.dense_from_registers(buf, hll.register_max(current_regs, merged))
    hll.invalidate_cache(buf)
    _store(c, dst, buf, argv, sparse_path)
    notify(c.server, STRING, b"pfadd", db, dst)
    return "OK"


# -- testing and debugging ---------------------------------------------------------------
SELFTEST_CYCLES = 4
SELFTEST_ELEMENTS = 10000


@command("pfselftest", 1, "admin", group="hyperloglog", since="2.8.9")
def pfselftest_cmd(c: Client, argv: list[bytes]) -> Any:
    """Check the register packing and the estimator's error (a bounded version of Redis's test)."""
    rng = random.Random()
    dense = bytearray(hll.DENSE_SIZE)
    dense[0:4] = hll.MAGIC
    for _cycle in range(SELFTEST_CYCLES):
        expected = bytes(rng.randrange(64) for _ in range(hll.REGISTERS))
        for i, v in enumerate(expected):
            hll.dense_put(dense, i, v)
        got = hll.dense_registers(dense)
        if got != expected:
            i = next(k for k in range(hll.REGISTERS) if got[k] != expected[k])
            raise CommandError(f"TESTFAILED Register {i} should be {expected[i]} but is {got[i]}")
        if hll.dense_from_registers(dense, expected) != dense:
            raise CommandError("TESTFAILED dense packing disagrees with the register accessors")
    dense = bytearray(hll.DENSE_SIZE)
    dense[0:4] = hll.MAGIC
    sparse = hll.new_sparse()
    max_bytes = _max_bytes(c)
    relerr = 1.04 / (hll.REGISTERS ** 0.5)
    seed = rng.getrandbits(64)
    checkpoint = 1
    for j in range(1, SELFTEST_ELEMENTS + 1):
        element = ((j ^ seed) & ((1 << 64) - 1)).to_bytes(8, "little")
        index, count = hll.pattern(element)
        hll.dense_set(dense, index, count)
        _r, sparse = hll.add(sparse, element, max_bytes)
        if j != checkpoint:
            continue
        if j < max_bytes // 2 and sparse[4] != hll.SPARSE:
            raise CommandError("TESTFAILED sparse encoding not used")
        estimate = hll.estimate(hll.histogram(dense))
        if estimate != hll.estimate(hll.histogram(sparse)):
            raise CommandError("TESTFAILED dense/sparse disagree")
        maxerr = 1 if j == 10 else math.ceil(relerr * 6 * checkpoint)
        abserr = abs(checkpoint - estimate)
        if abserr > maxerr:
            raise CommandError(f"TESTFAILED Too big error. card:{checkpoint} abserr:{abserr}")
        checkpoint *= 10
    return "OK"


@command("pfdebug", 3, "write denyoom admin", 2, 2, 1, group="hyperloglog", since="2.8.9")
def pfdebug_cmd(c: Client, argv: list[bytes]) -> Any:
    """PFDEBUG GETREG|DECODE|ENCODING|TODENSE key (internal debugging)."""
    db = c.db
    key = argv[2]
    value = db.lookup(key)
    if value is None:
        raise CommandError("ERR The specified key does not exist")
    value = _get_hll(db, key, read=False)
    assert value is not None
    sub = argv[1].lower()
    if sub in (b"getreg", b"todense"):
        converted = value[4] == hll.SPARSE
        if converted:
            try:
                dense = hll.sparse_to_dense(value)
            except hll.CorruptHLL:
                raise _invalid() from None
            db.set(key, bytes(dense), keep_ttl=True)
            c.server.propagate(db.id, [b"PFDEBUG", b"TODENSE", key])
            value = bytes(dense)
        if sub == b"todense":
            return 1 if converted else 0
        return list(hll.dense_registers(value))
    if sub == b"decode":
        if value[4] != hll.SPARSE:
            raise CommandError("ERR HLL encoding is not sparse")
        return hll.decode_sparse(value)
    if sub == b"encoding":
        return "dense" if value[4] == hll.DENSE else "sparse"
    raise CommandError(f"ERR Unknown PFDEBUG subcommand '{c_text(argv[1])}'")
