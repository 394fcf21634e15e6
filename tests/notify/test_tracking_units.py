"""In-process checks of the tracking pieces that need no server: prefix overlaps, key specs, flags."""

from __future__ import annotations

import random
import time
from types import SimpleNamespace
from typing import Any

import pytest

from sentrykv_server.commands import load_all
from sentrykv_server.commands.client_tracking import _prefix_collision
from sentrykv_server.commands.keyspecs import command_keys
from sentrykv_server.commands.registry import COMMANDS
from sentrykv_server.notify import ALL, NEW, format_flags, parse_flags


def _naive(existing: list[bytes], prefixes: list[bytes]) -> tuple[str | None, bool]:
    """Redis's checkPrefixCollisionsOrReply, loop for loop."""
    def overlap(a: bytes, b: bytes) -> bool:
        n = min(len(a), len(b))
        return a[:n] == b[:n]

    for i, p in enumerate(prefixes):
        for old in sorted(existing):
            if overlap(old, p):
                return f"{p!r}~{old!r} existing", False
        for other in prefixes[i + 1:]:
            if overlap(p, other):
                return f"{p!r}~{other!r} provided", i > 0
    return None, True


def _ours(existing: list[bytes], prefixes: list[bytes]) -> tuple[str | None, bool]:
    client: Any = SimpleNamespace(tracking=SimpleNamespace(prefixes=existing) if existing else None)
    error, go_on = _prefix_collision(client, prefixes)
    if error is None:
        return None, go_on
    a, b = error.split("'")[1], error.split("'")[3]
    kind = "existing" if "an existing" in error else "provided"
    return f"{a.encode()!r}~{b.encode()!r} {kind}", go_on


def test_prefix_overlap_matches_redis_walk() -> None:
    rng = random.Random(5)
    alphabet = b"ab"
    for _ in range(3000):
        def word() -> bytes:
            return bytes(rng.choice(alphabet) for _ in range(rng.randint(0, 3)))
        existing = list({word() for _ in range(rng.randint(0, 3))})
        prefixes = [word() for _ in range(rng.randint(0, 6))]
        assert _ours(existing, prefixes) == _naive(existing, prefixes), (existing, prefixes)


def test_prefix_overlap_is_not_quadratic() -> None:
    prefixes = [b"p%07d:" % i for i in range(50_000)] + [b"p0000001:x"]
    start = time.monotonic()
    error, go_on = _ours([], prefixes)
    assert time.monotonic() - start < 5
    assert error == "b'p0000001:'~b'p0000001:x' provided" and go_on


def test_keys_from_key_specs() -> None:
    load_all()

    def keys(*argv: str) -> list[bytes]:
        return command_keys(COMMANDS[argv[0]], [a.encode() for a in argv])

    assert keys("get", "k") == [b"k"]
    assert keys("mget", "a", "b", "c") == [b"a", b"b", b"c"]
    assert keys("lcs", "a", "b", "LEN") == [b"a", b"b"]
    assert keys("zunion", "2", "a", "b", "WEIGHTS", "1", "2") == [b"a", b"b"]
    assert keys("sintercard", "3", "a", "b", "c", "LIMIT", "1") == [b"a", b"b", b"c"]
    assert keys("zunion", "x", "a") == [] and keys("zunion", "5", "a") == []
    assert keys("object", "encoding", "k") == [b"k"]
    assert keys("sort_ro", "k", "BY", "w_*") == [b"k"]


@pytest.mark.parametrize(("text", "shown"), [
    ("", ""), ("KEA", "AKE"), ("KEAn", "AKE"), ("KEn", "nKE"), ("Kg$lshzxetdnm", "AKm"), ("mn", "nm"),
    ("Kgx$", "g$xK"), ("dt", "td"), ("K\0E", "K"),
])
def test_flag_strings(text: str, shown: str) -> None:
    assert format_flags(parse_flags(text)) == shown


def test_a_excludes_new_and_miss() -> None:
    assert not ALL & NEW
    with pytest.raises(ValueError, match="Invalid event class character"):
        parse_flags("KEQ")
