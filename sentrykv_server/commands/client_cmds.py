"""CLIENT: connections as Redis 7.0's networking.c lists, kills, pauses and configures them.

CLIENT LIST / INFO print Redis 7.0.15's fields in its order, with values
measured on SentryKV's connection objects (see :func:`client_line`); CLIENT
PAUSE postpones commands through :mod:`sentrykv_server.pause`.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from sentrykv_server.commands import client_tracking
from sentrykv_server.commands.connection import _validate_name
from sentrykv_server.commands.errors import (
    CommandError,
    parse_int,
    syntax_error,
    unknown_subcommand,
)
from sentrykv_server.commands.registry import command
from sentrykv_server.memory import client_memory, multi_memory
from sentrykv_server.pause import ALL, WRITE, Postponed
from sentrykv_server.protocol.reply import NO_REPLY, Verbatim
from sentrykv_server.store.memory import getsizeof

if TYPE_CHECKING:
    from sentrykv_server.protocol.connection import Client
    from sentrykv_server.server import Server

_LLONG_MAX = (1 << 63) - 1
_EMPTY_BYTEARRAY = getsizeof(bytearray())

_CLIENT_HELP = [
    "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CACHING (YES|NO)",
    "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
    "GETREDIR",
    "    Return the client ID we are redirecting to when tracking is enabled.",
    "GETNAME", "    Return the name of the current connection.",
    "ID", "    Return the ID of the current connection.",
    "INFO", "    Return information about the current client connection.",
    "KILL <ip:port>", "    Kill connection made from <ip:port>.",
    "KILL <option> <value> [<option> <value> [...]]",
    "    Kill connections. Options are:",
    "    * ADDR (<ip:port>|<unixsocket>:0)", "      Kill connections made from the specified address",
    "    * LADDR (<ip:port>|<unixsocket>:0)", "      Kill connections made to specified local address",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)", "      Kill connections by type.",
    "    * USER <username>", "      Kill connections authenticated by <username>.",
    "    * SKIPME (YES|NO)", "      Skip killing current connection (default: yes).",
    "LIST [options ...]", "    Return information about client connections. Options:",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)", "      Return clients of specified type.",
    "UNPAUSE", "    Stop the current client pause, resuming traffic.",
    "PAUSE <timeout> [WRITE|ALL]", "    Suspend all, or just write, clients for <timeout> milliseconds.",
    "REPLY (ON|OFF|SKIP)", "    Control the replies sent to the current connection.",
    "SETNAME <name>", "    Assign the name <name> to the current connection.",
    "UNBLOCK <clientid> [TIMEOUT|ERROR]", "    Unblock the specified blocked client.",
    "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
    "         [OPTIN] [OPTOUT] [NOLOOP]",
    "    Control server assisted client side caching.",
    "TRACKINGINFO", "    Report tracking status for the current connection.",
    "NO-EVICT (ON|OFF)", "    Protect current client connection from eviction.",
    "HELP", "    Prints this help.",
]
# Redis 7.0's arities of the CLIENT subcommands (a mismatch is "wrong number of arguments").
_ARITY = {b"id": 2, b"getname": 2, b"setname": 3, b"info": 2, b"list": -2, b"kill": -3, b"no-evict": 3,
          b"reply": 3, b"unblock": -3, b"pause": -3, b"unpause": 2, b"getredir": 2, b"trackinginfo": 2,
          b"caching": 3, b"tracking": -3, b"help": 2}
# Client types by the names CLIENT LIST/KILL TYPE accept (getClientTypeByName).
_TYPES = {b"normal": "normal", b"slave": "replica", b"replica": "replica", b"pubsub": "pubsub",
          b"master": "master"}


def client_type(c: Client) -> str:
    """getClientType: a replica connection is never "normal", the master (on a replica:
    the client applying its stream) is a class of its own, MONITOR counts as normal."""
    if c.is_master:
        return "master"
    if c.replica_link is not None:
        return "replica"
    return "pubsub" if (c.channels or c.patterns or c.shard_channels) else "normal"


def all_clients(server: Server) -> list[Client]:
    """Every connection in id order, plus (on a replica) the client applying the stream."""
    everyone = list(server.clients.values())
    link = server.repl.link
    if link is not None and link.state == "connected":
        everyone.append(link.applier.client)
    return sorted(everyone, key=lambda x: x.id)


def flags_text(c: Client) -> str:
    """The flags field, in the order Redis 7.0 writes its letters."""
    flags = ""
    if c.replica_link is not None:
        flags += "S"
    if c.monitor:
        flags += "O"
    if c.is_master:
        flags += "M"
    if c.channels or c.patterns or c.shard_channels:
        flags += "P"
    if c.multi is not None:
        flags += "x"
    if c.blocked is not None:
        flags += "b"
    tracking = c.tracking
    if tracking is not None:
        flags += "t"
        if tracking.broken:
            flags += "R"
        if tracking.bcast:
            flags += "B"
    if c.watch_dirty and c.watched:
        flags += "d"
    if c.close_after_reply:
        flags += "c"
    if c.no_evict:
        flags += "e"
    return flags or "N"


def client_line(c: Client, now: float, running: list[bytes] | str | None = None) -> str:
    """One line of CLIENT LIST in Redis 7.0.15's field order.

    ``running`` is the argv of the command the caller is executing right now
    (CLIENT LIST / INFO): Redis names it in ``cmd`` and counts it in ``argv-mem``;
    a str is just the name to show (an ACL LOG entry for a refused command).
    """
    multi = len(c.multi) if c.multi is not None else -1
    if isinstance(running, str):
        cmd = running
        argv_mem = 0
    elif running is not None:
        cmd = "client|" + running[1].decode("latin-1").lower()
        argv_mem = sum(map(len, running))
    else:
        cmd = c.last_cmd.full_name if c.last_cmd is not None else "NULL"
        state = c.blocked
        argv_mem = sum(map(len, state.argv)) if type(state) is Postponed else (
            sum(map(len, state.keys)) if state is not None else 0)
    transport = c.transport
    pending = 0
    if transport is not None and not c.closing:
        try:
            pending = transport.get_write_buffer_size()
        except (AttributeError, RuntimeError):
            pending = 0
    qbuf = c.partial_size if c.resp_partial else len(c.inline_buf)
    rbs = getsizeof(c.out) - _EMPTY_BYTEARRAY
    events = "r" if not c.read_paused else ""
    if pending or c.held:
        events += "w"
    return (
        f"id={c.id} addr={c.addr} laddr={c.laddr} fd={c.fd} name={c.name.decode('utf-8', 'replace')} "
        f"age={int(now - c.created)} idle={max(0, c.server.unixtime - c.last_seen)} flags={flags_text(c)} "
        f"db={c.db.id} sub={len(c.channels)} psub={len(c.patterns)} ssub={len(c.shard_channels)} "
        f"multi={multi} qbuf={qbuf} qbuf-free=0 argv-mem={argv_mem} multi-mem={multi_memory(c)} "
        f"rbs={rbs} rbp={max(c.reply_peak, len(c.out))} obl={len(c.out)} oll={len(c.held)} "
        f"omem={c.held_bytes + pending} tot-mem={client_memory(c) + argv_mem} events={events} "
        f"cmd={cmd} user={c.user.name.decode('utf-8', 'replace')} redir={c.tracking.redirect if c.tracking is not None else -1} resp={3 if c.resp3 else 2}"
    )


@command("client", -2, "", group="connection")
def client_cmd(c: Client, argv: list[bytes]) -> Any:
    """Manage client connections."""
    sub = argv[1].lower()
    n = len(argv)
    arity = _ARITY.get(sub)
    if arity is None:
        raise unknown_subcommand(argv[1], "CLIENT")
    if (arity > 0 and n != arity) or n < -arity:
        raise CommandError(f"ERR wrong number of arguments for 'client|{sub.decode()}' command")
    server = c.server
    if sub == b"help":
        return _CLIENT_HELP
    if sub == b"id":
        return c.id
    if sub == b"getname":
        return c.name or None
    if sub == b"setname":
        _validate_name(argv[2])
        c.name = argv[2]
        return "OK"
    if sub == b"info":
        return Verbatim((client_line(c, time.time(), argv) + "\n").encode())
    if sub == b"list":
        return _client_list(c, argv)
    if sub == b"kill":
        return _client_kill(c, argv)
    if sub == b"no-evict":
        mode = argv[2].lower()
        if mode not in (b"on", b"off"):
            raise syntax_error()
        c.no_evict = mode == b"on"
        return "OK"
    if sub == b"reply":
        mode = argv[2].lower()
        if mode not in (b"on", b"off", b"skip"):
            raise syntax_error()
        c.reply_mode = mode.decode()
        c.refresh()
        return "OK" if mode == b"on" else NO_REPLY
    if sub == b"unblock":
        return _client_unblock(server, argv)
    if sub == b"pause":
        return _client_pause(server, argv)
    if sub == b"unpause":
        server.pause.unpause()
        return "OK"
    if sub == b"getredir":
        return client_tracking.getredir_cmd(c, argv)
    if sub == b"trackinginfo":
        return client_tracking.trackinginfo_cmd(c, argv)
    if sub == b"caching":
        return client_tracking.caching_cmd(c, argv)
    return client_tracking.tracking_cmd(c, argv)


def _too_many(argv: list[bytes]) -> CommandError:
    """Redis 7.0 words an extra argument of PAUSE / UNBLOCK the old way."""
    return CommandError(f"ERR unknown subcommand or wrong number of arguments for "
                        f"'{argv[1][:128].decode('utf-8', 'replace')}'. Try CLIENT HELP.")


def _client_unblock(server: Server, argv: list[bytes]) -> int:
    if len(argv) > 4:
        raise _too_many(argv)
    target_id = parse_int(argv[2])
    how = argv[3].lower() if len(argv) == 4 else b"timeout"
    if how not in (b"timeout", b"error"):
        raise CommandError("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
    target = server.clients.get(target_id)
    if target is None or target.blocked is None or type(target.blocked) is Postponed:
        return 0
    server.blocking.unblock(target, error=how == b"error")
    return 1


def _client_pause(server: Server, argv: list[bytes]) -> str:
    """CLIENT PAUSE timeout [WRITE|ALL]: the mode is checked before the timeout, as in Redis."""
    if len(argv) > 4:
        raise _too_many(argv)
    kind = ALL
    if len(argv) == 4:
        mode = argv[3].lower()
        if mode not in (b"write", b"all"):
            raise CommandError("ERR CLIENT PAUSE mode must be WRITE or ALL")
        kind = WRITE if mode == b"write" else ALL
    timeout = parse_int(argv[2], "ERR timeout is not an integer or out of range")
    if timeout < 0:
        raise CommandError("ERR timeout is negative")
    if timeout > _LLONG_MAX - int(time.time() * 1000):
        return "OK"  # Redis's end time overflows into the past: no pause at all
    server.pause.pause(timeout, kind)
    return "OK"


def _client_list(c: Client, argv: list[bytes]) -> Any:
    """CLIENT LIST [TYPE type | ID id [id ...]] (one filter, as Redis 7.0 parses it)."""
    server = c.server
    now = time.time()
    n = len(argv)
    if n == 4 and argv[2].lower() == b"type":
        kind = _TYPES.get(argv[3].lower())
        if kind is None:
            raise CommandError(f"ERR Unknown client type '{argv[3].decode('utf-8', 'replace')}'")
        chosen = [x for x in all_clients(server) if client_type(x) == kind]
    elif n > 3 and argv[2].lower() == b"id":
        chosen = []
        for raw in argv[3:]:
            wanted = parse_int(raw, "ERR Invalid client ID")
            found = server.clients.get(wanted)
            if found is not None:
                chosen.append(found)
    elif n != 2:
        raise syntax_error()
    else:
        chosen = all_clients(server)
    text = "".join(client_line(x, now, argv if x is c else None) + "\n" for x in chosen)
    return Verbatim(text.encode())


def _client_kill(c: Client, argv: list[bytes]) -> Any:
    """CLIENT KILL addr (old form, may kill the caller) or filters ID/TYPE/USER/ADDR/LADDR/SKIPME."""
    server = c.server
    addr = laddr = kind = None
    wanted_id = 0
    user: Any = None
    skipme = True
    if len(argv) == 3:
        addr = argv[2].decode("utf-8", "replace")
        skipme = False
    else:
        i = 2
        while i < len(argv):
            opt = argv[i].lower()
            if i + 1 >= len(argv):
                raise syntax_error()
            value = argv[i + 1]
            if opt == b"id":
                wanted_id = parse_int(value, "ERR client-id should be greater than 0")
                if wanted_id < 1:
                    raise CommandError("ERR client-id should be greater than 0")
            elif opt == b"type":
                kind = _TYPES.get(value.lower())
                if kind is None:
                    raise CommandError(f"ERR Unknown client type '{value.decode('utf-8', 'replace')}'")
            elif opt == b"addr":
                addr = value.decode("utf-8", "replace")
            elif opt == b"laddr":
                laddr = value.decode("utf-8", "replace")
            elif opt == b"user":
                user = server.acl.users.get(value)
                if user is None:
                    raise CommandError(f"ERR No such user '{value.decode('utf-8', 'replace')}'")
            elif opt == b"skipme":
                low = value.lower()
                if low not in (b"yes", b"no"):
                    raise syntax_error()
                skipme = low == b"yes"
            else:
                raise syntax_error()
            i += 2
    killed = 0
    close_self = False
    for other in all_clients(server):
        if addr is not None and other.addr != addr:
            continue
        if laddr is not None and other.laddr != laddr:
            continue
        if kind is not None and client_type(other) != kind:
            continue
        if wanted_id and other.id != wanted_id:
            continue
        if user is not None and other.user is not user:
            continue
        if other is c:
            if skipme:
                continue
            close_self = True
        elif other.is_master:  # the link to our master: dropped, then reconnected (as Redis)
            server.repl.drop_link()
        else:
            other.close()
        killed += 1
    if close_self:
        c.close_after_reply = True
        c.closing = True
    if len(argv) == 3:
        if not killed:
            raise CommandError("ERR No such client")
        return "OK"
    return killed
