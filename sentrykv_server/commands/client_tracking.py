"""CLIENT TRACKING, CLIENT CACHING, CLIENT GETREDIR, CLIENT TRACKINGINFO (networking.c).

The parsing and every refusal follow Redis 7.0's clientCommand, in its
order: options first (syntax, REDIRECT's integer and existence checks), then
for ``on`` the compatibility checks (PREFIX without BCAST, switching BCAST or
OPTIN/OPTOUT while tracking, BCAST with OPTIN/OPTOUT, OPTIN with OPTOUT) and
the prefix-overlap check.  The tracking engine is sentrykv_server/tracking.py.
"""

from __future__ import annotations

from bisect import bisect_left
from typing import TYPE_CHECKING, Any

from sentrykv_server.commands.errors import CommandError, parse_int, syntax_error
from sentrykv_server.protocol.reply import Raw, SetReply, encode_error

if TYPE_CHECKING:
    from sentrykv_server.protocol.connection import Client

_NOT_SWITCHABLE = ("You can't switch {} before disabling tracking for this client, "
                   "and then re-enabling it with a different mode.")
_OVERLAP = "ERR Prefix '{}' overlaps with {} prefix '{}'. Prefixes for a single client must not overlap."


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


def _overlap(a: bytes, b: bytes) -> bool:
    n = min(len(a), len(b))
    return a[:n] == b[:n]


def _prefix_collision(c: Client, prefixes: list[bytes]) -> tuple[str | None, bool]:
    """checkPrefixCollisionsOrReply: (error, go on anyway).

    Redis walks the prefixes in order, comparing each with the client's
    existing prefixes (sorted) and then with every later one, and reports
    the first overlap it meets.  The same pair is found here without the
    quadratic walk (a request may carry a million prefixes): the first prefix
    that overlaps anything is located with sorted neighbours and prefix
    lookups, and only its own row is scanned.

    Redis returns the index of the colliding prefix for an overlap inside
    the list itself, so from the second prefix on it replies the error *and*
    enables tracking (then replies OK): reproduced, as clients see it.
    """
    existing = sorted(c.tracking.prefixes) if c.tracking is not None else []
    first = _first_overlapping(prefixes, existing)
    if first is None:
        return None, True
    prefix = prefixes[first]
    for old in existing:
        if _overlap(old, prefix):
            return _OVERLAP.format(_text(prefix), "an existing", _text(old)), False
    for other in prefixes[first + 1:]:
        if _overlap(prefix, other):
            break
    return _OVERLAP.format(_text(prefix), "another provided", _text(other)), first > 0


def _first_overlapping(prefixes: list[bytes], existing: list[bytes]) -> int | None:
    """The smallest index whose prefix overlaps an existing one or another given one.

    Two strings overlap when one starts with the other.  Among the given
    prefixes, one overlapping another has, in sorted order, either a next
    neighbour starting with it or one of its own prefixes in the set.
    """
    counts: dict[bytes, int] = {}
    for p in prefixes:
        counts[p] = counts.get(p, 0) + 1
    ordered = sorted(counts)
    overlapping = set()
    for k, p in enumerate(ordered):
        if counts[p] > 1 or (k + 1 < len(ordered) and ordered[k + 1].startswith(p)):
            overlapping.add(p)
        if any(p[:n] in counts for n in range(len(p))):
            overlapping.add(p)
    if existing:
        old = set(existing)
        for p in ordered:
            k = bisect_left(existing, p)
            if (k < len(existing) and existing[k].startswith(p)) or any(p[:n] in old for n in range(len(p) + 1)):
                overlapping.add(p)
    for i, p in enumerate(prefixes):
        if p in overlapping:
            return i
    return None


def tracking_cmd(c: Client, argv: list[bytes]) -> Any:
    """CLIENT TRACKING on|off [REDIRECT id] [PREFIX p ...] [BCAST] [OPTIN] [OPTOUT] [NOLOOP]."""
    server = c.server
    redirect = 0
    bcast = optin = optout = noloop = False
    prefixes: list[bytes] = []
    j = 3
    n = len(argv)
    while j < n:
        opt = argv[j].lower()
        more = j + 1 < n
        if opt == b"redirect" and more:
            j += 1
            if redirect:
                raise CommandError("ERR A client can only redirect to a single other client")
            redirect = parse_int(argv[j])
            if redirect not in server.clients:
                raise CommandError("ERR The client ID you want redirect to does not exist")
        elif opt == b"bcast":
            bcast = True
        elif opt == b"optin":
            optin = True
        elif opt == b"optout":
            optout = True
        elif opt == b"noloop":
            noloop = True
        elif opt == b"prefix" and more:
            j += 1
            prefixes.append(argv[j])
        else:
            raise syntax_error()
        j += 1
    mode = argv[2].lower()
    if mode == b"off":
        server.tracking.disable(c)
        return "OK"
    if mode != b"on":
        raise syntax_error()
    st = c.tracking
    if not bcast and prefixes:
        raise CommandError("ERR PREFIX option requires BCAST mode to be enabled")
    if st is not None and st.bcast != bcast:
        raise CommandError("ERR " + _NOT_SWITCHABLE.format("BCAST mode on/off"))
    if bcast and (optin or optout):
        raise CommandError("ERR OPTIN and OPTOUT are not compatible with BCAST")
    if optin and optout:
        raise CommandError("ERR You can't specify both OPTIN mode and OPTOUT mode")
    if st is not None and ((optin and st.optout) or (optout and st.optin)):
        raise CommandError("ERR " + _NOT_SWITCHABLE.format("OPTIN/OPTOUT mode"))
    if bcast:
        error, go_on = _prefix_collision(c, prefixes)
        if error is not None and not go_on:
            raise CommandError(error)
        if error is not None:
            server.tracking.enable(c, redirect, bcast, optin, optout, noloop, prefixes)
            return Raw(encode_error(error) + b"+OK\r\n")
    server.tracking.enable(c, redirect, bcast, optin, optout, noloop, prefixes)
    return "OK"


def caching_cmd(c: Client, argv: list[bytes]) -> Any:
    """CLIENT CACHING yes|no: opt the next command (or MULTI/EXEC) in or out of tracking."""
    st = c.tracking
    if st is None:
        raise CommandError(
            "ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN "
            "or OPTOUT mode enabled"
        )
    opt = argv[2].lower()
    if opt == b"yes":
        if not st.optin:
            raise CommandError("ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.")
    elif opt == b"no":
        if not st.optout:
            raise CommandError("ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.")
    else:
        raise syntax_error()
    st.caching = True
    return "OK"


def getredir_cmd(c: Client, argv: list[bytes]) -> Any:
    """CLIENT GETREDIR: the redirect target, 0 for none, -1 when not tracking."""
    return c.tracking.redirect if c.tracking is not None else -1


def trackinginfo_cmd(c: Client, argv: list[bytes]) -> Any:
    """CLIENT TRACKINGINFO: flags (a set), redirect, prefixes (Redis 7.0's map)."""
    st = c.tracking
    if st is None:
        return {b"flags": SetReply([b"off"]), b"redirect": -1, b"prefixes": []}
    return {b"flags": SetReply(st.flag_names()), b"redirect": st.redirect, b"prefixes": sorted(st.prefixes)}
