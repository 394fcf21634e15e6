"""Unit tests of the RDB building blocks: CRC-64, LZF, listpacks, intsets, ziplists, file reader."""

from __future__ import annotations

import io
import os
import random
import struct

import pytest

from sentrykv_server.persistence.rdb import legacy, listpack, lzf
from sentrykv_server.persistence.rdb.constants import RdbError
from sentrykv_server.persistence.rdb.crc64 import CHECK, crc64, crc64_python
from sentrykv_server.persistence.rdb.decode import Limits
from sentrykv_server.persistence.rdb.rdbfile import RdbWriter, read_rdb
from sentrykv_server.store.hashes import Hash
from tests.rdb.legacy_build import ziplist


def test_crc64_check_value_and_fallback_agree() -> None:
    assert crc64(b"123456789", 0) == crc64_python(b"123456789") == CHECK
    data = os.urandom(5000)
    assert crc64(data, 0) == crc64_python(data)
    assert crc64(data[2000:], crc64(data[:2000], 0)) == crc64(data, 0)


def test_lzf_roundtrip_and_hostile_streams() -> None:
    rnd = random.Random(3)
    for n in (200, 5000, 70000):
        data = b"".join(rnd.choice((b"abc", b"de", b"fgh ")) for _ in range(n))[:n]
        packed = lzf.compress(data)
        assert packed is not None and lzf.decompress(packed, n) == data
    assert lzf.compress(os.urandom(5000)) is None
    for bad, size in [(b"\x05ab", 6), (b"\x20\x00", 3), (b"\x00a\xe0", 20), (b"\x00a", 5), (b"\x00ab", 1)]:
        with pytest.raises(lzf.LzfError):
            lzf.decompress(bad, size)
    with pytest.raises(lzf.LzfError):  # a declared size no stream of 3 bytes can produce
        lzf.decompress(b"\x00a\x00", 1 << 40)


def test_listpack_roundtrip_and_damage() -> None:
    values = [b"", b"0", b"-1", b"127", b"128", b"-4096", b"4096", b"-32769", b"8388608",
              b"2147483648", b"9223372036854775807", b"9223372036854775808", b"007", b"x" * 5000]
    blob = listpack.encode(values)
    assert listpack.decode(blob) == values
    for bad in (blob[:-1] + b"\x00", blob[:10], struct.pack("<IH", len(blob), 3) + blob[6:],
                blob[:6] + b"\xf5" + blob[7:]):
        with pytest.raises(RdbError):
            listpack.decode(bad)


def test_intset_and_ziplist() -> None:
    assert legacy.decode_intset(legacy.encode_intset([5, -3, 70000])) == [-3, 5, 70000]
    items = [b"1", b"-200", b"x" * 300, b"abc", b"9999999999"]
    assert legacy.decode_ziplist(ziplist(items)) == items
    with pytest.raises(RdbError):
        legacy.decode_ziplist(ziplist(items)[:-2] + b"\xff")


def test_file_reader_is_bounded_and_checks_crc() -> None:
    buf = io.BytesIO()
    w = RdbWriter(buf, Limits())
    w.select_db(0, 2, 1)
    w.key(b"k", b"v" * 100, None)
    h = Hash({b"f": b"1"})
    w.key(b"h", h, 99_999_999_999_999)
    w.finish()
    data = buf.getvalue()
    got: list[tuple[int, bytes, object, int | None]] = []

    def load(raw: bytes) -> None:
        got.clear()
        tmp = io.BytesIO(raw)
        tmp.fileno = lambda: _fd(raw)  # type: ignore[method-assign]
        read_rdb(tmp, Limits(), lambda *a: got.append(a))

    load(data)
    assert [g[1] for g in got] == [b"k", b"h"] and got[1][3] == 99_999_999_999_999
    with pytest.raises(RdbError, match="checksum"):
        load(data[:-1] + bytes([data[-1] ^ 1]))
    with pytest.raises(RdbError):
        load(data[:40])


_files: list[object] = []


def _fd(raw: bytes) -> int:
    import tempfile

    f = tempfile.TemporaryFile()
    f.write(raw)
    f.flush()
    _files.append(f)
    return f.fileno()
