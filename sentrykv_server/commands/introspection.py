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


@lru_cache(maxsize=1)
def _published_info() -> dict[str, Any]:
    """Flags, ACL categories, tips and key specs of Redis 7.0's commands, as COMMAND INFO
    reports them (captured by scripts/capture_command_info.py from a reference redis-server)."""
    text = resources.files("sentrykv_server.commands").joinpath("command_info.json").read_text()
    info: dict[str, Any] = json.loads(text)
    return info


def _published_entry(cmd: Command) -> dict[str, Any] | None:
    table = _published_info()
    if cmd.parent is None:
        return table.get(cmd.name)
    parent: dict[str, Any] = table.get(cmd.parent.name, {})
    sub: dict[str, Any] | None = parent.get("subcommands", {}).get(cmd.name)
    return sub


def _categories(cmd: Command) -> SetReply:
    """For commands Redis does not have: categories derived from the flags and group."""
    cats = []
    if cmd.is_write:
        cats.append("@write")
    if "readonly" in cmd.flags:
        cats.append("@read")
    cats.append("@fast" if "fast" in cmd.flags else "@slow")
    if "admin" in cmd.flags:
        cats += ["@admin", "@dangerous"]
    cat = _CATEGORY.get(cmd.group)
    if cat and cat not in cats:
        cats.append(cat)
    return SetReply(cats)


def _published_reply(full_name: str, entry: dict[str, Any]) -> list[Any]:
    """A COMMAND INFO entry straight from the published table (subcommands SentryKV runs
    through their parent's handler, e.g. CONFIG GET)."""
    return [
        full_name.encode(), entry["arity"], SetReply(entry["flags"]), entry["first_key"], entry["last_key"],
        entry["step"], SetReply(entry["acl_categories"]), [t.encode() for t in entry["tips"]],
        _to_reply(entry["key_specifications"]),
        [_published_reply(f"{full_name}|{name}", sub) for name, sub in entry["subcommands"].items()],
    ]


def command_info(cmd: Command) -> list[Any]:
    """COMMAND INFO: arity and key positions from the table; flags, categories, tips and key
    specs as Redis publishes them for the same command (derived for SentryKV's own)."""
    published = _published_entry(cmd)
    subs = [command_info(sub) for sub in cmd.subcommands.values()]
    if published is not None:
        subs += [_published_reply(f"{cmd.full_name}|{name}", sub)
                 for name, sub in published["subcommands"].items() if name not in cmd.subcommands]
        keys = (cmd.first_key, cmd.last_key, cmd.step)
        if published["subcommands"]:  # a container (OBJECT): Redis gives key positions per subcommand
            keys = (published["first_key"], published["last_key"], published["step"])
        return [
            cmd.full_name.encode(), cmd.arity, SetReply(published["flags"]), *keys,
            SetReply(published["acl_categories"]), [t.encode() for t in published["tips"]],
            _to_reply(published["key_specifications"]), subs,
        ]
    key_specs: list[Any] = []
    if cmd.first_key > 0:
        key_specs.append({
            b"flags": SetReply(["RW" if cmd.is_write else "RO"]),
            b"begin_search": {b"type": b"index", b"spec": {b"index": cmd.first_key}},
            b"find_keys": {b"type": b"range", b"spec": {
                b"lastkey": cmd.last_key - cmd.first_key if cmd.last_key >= 0 else cmd.last_key,
                b"keystep": cmd.step, b"limit": 0}},
        })
    return [
        cmd.full_name.encode(), cmd.arity, SetReply(sorted(cmd.flags)), cmd.first_key, cmd.last_key,
        cmd.step, _categories(cmd), [], key_specs, subs,
    ]


def _info_by_name(name: bytes) -> list[Any] | None:
    cmd = _find(name)
    if cmd is not None:
        return command_info(cmd)
    parent, _, child = name.decode("utf-8", "replace").lower().partition("|")
    sub = _published_info().get(parent, {}).get("subcommands", {}).get(child)
    if child and parent in COMMANDS and sub is not None:
        return _published_reply(f"{parent}|{child}", sub)
    return None


def command_docs(cmd: Command) -> dict[bytes, Any]:
    published = _published_docs().get(cmd.full_name, {})
    doc: dict[bytes, Any] = {
        b"summary": (published.get("summary") or cmd.summary).encode(),
        b"since": (published.get("since") or cmd.since).encode(),
        b"group": (published.get("group") or cmd.group).encode(),
    }
    if published.get("complexity") or cmd.complexity:
        doc[b"complexity"] = (published.get("complexity") or cmd.complexity).encode()
    # The optional fields in the order Redis's addReplyCommandDocs writes them.
    if published.get("doc_flags"):
        doc[b"doc_flags"] = SetReply([str(f) for f in published["doc_flags"]])
    for field in ("deprecated_since", "replaced_by"):
        if published.get(field):
            doc[field.encode()] = _to_reply(published[field])
    if published.get("history"):
        # addReplyCommandHistory sends a set of [version, change] pairs.
        doc[b"history"] = SetReply([_to_reply(entry) for entry in published["history"]])
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


# Redis 7.0's arities of the COMMAND subcommands (checked before the subcommand runs).
_SUB_ARITY = {b"count": 2, b"help": 2, b"list": -2, b"info": -2, b"docs": -2,
              b"getkeys": -4, b"getkeysandflags": -4}


@command("command", -1, "loading stale", group="server", since="2.8.13")
def command_cmd(c: Client, argv: list[bytes]) -> Any:
    """Describe the command table."""
    if len(argv) == 1:
        return [command_info(cmd) for cmd in COMMANDS.values()]
    sub = argv[1].lower()
    arity = _SUB_ARITY.get(sub)
    if arity is not None and ((arity > 0 and len(argv) != arity) or len(argv) < -arity):
        raise CommandError(f"ERR wrong number of arguments for 'command|{sub.decode()}' command")
    if sub == b"count" and len(argv) == 2:
        return len(COMMANDS)
    if sub == b"help" and len(argv) == 2:
        return _HELP
    if sub == b"info":
        if len(argv) == 2:
            return [command_info(cmd) for cmd in COMMANDS.values()]
        return [_info_by_name(name) for name in argv[2:]]
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
        match = compile_glob(arg, True)
        return [n.encode() for n in names if match(n.encode())]
    if kind == b"aclcat":
        cat = "@" + arg.decode("utf-8", "replace").lower()  # "@string" matches nothing, as in Redis
        return [n.encode() for n in names if cat in command_info(COMMANDS[n])[6]]
    if kind == b"module":
        return []
    raise syntax_error()
