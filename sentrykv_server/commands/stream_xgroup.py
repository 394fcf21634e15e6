"""XGROUP CREATE | SETID | DESTROY | CREATECONSUMER | DELCONSUMER | HELP (t_stream.c), and the
container-command checks XGROUP and XINFO share (subcommand arity and syntax errors with
Redis 7.0's wording).  Logged as sent when something changed; ``XGROUP CREATE ... $`` with
the ID ``$`` stood for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sentrykv_server.commands.containers import will_modify
from sentrykv_server.commands.errors import (
    CommandError,
    check_subcommand,
    parse_int,
)
from sentrykv_server.commands.registry import command
from sentrykv_server.commands.streams import changed, get_stream, parse_id, parse_strict_id
from sentrykv_server.notify import STREAM, notify
from sentrykv_server.store.stream import INVALID_ENTRIES_READ, Group, Stream, id_bytes

if TYPE_CHECKING:
    from sentrykv_server.protocol.connection import Client
    from sentrykv_server.store.keyspace import Database


# -- XGROUP ----------------------------------------------------------------------------------
_XGROUP_HELP = [
    "XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CREATE <key> <groupname> <id|$> [option]",
    "    Create a new consumer group. Options are:",
    "    * MKSTREAM",
    "      Create the empty stream if it does not exist.",
    "    * ENTRIESREAD entries_read",
    "      Set the group's entries_read counter (internal use).",
    "CREATECONSUMER <key> <groupname> <consumer>",
    "    Create a new consumer in the specified group.",
    "DELCONSUMER <key> <groupname> <consumer>",
    "    Remove the specified consumer.",
    "DESTROY <key> <groupname>",
    "    Remove the specified group.",
    "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
    "    Set the current group ID and entries_read counter.",
    "HELP",
    "    Prints this help.",
]
# Subcommand -> Redis 7.0 arity (negative: at least).
_XGROUP_ARITY = {b"create": -5, b"setid": -5, b"destroy": 4, b"createconsumer": 5, b"delconsumer": 5, b"help": 2}


def subcommand_syntax(argv: list[bytes]) -> CommandError:
    """addReplySubcommandSyntaxError."""
    sub = argv[1].decode("utf-8", "replace")
    return CommandError(
        f"ERR unknown subcommand or wrong number of arguments for '{sub[:128]}'. "
        f"Try {argv[0].decode('utf-8', 'replace').upper()} HELP."
    )


def _entries_read_option(argv: list[bytes], i: int) -> int:
    value = parse_int(argv[i + 1])
    if value < 0 and value != INVALID_ENTRIES_READ:
        raise CommandError("ERR value for ENTRIESREAD must be positive or -1")
    return value


@command("xgroup", -2, "", group="stream", since="5.0.0")
def xgroup_cmd(c: Client, argv: list[bytes]) -> Any:
    """Create, change and destroy consumer groups and their consumers."""
    sub = check_subcommand(argv, _XGROUP_ARITY, "XGROUP")
    if sub == b"help":
        return _XGROUP_HELP
    n = len(argv)
    mkstream = False
    entries_read = INVALID_ENTRIES_READ
    if sub in (b"create", b"setid"):
        i = 5
        while i < n:
            opt = argv[i].lower()
            if sub == b"create" and opt == b"mkstream":
                mkstream = True
                i += 1
            elif opt == b"entriesread" and i + 1 < n:
                entries_read = _entries_read_option(argv, i)
                i += 2
            else:
                raise subcommand_syntax(argv)
    db = c.db
    key, gname = argv[2], argv[3]
    s = get_stream(db, key, False)
    group = s.groups.get(gname) if s is not None else None
    if not mkstream:
        if s is None:
            raise CommandError(
                "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may "
                "want to use the MKSTREAM option to create an empty stream automatically."
            )
        if group is None and sub in (b"setid", b"createconsumer", b"delconsumer"):
            k, g = key.decode("utf-8", "replace"), gname.decode("utf-8", "replace")
            raise CommandError(f"NOGROUP No such consumer group '{g}' for key name '{k}'")
    if sub == b"create":
        if n > 8:
            raise subcommand_syntax(argv)
        return _xgroup_create(c, db, argv, s, entries_read)
    assert s is not None
    if sub == b"setid":
        if n not in (5, 7):
            raise subcommand_syntax(argv)
        assert group is not None
        new = s.last_id if argv[4] == b"$" else parse_id(argv[4])
        will_modify(db, key)
        group.last_id = new
        group.entries_read = entries_read
        changed(db)
        c.server.propagate(db.id, argv)
        notify(c.server, STREAM, b"xgroup-setid", db, key)
        return "OK"
    if sub == b"destroy":
        if group is None:
            return 0
        will_modify(db, key)
        del s.groups[gname]
        changed(db)
        c.server.propagate(db.id, argv)
        notify(c.server, STREAM, b"xgroup-destroy", db, key)
        db.keyspace.signal_ready(db, key)  # blocked XREADGROUP clients get NOGROUP
        return 1
    assert group is not None
    cname = argv[4]
    if sub == b"createconsumer":
        if cname in group.consumers:
            return 0
        will_modify(db, key)
        group.create_consumer(cname, db.keyspace.now())
        changed(db)
        c.server.propagate(db.id, argv)
        notify(c.server, STREAM, b"xgroup-createconsumer", db, key)
        return 1
    if cname not in group.consumers:
        return 0
    will_modify(db, key)
    pending = group.delete_consumer(cname)
    changed(db)
    c.server.propagate(db.id, argv)
    notify(c.server, STREAM, b"xgroup-delconsumer", db, key)
    return pending


def _xgroup_create(c: Client, db: Database, argv: list[bytes], s: Stream | None, entries_read: int) -> Any:
    key, gname = argv[2], argv[3]
    if argv[4] == b"$":
        start = s.last_id if s is not None else 0
    else:
        start = parse_strict_id(argv[4])
    if s is None:
        s = Stream()
        db.add(key, s)
    elif gname in s.groups:
        raise CommandError("BUSYGROUP Consumer Group name already exists")
    else:
        will_modify(db, key)
    s.groups[gname] = Group(gname, start, entries_read)
    changed(db)
    c.server.propagate(db.id, [b"XGROUP", b"CREATE", key, gname, id_bytes(start), *argv[5:]])
    notify(c.server, STREAM, b"xgroup-create", db, key)
    return "OK"
