"""The reference engines' REPL words, mapped onto Redis commands.

``set/get/del/exists`` are already Redis commands and pass straight through.
The other words either rename a Redis command (``size`` = DBSIZE) or combine
several into something a person can read at a glance (``stats``, ``status``).
Anything that is not a vocabulary word is sent to the server unchanged.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import Enum

from sentrykv_cli.format import forces_raw, format_reply
from sentrykv_cli.resp import ErrorReply, Reply
from sentrykv_cli.session import Session


class Outcome(Enum):
    OK = "ok"
    ERROR = "error"  # the server replied with an error
    USAGE = "usage"  # the words typed were not a valid command line


@dataclass(frozen=True)
class Result:
    text: str
    outcome: Outcome = Outcome.OK


HELP = """\
SentryKV CLI: the reference engine's words, plus any Redis command.

  set <key> <value>     store a value                       (SET)
  get <key>             print the value, or (nil)           (GET)
  del <key> [key ...]   delete keys                         (DEL)
  exists <key> [...]    how many of the keys exist          (EXISTS)
  size                  number of keys                      (DBSIZE)
  clear                 delete every key of this database   (FLUSHDB)
  keys [pattern]        list keys, sorted                   (KEYS *)
  scan [prefix]         keys starting with prefix, sorted   (SCAN MATCH prefix*)
  stats                 operation and persistence counters  (INFO stats, INFO persistence)
  status                durability settings and WAL progress
  checkpoint            write a snapshot now                (SAVE)
  autockpt <ms|off>     automatic checkpoint period         (CONFIG SET checkpoint-interval-ms)
  flush [timeout-ms]    durability barrier: wait until every acknowledged
                        write is fsynced                    (WAITAOF 1 0 timeout)
  help                  this text
  quit | exit           leave

Anything else is sent as a Redis command, e.g.  INCR hits  or  CONFIG GET appendfsync.
Quoting follows redis-cli: "a b\\n" (escapes, \\xHH) or 'a b' (literal).
`scan` with two or more arguments is the raw Redis SCAN (cursor [MATCH p] ...).
"""

NA = "n/a"


def _call(session: Session, *args: str | bytes) -> Reply:
    return session.call([a.encode() if isinstance(a, str) else a for a in args])


def _reply_result(reply: Reply, raw: bool, report: bool = False) -> Result:
    outcome = Outcome.ERROR if isinstance(reply, ErrorReply) else Outcome.OK
    return Result(format_reply(reply, raw, report), outcome)


def _usage(text: str) -> Result:
    return Result(f"(error) usage: {text}\n", Outcome.USAGE)


def parse_info(reply: Reply) -> dict[str, str]:
    """Flatten an INFO bulk reply to ``{field: value}`` (sections do not matter here)."""
    if not isinstance(reply, bytes):
        return {}
    fields: dict[str, str] = {}
    for line in reply.decode("utf-8", "replace").splitlines():
        if not line or line.startswith("#") or ":" not in line:
            continue
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip()
    return fields


def _config_get(session: Session, name: str) -> str | None:
    """One CONFIG GET; None when the server does not know the parameter or refuses."""
    reply = _call(session, "CONFIG", "GET", name)
    if isinstance(reply, list) and len(reply) >= 2 and isinstance(reply[1], bytes):
        return reply[1].decode("utf-8", "replace")
    return None


def _table(rows: list[tuple[str, str]], indent: str = "  ") -> str:
    width = max((len(name) for name, _ in rows), default=0)
    return "".join(f"{indent}{name.ljust(width)}  {value}\n" for name, value in rows)


def _when(epoch: str | None) -> str:
    if epoch is None:
        return NA
    try:
        seconds = int(epoch)
    except ValueError:
        return epoch
    if seconds <= 0:
        return f"{epoch} (never)"
    stamp = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(seconds))
    return f"{epoch} ({stamp})"


def _yes_no(value: str | None) -> str:
    if value is None:
        return NA
    return {"0": "no", "1": "yes"}.get(value, value)


STATS_FIELDS = (
    "total_connections_received", "rejected_connections", "total_commands_processed",
    "instantaneous_ops_per_sec", "keyspace_hits", "keyspace_misses", "expired_keys",
    "evicted_keys", "total_net_input_bytes", "total_net_output_bytes",
)
PERSISTENCE_FIELDS = (
    "loading", "rdb_changes_since_last_save", "rdb_bgsave_in_progress", "rdb_saves",
    "rdb_last_save_time", "rdb_last_bgsave_status", "aof_enabled", "aof_rewrite_in_progress",
    "aof_last_write_status", "aof_current_size", "wal_written_lsn", "wal_durable_lsn",
    "wal_fsyncs",
)


def cmd_stats(session: Session, args: list[bytes], raw: bool) -> Result:
    if args:
        return _usage("stats")
    stats_reply = _call(session, "INFO", "stats")
    if isinstance(stats_reply, ErrorReply):
        return _reply_result(stats_reply, raw)
    persist_reply = _call(session, "INFO", "persistence")
    if isinstance(persist_reply, ErrorReply):
        return _reply_result(persist_reply, raw)
    stats, persist = parse_info(stats_reply), parse_info(persist_reply)
    stat_rows = [(f, stats.get(f, NA)) for f in STATS_FIELDS]
    # Show every WAL/checkpoint field the server reports, even ones this CLI predates.
    extra = sorted(f for f in persist if f.startswith(("wal_", "checkpoint_")) and f not in PERSISTENCE_FIELDS)
    persist_rows = [(f, persist.get(f, NA)) for f in (*PERSISTENCE_FIELDS, *extra)]
    persist_rows = [(f, _when(v) if f == "rdb_last_save_time" and v != NA else v) for f, v in persist_rows]
    size = _call(session, "DBSIZE")
    keyspace = [("keys (DBSIZE)", str(size) if isinstance(size, int) else NA)]
    width = max(len(f) for f, _ in (*stat_rows, *persist_rows, *keyspace))
    # One column grid for the three tables: names are padded to the widest of all.
    text = (
        "Stats\n" + _table([(f.ljust(width), v) for f, v in stat_rows])
        + "Persistence\n" + _table([(f.ljust(width), v) for f, v in persist_rows])
        + "Keyspace\n" + _table([(f.ljust(width), v) for f, v in keyspace])
    )
    return Result(text)


def cmd_status(session: Session, args: list[bytes], raw: bool) -> Result:
    if args:
        return _usage("status")
    info_reply = _call(session, "INFO", "persistence")
    if isinstance(info_reply, ErrorReply):
        return _reply_result(info_reply, raw)
    info = parse_info(info_reply)
    appendonly = _config_get(session, "appendonly")
    if appendonly is None and "aof_enabled" in info:
        appendonly = _yes_no(info["aof_enabled"])
    interval = _config_get(session, "checkpoint-interval-ms")
    if interval is None:
        interval_text = NA
    elif interval.strip() in ("0", ""):
        interval_text = "off"
    else:
        interval_text = f"{interval} ms"
    written, durable = info.get("wal_written_lsn"), info.get("wal_durable_lsn")
    lag = NA
    if written is not None and durable is not None:
        try:
            lag = str(int(written) - int(durable))
        except ValueError:
            pass
    rows = [
        ("appendonly (WAL enabled)", appendonly or NA),
        ("appendfsync", _config_get(session, "appendfsync") or NA),
        ("checkpoint interval", interval_text),
        ("checkpoint in progress", _yes_no(info.get("rdb_bgsave_in_progress"))),
        ("AOF rewrite in progress", _yes_no(info.get("aof_rewrite_in_progress"))),
        ("WAL written LSN", written or NA),
        ("WAL durable LSN", durable or NA),
        ("written, not yet durable", lag),
        ("last checkpoint", _when(info.get("rdb_last_save_time"))),
        ("last checkpoint status", info.get("rdb_last_bgsave_status", NA)),
        ("changes since checkpoint", info.get("rdb_changes_since_last_save", NA)),
    ]
    return Result(_table(rows, indent=""))


def cmd_size(session: Session, args: list[bytes], raw: bool) -> Result:
    if args:
        return _usage("size")
    return _reply_result(_call(session, "DBSIZE"), raw)


def cmd_clear(session: Session, args: list[bytes], raw: bool) -> Result:
    if args:
        return _usage("clear")
    return _reply_result(_call(session, "FLUSHDB"), raw)


def cmd_keys(session: Session, args: list[bytes], raw: bool) -> Result:
    if len(args) > 1:
        return _usage("keys [pattern]")
    reply = _call(session, "KEYS", args[0] if args else b"*")
    if isinstance(reply, list):
        return _reply_result(_sorted_keys(reply), raw)
    return _reply_result(reply, raw)


def _sorted_keys(keys: Iterable[Reply]) -> Reply:
    """Deterministic order, as the reference engines list keys (bytewise)."""
    return list[Reply](sorted(k for k in keys if isinstance(k, bytes)))


GLOB_SPECIAL = b"*?[]\\"


def escape_glob(prefix: bytes) -> bytes:
    """Escape Redis glob metacharacters so a prefix matches itself literally."""
    return b"".join(b"\\" + bytes([c]) if c in GLOB_SPECIAL else bytes([c]) for c in prefix)


def cmd_scan(session: Session, args: list[bytes], raw: bool) -> Result:
    pattern = escape_glob(args[0] if args else b"") + b"*"
    found: set[bytes] = set()
    cursor = b"0"
    while True:
        reply = _call(session, "SCAN", cursor, "MATCH", pattern, "COUNT", "1000")
        if isinstance(reply, ErrorReply):
            return _reply_result(reply, raw)
        if not (isinstance(reply, list) and len(reply) == 2 and isinstance(reply[0], bytes)
                and isinstance(reply[1], list)):
            return Result(f"(error) unexpected SCAN reply: {reply!r}\n", Outcome.ERROR)
        cursor = reply[0]
        found.update(k for k in reply[1] if isinstance(k, bytes))
        if cursor == b"0":
            break
    return _reply_result(_sorted_keys(found), raw)


def cmd_checkpoint(session: Session, args: list[bytes], raw: bool) -> Result:
    if args:
        return _usage("checkpoint")
    return _reply_result(_call(session, "SAVE"), raw)


def cmd_autockpt(session: Session, args: list[bytes], raw: bool) -> Result:
    if len(args) != 1:
        return _usage("autockpt <ms|off>")
    word = args[0].decode("utf-8", "replace").lower()
    if word == "off":
        ms = 0
    elif word.isdigit():
        ms = int(word)
    else:
        return _usage("autockpt <ms|off>  (ms is a whole number of milliseconds; 0 or off disables)")
    return _reply_result(_call(session, "CONFIG", "SET", "checkpoint-interval-ms", str(ms)), raw)


def cmd_flush(session: Session, args: list[bytes], raw: bool) -> Result:
    if len(args) > 1 or (args and not args[0].isdigit()):
        return _usage("flush [timeout-ms]  (0 or nothing waits as long as it takes)")
    timeout = args[0] if args else b"0"
    reply = _call(session, "WAITAOF", "1", "0", timeout)
    if isinstance(reply, ErrorReply):
        return _reply_result(reply, raw)
    if not (isinstance(reply, list) and reply and isinstance(reply[0], int)):
        return Result(f"(error) unexpected WAITAOF reply: {reply!r}\n", Outcome.ERROR)
    local = reply[0]
    if local < 1:
        return Result(
            f"(error) durability barrier timed out after {int(timeout)} ms: "
            "no local fsync confirmed yet\n",
            Outcome.ERROR,
        )
    plural = "" if local == 1 else "s"
    return Result(f"OK: {local} local fsync{plural} confirmed; acknowledged writes are on disk\n")


def cmd_help(session: Session, args: list[bytes], raw: bool) -> Result:
    return Result(HELP)


Handler = Callable[[Session, list[bytes], bool], Result]

WORDS: dict[str, Handler] = {
    "help": cmd_help, "size": cmd_size, "clear": cmd_clear, "keys": cmd_keys,
    "stats": cmd_stats, "status": cmd_status, "checkpoint": cmd_checkpoint,
    "autockpt": cmd_autockpt, "flush": cmd_flush, "scan": cmd_scan,
}


def lookup(args: list[bytes]) -> Handler | None:
    """The vocabulary handler for this command line, or None to pass it through."""
    if not args:
        return None
    word = args[0].decode("utf-8", "replace").lower()
    if word == "scan" and len(args) > 2:
        return None  # raw SCAN cursor [MATCH ...] [COUNT ...]
    return WORDS.get(word)


def run(session: Session, args: list[bytes], raw: bool) -> Result:
    """Execute one command line: vocabulary word or raw Redis command."""
    handler = lookup(args)
    if handler is not None:
        return handler(session, args[1:], raw)
    return _reply_result(session.call(args), raw, report=forces_raw(args))
