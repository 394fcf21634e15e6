"""MULTI / EXEC / DISCARD / WATCH / UNWATCH (Redis's multi.c).

Queuing happens in the dispatcher (``dispatch.process_command``): while
``client.multi`` is a list, commands are checked (lookup, arity, auth, write
gating) and appended instead of run; a command rejected while queuing sets
``client.multi_error`` and EXEC then answers EXECABORT.

EXEC checks every queued command against the user's ACL again (the rules, or
the user, may have changed since it was queued), then runs it through
``dispatch.call`` — which neither commits the
write-ahead log nor serves blocked clients — so everything the transaction
propagates is committed as ONE frame by the dispatcher after EXEC returns,
and clients blocked on keys the transaction filled are served only after
EXEC finished, as in Redis.

WATCH: ``keyspace.touched`` flags every client watching a modified key
(``client.watch_dirty``); EXEC additionally treats a watched key that has
logically expired since WATCH as modified (Redis 7.0's isWatchedKeyExpired),
since the key may still sit in memory waiting for lazy/active expiry.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sentrykv_server.acl import check as acl_check
from sentrykv_server.commands.errors import CommandError
from sentrykv_server.commands.registry import command
from sentrykv_server.dispatch import call
from sentrykv_server.protocol.reply import NO_REPLY, NULL_ARRAY, ErrorReply, Raw, encode

if TYPE_CHECKING:
    from sentrykv_server.protocol.connection import Client

EXECABORT = "EXECABORT Transaction discarded because of previous errors."


def unwatch_all(client: Client) -> None:
    """Forget every key a client WATCHes."""
    watchers = client.server.keyspace.watchers
    for entry in client.watched:
        clients = watchers.get(entry)
        if clients is not None:
            clients.discard(client)
            if not clients:
                del watchers[entry]
    client.watched = []
    client.watch_dirty = False
    client.server.keyspace.refresh_observed()


def discard_transaction(client: Client) -> None:
    """Leave MULTI state and drop the WATCHes (EXEC, DISCARD, aborts)."""
    client.multi = None
    client.multi_error = False
    unwatch_all(client)


def abort_exec(client: Client, message: str) -> str:
    """The reply to an EXEC rejected by the dispatcher (arity, NOAUTH, MISCONF, subscribed mode).

    Redis's execCommandAbort: the transaction is discarded and the reason is
    wrapped, without its ``ERR`` code, e.g. "EXECABORT Transaction discarded
    because of: wrong number of arguments for 'exec' command".
    """
    discard_transaction(client)
    if message.startswith("ERR "):
        message = message[4:]
    return "EXECABORT Transaction discarded because of: " + message


def _watched_key_expired(client: Client) -> bool:
    dbs = client.server.keyspace.dbs
    return any(dbs[index].is_expired(key) for index, key in client.watched)


@command("multi", 1, "noscript loading stale fast allow_busy", group="transactions", since="1.2.0")
def multi_cmd(c: Client, argv: list[bytes]) -> Any:
    """Start a transaction."""
    if c.multi is not None:
        raise CommandError("ERR MULTI calls can not be nested")
    c.multi = []
    c.multi_error = False
    return "OK"


@command("discard", 1, "noscript loading stale fast allow_busy", group="transactions", since="2.0.0")
def discard_cmd(c: Client, argv: list[bytes]) -> Any:
    """Discard the queued commands (and the WATCHes)."""
    if c.multi is None:
        raise CommandError("ERR DISCARD without MULTI")
    discard_transaction(c)
    return "OK"


@command("exec", 1, "noscript loading stale skip_slowlog", group="transactions", since="1.2.0")
def exec_cmd(c: Client, argv: list[bytes]) -> Any:
    """Run the queued commands atomically; nil if a WATCHed key changed."""
    queue = c.multi
    if queue is None:
        raise CommandError("ERR EXEC without MULTI")
    server = c.server
    # Redis rejects an EXEC whose queue holds a write before looking at anything else.
    if server.write_error is not None and any(cmd.is_write for cmd, _argv in queue):
        raise CommandError(abort_exec(c, server.write_error))
    if c.multi_error:
        discard_transaction(c)
        raise CommandError(EXECABORT)
    if c.watched and (c.watch_dirty or _watched_key_expired(c)):
        discard_transaction(c)
        return NULL_ARRAY
    # Unwatch first: the transaction's own writes must not flag this client.
    discard_transaction(c)
    # Each reply is encoded as it is produced (HELLO inside MULTI switches the protocol
    # mid-way, and a SUBSCRIBE with several channels adds several replies, as in Redis),
    # straight into the client's output when replies are on: a RESP3 client subscribed to
    # the keyspace events of its own transaction gets them between the replies, as in Redis.
    direct = c.reply_mode == "on"
    out = c.out if direct else bytearray()
    out += b"*%d\r\n" % len(queue)
    c.in_exec = c.deny_blocking = True
    try:
        for cmd, args in queue:
            # Permissions may have changed since the command was queued (and AUTH in the
            # transaction may have changed the user): check again, as Redis does.
            if c.user.restricted:
                denial = acl_check(c, cmd, args)
                if denial is not None:
                    server.acl.log_denial(c, denial, args, "multi", "exec")
                    encode(out, ErrorReply(denial.exec_message()), c.resp3)
                    continue
            result = call(c, cmd, args)
            if type(result) is CommandError:
                result = ErrorReply(result.message)
            elif result is NO_REPLY:
                result = None
            encode(out, result, c.resp3)
    finally:
        c.in_exec = c.deny_blocking = False
    return NO_REPLY if direct else Raw(bytes(out))


@command("watch", -2, "noscript loading stale fast allow_busy", 1, -1, 1, group="transactions", since="2.2.0")
def watch_cmd(c: Client, argv: list[bytes]) -> Any:
    """Abort the next EXEC if one of these keys changes."""
    if c.multi is not None:
        raise CommandError("ERR WATCH inside MULTI is not allowed")
    db = c.db
    watchers = db.keyspace.watchers
    for key in argv[1:]:
        entry = (db.id, key)
        clients = watchers.get(entry)
        if clients is not None and c in clients:
            continue
        # A key already expired is deleted now, so that its later (lazy) removal does not
        # count as a change: Redis remembers it as "expired at WATCH time" instead.
        db.lookup(key)
        if clients is None:
            clients = watchers[entry] = set()
        clients.add(c)
        c.watched.append(entry)
    db.keyspace.refresh_observed()
    return "OK"


@command("unwatch", 1, "noscript loading stale fast allow_busy", group="transactions", since="2.2.0")
def unwatch_cmd(c: Client, argv: list[bytes]) -> Any:
    """Forget every WATCHed key."""
    unwatch_all(c)
    return "OK"
