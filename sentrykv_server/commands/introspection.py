"""COMMAND: the command table as clients see it (redis-cli builds its hints from DOCS)."""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from sentrykv_server.commands.errors import CommandError, syntax_error, unknown_subcommand
from sentrykv_server.commands.registry import COMMANDS, Command, command, lookup
from sentrykv_server.protocol.reply import SetReply
from sentrykv_server.store.glob import compile_glob

if TYPE_CHECKING:
    from sentrykv_server.protocol.connection import Client

_CATEGORY = {
    "string": "@string", "generic": "@keyspace", "hash": "@hash", "list": "@list", "set": "@set",
    "sorted_set": "@sortedset", "pubsub": "@pubsub", "transactions": "@transaction",
    "connection": "@connection", "server": "@admin", "scripting": "@scripting",
}


@lru_cache(maxsize=1)
def _published_docs() -> dict[str, Any]:
    """Argument specs Redis publishes for its commands (captured by scripts/capture_command_docs.py)."""
    text = resources.files("sentrykv_server.commands").joinpath("command_docs.json").read_text()
    docs: dict[str, Any] = json.loads(text)
    return docs


def _categories(cmd: Command) -> SetReply:
    cats = []
    if cmd.is_write:
        cats.append(b"@write")
    if "readonly" in cmd.flags:
        cats.append(b"@read")
    if "fast" in cmd.flags:
        cats.append(b"@fast")
    else:
        cats.append(b"@slow")
    if "admin" in cmd.flags:
        cats += [b"@admin", b"@dangerous"]
    cat = _CATEGORY.get(cmd.group)
    if cat and cat.encode() not in cats:
        cats.append(cat.encode())
    return SetReply(cats)


def command_info(cmd: Command) -> list[Any]:
    key_specs: list[Any] = []
    if cmd.first_key > 0:
        key_specs.append({
            b"flags": SetReply([b"RW" if cmd.is_write else b"RO"]),
            b"begin_search": {b"type": b"index", b"spec": {b"index": cmd.first_key}},
            b"find_keys": {b"type": b"range", b"spec": {
                b"lastkey": cmd.last_key - cmd.first_key if cmd.last_key >= 0 else cmd.last_key,
                b"keystep": cmd.step, b"limit": 0}},
        })
    return [
        cmd.full_name.encode(),
        cmd.arity,
        SetReply(sorted(f.encode() for f in cmd.flags)),
        cmd.first_key,
        cmd.last_key,
        cmd.step,
        _categories(cmd),
        [],
        key_specs,
        [command_info(sub) for sub in cmd.subcommands.values()],
    ]


def command_docs(cmd: Command) -> dict[bytes, Any]:
    published = _published_docs().get(cmd.full_name, {})
    doc: dict[bytes, Any] = {
        b"summary": (published.get("summary") or cmd.summary).encode(),
        b"since": (published.get("since") or cmd.since).encode(),
        b"group": (published.get("group") or cmd.group).encode(),
    }
    if published.get("complexity") or cmd.complexity:
        doc[b"complexity"] = (published.get("complexity") or cmd.complexity).encode()
    if "arguments" in published:
        doc[b"arguments"] = _to_reply(published["arguments"])
    subs = published.get("subcommands")
    if subs:
        doc[b"subcommands"] = {name.encode(): _to_reply(body) for name, body in subs.items()}
    return doc


def _to_reply(value: Any) -> Any:
    """JSON specs back to Redis's reply types; flag lists are sets of status replies."""
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, dict):
        return {
            k.encode(): SetReply([str(f) for f in v]) if k in ("flags", "doc_flags") else _to_reply(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_to_reply(v) for v in value]
    return value


_HELP = [
    "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "(no subcommand)", "    Return details about all Redis commands.",
    "COUNT", "    Return the total number of commands in this Redis server.",
    "LIST", "    Return a list of all commands in this Redis server.",
    "INFO [<command-name> ...]",
    "    Return details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "DOCS [<command-name> ...]",
    "    Return documentation details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "GETKEYS <full-command>", "    Return the keys from a full Redis command.",
    "GETKEYSANDFLAGS <full-command>", "    Return the keys and the access flags from a full Redis command.",
    "HELP", "    Print this help.",
]


@command("command", -1, "loading stale", group="server", since="2.8.13")
def command_cmd(c: Client, argv: list[bytes]) -> Any:
    """Describe the command table."""
    if len(argv) == 1:
        return [command_info(cmd) for cmd in COMMANDS.values()]
    sub = argv[1].lower()
    if sub == b"count" and len(argv) == 2:
        return len(COMMANDS)
    if sub == b"help" and len(argv) == 2:
        return _HELP
    if sub == b"info":
        if len(argv) == 2:
            return [command_info(cmd) for cmd in COMMANDS.values()]
        return [command_info(cmd) if (cmd := _find(name)) else None for name in argv[2:]]
    if sub == b"docs":
        names = argv[2:] or [n.encode() for n in COMMANDS]
        out: dict[bytes, Any] = {}
        for name in names:
            cmd = _find(name)
            if cmd is not None:
                out[cmd.full_name.encode()] = command_docs(cmd)
        return out
    if sub == b"list":
        return _list(argv)
    if sub in (b"getkeys", b"getkeysandflags"):
        if len(argv) < 3:
            raise CommandError(f"ERR wrong number of arguments for 'command|{sub.decode()}' command")
        target = lookup(argv[2])
        if target is None:
            raise CommandError("ERR Invalid command specified")
        rest = argv[2:]
        if (target.arity > 0 and len(rest) != target.arity) or len(rest) < -target.arity:
            raise CommandError("ERR Invalid number of arguments specified for command")
        positions = target.key_positions(rest)
        if not positions:
            raise CommandError("ERR The command has no key arguments")
        if sub == b"getkeys":
            return [rest[i] for i in positions]
        flag = [b"RW", b"UPDATE"] if target.is_write else [b"RO", b"ACCESS"]
        return [[rest[i], SetReply(flag)] for i in positions]
    raise unknown_subcommand(argv[1], "COMMAND")


def _find(name: bytes) -> Command | None:
    text = name.decode("utf-8", "replace").lower()
    if "|" in text:
        parent, _, child = text.partition("|")
        owner = COMMANDS.get(parent)
        return owner.subcommands.get(child) if owner else None
    return COMMANDS.get(text)


def _list(argv: list[bytes]) -> Any:
    names = list(COMMANDS)
    if len(argv) == 2:
        return [n.encode() for n in names]
    if len(argv) != 5 or argv[2].lower() != b"filterby":
        raise syntax_error()
    kind, arg = argv[3].lower(), argv[4]
    if kind == b"pattern":
        match = compile_glob(arg.lower(), True)
        return [n.encode() for n in names if match(n.encode())]
    if kind == b"aclcat":
        cat = b"@" + arg.lower().lstrip(b"@")
        return [n.encode() for n in names if cat in _categories(COMMANDS[n])]
    if kind == b"module":
        return []
    raise syntax_error()
