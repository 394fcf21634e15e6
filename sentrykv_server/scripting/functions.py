"""FUNCTION and FCALL (Redis's functions.c / function_lua.c).

A library is the code given to ``FUNCTION LOAD``: a ``#!lua name=<lib>``
header, then Lua code that runs once, with only ``redis.register_function``,
``redis.log`` and the version fields available, to register its functions.
Function names are global across libraries and compared case-insensitively,
library names are case-sensitive (both as in Redis).

Libraries are durable, as in Redis's AOF and RDB: FUNCTION LOAD, DELETE,
FLUSH and RESTORE are logged as the command itself (replaying it rebuilds the
same libraries, since registering is deterministic) and checkpoints keep the
library codes in their own snapshot section.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sentrykv_server.commands.errors import CommandError, check_subcommand, parse_int
from sentrykv_server.commands.registry import command
from sentrykv_server.protocol.reply import SetReply
from sentrykv_server.scripting import function_dump
from sentrykv_server.scripting.eval import (
    SCRIPT_FLAGS,
    SMALL_NUMKEYS,
    kill_running,
    prepare_run,
)
from sentrykv_server.scripting.runtime import get_engine
from sentrykv_server.store.glob import compile_glob

if TYPE_CHECKING:
    from sentrykv_server.protocol.connection import Client
    from sentrykv_server.server import Server

BAD_NAME = "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long"
_FUNCTION_ARITY = {
    b"help": 2, b"load": -3, b"delete": 3, b"flush": -2, b"list": -2, b"dump": 2,
    b"restore": -3, b"stats": 2, b"kill": 2,
}

FUNCTION_HELP = [
    "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "LOAD [REPLACE] <FUNCTION CODE>",
    "    Create a new library with the given library name and code.",
    "DELETE <LIBRARY NAME>",
    "    Delete the given library.",
    "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
    "    Return general information on all the libraries:",
    "    * Library name",
    "    * The engine used to run the Library",
    "    * Library description",
    "    * Functions list",
    "    * Library code (if WITHCODE is given)",
    "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
    "STATS",
    "    Return information about the current function running:",
    "    * Function name",
    "    * Command used to run the function",
    "    * Duration in MS that the function is running",
    "    If no function is running, return nil",
    "    In addition, returns a list of available engines.",
    "KILL",
    "    Kill the current running function.",
    "FLUSH [ASYNC|SYNC]",
    "    Delete all the libraries.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the libraries.",
    "    * SYNC: Synchronously flush the libraries.",
    "DUMP",
    "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
    "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
    "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
    "    control how to handle existing libraries (default APPEND):",
    "    * FLUSH: delete all existing libraries.",
    "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
    "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
    "      libraries with the new libraries (notice that even on this option there is a chance of failure",
    "      in case of functions name collision with another library).",
    "HELP",
    "    Prints this help.",
]


@dataclass(slots=True)
class Function:
    name: str
    callback: Any
    description: bytes | None
    flags: frozenset[str]


@dataclass(slots=True)
class Library:
    name: str
    code: bytes
    functions: dict[str, Function] = field(default_factory=dict)


def _valid_name(name: str) -> bool:
    return bool(name) and all(ch.isascii() and (ch.isalnum() or ch == "_") for ch in name)


def parse_metadata(code: bytes) -> tuple[str, str]:
    """functionExtractLibMetaData: (engine, library name) from the ``#!`` line."""
    if not code.startswith(b"#!"):
        raise CommandError("ERR Missing library metadata")
    end = code.find(b"\n")
    if end < 0:
        raise CommandError("ERR Invalid library metadata")
    try:
        parts = shlex.split(code[:end].decode("utf-8", "surrogateescape"))
    except ValueError:
        parts = []
    if not parts:
        raise CommandError("ERR Invalid library metadata")
    engine = parts[0][2:]
    name = None
    for part in parts[1:]:
        if part[:5].lower() == "name=":
            name = part[5:]
        else:
            raise CommandError(f"ERR Invalid metadata value given: {part}")
    if name is None:
        raise CommandError("ERR Library name was not given")
    return engine, name


class Libraries:
    """The loaded libraries and the global function namespace (functionsLibCtx)."""

    def __init__(self) -> None:
        self.libraries: dict[str, Library] = {}
        self.functions: dict[str, tuple[Library, Function]] = {}
        # FCALL's name as sent -> function: one dict probe per call (cleared on changes).
        self._by_raw: dict[bytes, tuple[Library, Function] | None] = {}

    def find(self, name: bytes) -> tuple[Library, Function] | None:
        found = self._by_raw.get(name)
        if found is None:
            found = self.functions.get(name.decode("utf-8", "surrogateescape").lower())
            if found is not None and len(self._by_raw) < 4096:
                self._by_raw[name] = found
        return found

    def codes(self) -> list[bytes]:
        return [lib.code for lib in self.libraries.values()]

    def memory(self) -> int:
        return sum(len(lib.code) + 200 + 100 * len(lib.functions) for lib in self.libraries.values())

    def compile(self, server: Server, code: bytes) -> Library:
        """Run a library's code and collect its functions (nothing is linked yet)."""
        engine_name, name = parse_metadata(code)
        if engine_name.lower() != "lua":
            raise CommandError(f"ERR Engine '{engine_name}' not found")
        if not _valid_name(name):
            raise CommandError(f"ERR {BAD_NAME}")
        library = Library(name, code)

        def register(fname: bytes, desc: bytes | None, callback: Any, flags: list[str]) -> str | None:
            text = fname.decode("utf-8", "surrogateescape")
            if not _valid_name(text):
                return BAD_NAME
            if text in library.functions:
                return "Function already exists in the library"
            library.functions[text] = Function(text, callback, desc, frozenset(flags))
            return None

        # The header line is left out but its line feed kept: error lines stay the user's.
        error = get_engine(server).load_library(code[code.find(b"\n"):], register)
        if error is not None:
            raise CommandError(f"ERR {error}")
        if not library.functions:
            raise CommandError("ERR No functions registered")
        return library

    def link(self, library: Library) -> None:
        """Function names are looked up case-insensitively; within one library two names
        that differ only in case are both kept, and the first one answers FCALL (Redis's
        dictAdd into the case-insensitive function table ignores the second)."""
        self.libraries[library.name] = library
        self._by_raw.clear()
        for name, fn in library.functions.items():
            self.functions.setdefault(name.lower(), (library, fn))

    def unlink(self, library: Library) -> None:
        del self.libraries[library.name]
        self._by_raw.clear()
        for name in library.functions:
            owner = self.functions.get(name.lower())
            if owner is not None and owner[0] is library:
                del self.functions[name.lower()]

    def add(self, library: Library, replace: bool, quoted: bool = True) -> None:
        """Link a compiled library (libraryJoin / functionsCreateWithLibraryCtx checks)."""
        old = self.libraries.get(library.name)
        if old is not None and not replace:
            shown = f"'{library.name}'" if quoted else library.name
            raise CommandError(f"ERR Library {shown} already exists")
        for name, fn in library.functions.items():
            owner = self.functions.get(name.lower())
            if owner is not None and owner[0] is not old:
                raise CommandError(f"ERR Function {fn.name} already exists")
        if old is not None:
            self.unlink(old)
        self.link(library)


def libraries(server: Server) -> Libraries:
    libs: Libraries | None = server.functions
    if libs is None:
        libs = server.functions = Libraries()
    return libs


def load_codes(server: Server, codes: list[bytes]) -> None:
    """Recreate libraries from a snapshot (each code as FUNCTION LOAD would)."""
    libs = server.functions = Libraries()
    for code in codes:
        libs.add(libs.compile(server, code), replace=False)


def _propagate(c: Client, argv: list[bytes]) -> None:
    c.server.propagate(c.db.id, list(argv))


@command("function", -2, "", group="scripting", since="7.0.0")
def function_cmd(c: Client, argv: list[bytes]) -> Any:
    """Manage function libraries."""
    sub = check_subcommand(argv, _FUNCTION_ARITY, "function")
    handler = _SUBCOMMANDS[sub]
    return handler(c, argv)


def _help(c: Client, argv: list[bytes]) -> Any:
    return FUNCTION_HELP


def _load(c: Client, argv: list[bytes]) -> Any:
    replace = False
    rest = argv[2:]
    while len(rest) > 1:
        if rest[0].lower() == b"replace":
            replace = True
            rest = rest[1:]
        else:
            raise CommandError(f"ERR Unknown option given: {rest[0].decode('utf-8', 'replace')}")
    libs = libraries(c.server)
    code = rest[0]
    engine_name, name = parse_metadata(code)
    if engine_name.lower() != "lua":
        raise CommandError(f"ERR Engine '{engine_name}' not found")
    if not _valid_name(name):
        raise CommandError(f"ERR {BAD_NAME}")
    if name in libs.libraries and not replace:
        raise CommandError(f"ERR Library '{name}' already exists")
    library = libs.compile(c.server, code)
    libs.add(library, replace)
    _propagate(c, argv)
    return library.name.encode()


def _delete(c: Client, argv: list[bytes]) -> Any:
    libs = libraries(c.server)
    library = libs.libraries.get(argv[2].decode("utf-8", "surrogateescape"))
    if library is None:
        raise CommandError("ERR Library not found")
    libs.unlink(library)
    _propagate(c, argv)
    return "OK"


def _flush(c: Client, argv: list[bytes]) -> Any:
    if len(argv) > 3 or (len(argv) == 3 and argv[2].lower() not in (b"sync", b"async")):
        raise CommandError("ERR FUNCTION FLUSH only supports SYNC|ASYNC option")
    c.server.functions = Libraries()
    _propagate(c, argv)
    return "OK"


def _list(c: Client, argv: list[bytes]) -> Any:
    with_code = False
    pattern: bytes | None = None
    i = 2
    while i < len(argv):
        arg = argv[i]
        if not with_code and arg.lower() == b"withcode":
            with_code = True
        elif pattern is None and arg.lower() == b"libraryname":
            if i >= len(argv) - 1:
                raise CommandError("ERR library name argument was not given")
            i += 1
            pattern = argv[i]
        else:
            raise CommandError(f"ERR Unknown argument {arg.decode('utf-8', 'replace')}")
        i += 1
    match = compile_glob(pattern, True) if pattern is not None else None
    out = []
    for library in libraries(c.server).libraries.values():
        if match is not None and not match(library.name.encode()):
            continue
        entry: dict[bytes, Any] = {
            b"library_name": library.name.encode(),
            b"engine": b"LUA",
            b"functions": [
                {
                    b"name": fn.name.encode(),
                    b"description": fn.description,
                    b"flags": SetReply(f for f in SCRIPT_FLAGS if f in fn.flags),
                }
                for fn in library.functions.values()
            ],
        }
        if with_code:
            entry[b"library_code"] = library.code
        out.append(entry)
    return out


def _dump(c: Client, argv: list[bytes]) -> Any:
    return function_dump.dump(libraries(c.server).codes())


def _restore(c: Client, argv: list[bytes]) -> Any:
    if len(argv) > 4:
        raise CommandError(
            f"ERR unknown subcommand or wrong number of arguments for '{argv[1].decode('utf-8', 'replace')}'. "
            "Try FUNCTION HELP."
        )
    policy = argv[3].lower() if len(argv) == 4 else b"append"
    if policy not in (b"flush", b"append", b"replace"):
        raise CommandError("ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.")
    try:
        codes = function_dump.load(argv[2])
    except function_dump.PayloadError as exc:
        raise CommandError(f"ERR {exc}") from None
    server = c.server
    staged = Libraries()
    for code in codes:
        staged.add(staged.compile(server, code), replace=False)
    if policy == b"flush":
        server.functions = staged
    else:
        current = libraries(server)
        trial = Libraries()
        for lib in current.libraries.values():
            trial.link(lib)
        for lib in staged.libraries.values():
            trial.add(lib, policy == b"replace", quoted=False)
        server.functions = trial
    _propagate(c, argv)
    return "OK"


def _stats(c: Client, argv: list[bytes]) -> Any:
    from sentrykv_server.dispatch import busy_error

    engine = c.server.lua_engine
    ctx = engine.ctx if engine is not None else None
    if ctx is not None and ctx.eval_mode:
        raise CommandError(busy_error(True))
    running = None
    if ctx is not None:
        running = {b"name": ctx.name.encode(), b"command": list(ctx.command), b"duration_ms": ctx.elapsed_ms}
    libs = libraries(c.server)
    return {
        b"running_script": running,
        b"engines": {b"LUA": {b"libraries_count": len(libs.libraries), b"functions_count": len(libs.functions)}},
    }


def _kill(c: Client, argv: list[bytes]) -> Any:
    return kill_running(c, False)


_SUBCOMMANDS = {
    b"help": _help, b"load": _load, b"delete": _delete, b"flush": _flush, b"list": _list,
    b"dump": _dump, b"restore": _restore, b"stats": _stats, b"kill": _kill,
}


def _fcall(c: Client, argv: list[bytes], read_only: bool) -> Any:
    server = c.server
    if server.monitors:
        server.feed_monitors(c, argv)
    found = libraries(server).find(argv[1])
    if found is None:
        raise CommandError("ERR Function not found")
    _library, fn = found
    numkeys = SMALL_NUMKEYS.get(argv[2])
    if numkeys is None:
        numkeys = parse_int(argv[2], "ERR Bad number of keys provided")
    if numkeys > len(argv) - 3:
        raise CommandError("ERR Number of keys can't be greater than number of args")
    if numkeys < 0:
        raise CommandError("ERR Number of keys can't be negative")
    ro = prepare_run(c, fn.flags, read_only)
    engine = get_engine(server)
    ctx = engine.new_ctx(c, fn.name, False, ro, "allow-oom" in fn.flags, argv)
    return engine.run(ctx, fn.callback, numkeys, argv[3:])


_FCALL_FLAGS = "noscript stale skip_monitor no_mandatory_keys movablekeys"


@command("fcall", -3, _FCALL_FLAGS, group="scripting", since="7.0.0")
def fcall_cmd(c: Client, argv: list[bytes]) -> Any:
    """Invoke a function.

    The common case in one frame: a known function, a small numkeys, no MONITOR and no
    server-wide gate (``Server.gated``: disk error, maxmemory, replication, busy script),
    so that prepare_run has nothing to refuse; anything else takes :func:`_fcall`."""
    server = c.server
    libs = server.functions
    engine = server.lua_engine
    found = libs._by_raw.get(argv[1]) if libs is not None else None
    numkeys = SMALL_NUMKEYS.get(argv[2])
    if (found is None or engine is None or numkeys is None or numkeys > len(argv) - 3
            or server.monitors or server.gated):
        return _fcall(c, argv, False)
    fn = found[1]
    read_only = "no-writes" in fn.flags
    ctx = engine.spare
    if ctx is None:
        ctx = engine.new_ctx(c, fn.name, False, read_only, "allow-oom" in fn.flags, argv)
    else:
        engine.spare = None
        ctx.reset(c, fn.name, False, read_only, "allow-oom" in fn.flags, argv)
    return engine.run(ctx, fn.callback, numkeys, argv[3:])


@command("fcall_ro", -3, _FCALL_FLAGS, group="scripting", since="7.0.0")
def fcall_ro_cmd(c: Client, argv: list[bytes]) -> Any:
    """Invoke a read-only function."""
    return _fcall(c, argv, True)


def function_counts(server: Server) -> tuple[int, int, int]:
    """(libraries, functions, memory) for INFO."""
    libs: Libraries | None = server.functions
    if libs is None:
        return 0, 0, 0
    return len(libs.libraries), len(libs.functions), libs.memory()
