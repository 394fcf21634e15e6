"""Tab completion for the interactive REPL (prompt_toolkit)."""

from __future__ import annotations

from collections.abc import Iterator

from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document

from sentrykv_cli import vocabulary

# First words offered: the vocabulary plus the Redis commands people type most.
# Unknown commands still pass through; this is only a hint list.
COMMAND_WORDS = sorted({
    *vocabulary.WORDS, "set", "get", "del", "exists", "quit", "exit",
    "append", "auth", "bgsave", "client", "command", "config", "dbsize", "decr", "decrby",
    "echo", "expire", "flushall", "flushdb", "getdel", "getex", "getrange", "getset", "hello",
    "incr", "incrby", "info", "lastsave", "mget", "monitor", "mset", "msetnx", "persist",
    "pexpire", "ping", "pttl", "randomkey", "rename", "save", "select", "setex", "setnx",
    "setrange", "slowlog", "strlen", "time", "ttl", "type", "unlink", "waitaof",
})
SECOND_WORDS = {
    "config": ["get", "set", "resetstat", "rewrite"],
    "autockpt": ["off", "1000", "5000", "60000"],
    "info": ["server", "clients", "memory", "persistence", "stats", "keyspace", "all"],
    "client": ["id", "info", "kill", "list", "getname", "setname"],
}


def candidates(text_before_cursor: str) -> tuple[str, list[str]]:
    """Return (the word being typed, the words that may complete it)."""
    words = text_before_cursor.split()
    if text_before_cursor and not text_before_cursor[-1].isspace():
        current, before = words[-1], words[:-1]
    else:
        current, before = "", words
    if not before:
        pool = COMMAND_WORDS
    elif len(before) == 1:
        pool = SECOND_WORDS.get(before[0].lower(), [])
    else:
        pool = []
    return current, [w for w in pool if w.startswith(current.lower())]


class CommandCompleter(Completer):
    """Completes in the case the user started typing (GET vs get)."""

    def get_completions(self, document: Document, complete_event: CompleteEvent) -> Iterator[Completion]:
        current, words = candidates(document.text_before_cursor)
        upper = current.isupper()
        for word in words:
            yield Completion(word.upper() if upper else word, start_position=-len(current))
