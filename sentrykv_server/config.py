"""One Config object: every directive, its type, default, and how it may change.

Sources are applied in redis-server's order: defaults < config file <
command-line ``--directive value`` pairs; ``CONFIG SET`` changes values at run
time (all-or-nothing across several pairs, like Redis 7).  Parameters Redis
7.0 knows but SentryKV has no use for are accepted and reported from
:mod:`sentrykv_server.redis_params`, so tools that tune them keep working.

Directives that name files (``dir``, ``logfile``, ...) are *protected*: CONFIG
SET refuses them unless ``enable-protected-configs yes`` — the classic attack
of pointing ``dir`` somewhere and saving a crafted file there.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sentrykv_server.redis_params import REDIS7_DEFAULTS

_UNITS = {
    "k": 1000, "kb": 1024, "m": 1000**2, "mb": 1024**2, "g": 1000**3, "gb": 1024**3,
}


class ConfigError(ValueError):
    """A directive or value that cannot be accepted; ``str()`` is Redis's reason text."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(reason)
        self.name = name
        self.reason = reason


def parse_memory(text: str) -> int:
    """Redis's memtoull: a number with an optional k/kb/m/mb/g/gb suffix."""
    low = text.strip().lower()
    for suffix in ("kb", "mb", "gb", "k", "m", "g"):
        if low.endswith(suffix):
            number = low[: -len(suffix)]
            if not number.lstrip("-").isdigit():
                raise ValueError(text)
            return int(number) * _UNITS[suffix]
    if not low.lstrip("-").isdigit():
        raise ValueError(text)
    return int(low)


def _strict_int(text: str) -> int:
    """string2ll: digits with an optional '-', within 64 bits (no '+', spaces or '_')."""
    digits = text[1:] if text.startswith("-") else text
    if not digits.isdigit() or not digits.isascii():
        raise ValueError(text)
    value = int(text)
    if not -(1 << 63) <= value < (1 << 63):
        raise ValueError(text)
    return value


@dataclass(frozen=True)
class Directive:
    """How one directive is parsed, validated and shown."""

    name: str
    kind: str  # int | bool | enum | flags | string | path | events (notify-keyspace-events)
    default: str
    mutable: bool = True
    protected: bool = False
    choices: tuple[str, ...] = ()
    minimum: int | None = None
    maximum: int | None = None
    memory: bool = False
    sensitive: bool = False
    clamp: tuple[int, int] | None = None  # accepted range wider than the one applied
    # A parser of its own (returns the stored value or raises ConfigError), for values
    # with a syntax of their own such as "5%".
    parse: Callable[[str], Any] | None = None

    def convert(self, raw: str) -> Any:
        if self.parse is not None:
            return self.parse(raw)
        if self.kind == "bool":
            low = raw.lower()
            if low not in ("yes", "no"):
                raise ConfigError(self.name, "argument must be 'yes' or 'no'")
            return low == "yes"
        if self.kind == "int":
            raw = raw.split("\0", 1)[0]  # Redis parses numbers from the C string
            try:
                value = (parse_memory(raw) if raw else 0) if self.memory else _strict_int(raw)  # memtoull("") is 0
                if self.memory and value < 0:  # memtoull has no sign
                    raise ValueError(raw)
            except ValueError:
                reason = "argument must be a memory value" if self.memory else "argument couldn't be parsed into an integer"
                raise ConfigError(self.name, reason) from None
            if (self.minimum is not None and value < self.minimum) or (
                self.maximum is not None and value > self.maximum
            ):
                raise ConfigError(
                    self.name,
                    f"argument must be between {self.minimum} and {self.maximum} inclusive",
                )
            if self.clamp is not None:
                value = min(max(value, self.clamp[0]), self.clamp[1])
            return value
        if self.kind == "events":
            from sentrykv_server.notify import parse_flags

            try:
                return parse_flags(raw)
            except ValueError as exc:
                raise ConfigError(self.name, str(exc)) from None
        if self.kind == "flags":  # shutdown-on-sig*: the only multi-flag directives so far
            from sentrykv_server.shutdown import parse_signal_flags

            try:
                return parse_signal_flags(raw)
            except ValueError as exc:
                raise ConfigError(self.name, str(exc)) from None
        if self.kind == "enum":
            low = raw.lower()
            if low not in self.choices:
                raise ConfigError(
                    self.name,
                    "argument(s) must be one of the following: " + ", ".join(self.choices),
                )
            return low
        return raw

    def default_value(self) -> Any:
        return self.convert(self.default)

    def show(self, value: Any) -> str:
        if self.kind == "bool":
            return "yes" if value else "no"
        if self.kind == "events":
            from sentrykv_server.notify import format_flags

            return format_flags(value)
        if self.kind == "flags":
            from sentrykv_server.shutdown import show_signal_flags

            return show_signal_flags(value)
        return str(value)


_BIG = (1 << 63) - 1


def _unsigned_memory(text: str) -> int:
    """memtoull: a size with an optional unit; -1 when it is not one (or negative)."""
    try:
        return max(parse_memory(text), -1)
    except ValueError:
        return -1


def _memory_value(name: str) -> Callable[[str], int]:
    """A memory directive Redis parses with memtoull: no sign, "argument must be a memory value"."""

    def parse(raw: str) -> int:
        value = _unsigned_memory(raw)
        if value < 0:
            raise ConfigError(name, "argument must be a memory value")
        return value

    return parse


def _memory_or_percent(name: str) -> Callable[[str], str]:
    """maxmemory-clients: bytes, or a percentage of maxmemory ("5%"); stored normalised."""

    def parse(raw: str) -> str:
        text = raw.strip()
        if text.endswith("%"):
            digits = text[:-1]
            if not digits.isdigit():
                raise ConfigError(name, "argument must be a memory or percent value")
            if int(digits) > 100:
                raise ConfigError(name, "percentage argument must be less or equal to 100")
            return f"{int(digits)}%"
        value = _unsigned_memory(text)
        if value < 0:
            raise ConfigError(name, "argument must be a memory or percent value")
        return str(value)

    return parse

_INT_MAX = (1 << 31) - 1  # Redis declares these as C int / unsigned int configs
_UINT_MAX = (1 << 32) - 1

DIRECTIVES: dict[str, Directive] = {
    d.name: d
    for d in [
        Directive("bind", "string", "127.0.0.1", mutable=False),
        Directive("port", "int", "6379", mutable=False, minimum=0, maximum=65535),
        Directive("dir", "path", "./data", protected=True),
        Directive("requirepass", "string", "", sensitive=True),
        Directive("maxclients", "int", "10000", minimum=1, maximum=_UINT_MAX),
        Directive("timeout", "int", "0", minimum=0, maximum=_INT_MAX),
        Directive("databases", "int", "16", mutable=False, minimum=1, maximum=1 << 31),
        Directive("loglevel", "enum", "notice", choices=("debug", "verbose", "notice", "warning", "nothing")),
        Directive("logfile", "path", "", mutable=False, protected=True),
        Directive("proto-max-bulk-len", "int", "536870912", minimum=1024 * 1024, maximum=_BIG, memory=True),
        Directive("client-query-buffer-limit", "int", "1073741824", minimum=1024 * 1024, maximum=_BIG, memory=True),
        Directive("appendonly", "bool", "yes"),
        Directive("appendfsync", "enum", "everysec", choices=("everysec", "always", "no")),
        Directive("appendfilename", "string", "appendonly.aof", mutable=False),
        Directive("appenddirname", "string", "appendonlydir", mutable=False),
        Directive("enable-protected-configs", "enum", "no", mutable=False, choices=("no", "yes", "local")),
        Directive("enable-debug-command", "enum", "no", mutable=False, choices=("no", "yes", "local")),
        Directive("enable-module-command", "enum", "no", mutable=False, choices=("no", "yes", "local")),
        Directive("aclfile", "path", "", mutable=False),
        Directive("acllog-max-len", "int", "128", minimum=0, maximum=_BIG),
        Directive("acl-pubsub-default", "enum", "resetchannels", choices=("allchannels", "resetchannels")),
        # Redis accepts 0..INT_MAX and runs (and reports) it clamped to 1..500.
        Directive("hz", "int", "10", minimum=0, maximum=_INT_MAX, clamp=(1, 500)),
        Directive("slowlog-log-slower-than", "int", "10000", minimum=-1, maximum=_BIG),
        Directive("busy-reply-threshold", "int", "5000", minimum=0, maximum=_BIG),
        Directive("slowlog-max-len", "int", "128", minimum=0, maximum=_BIG),
        Directive("latency-monitor-threshold", "int", "0", minimum=0, maximum=_BIG),
        Directive("client-output-buffer-limit", "string",
                  "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"),
        Directive("pidfile", "path", "", mutable=False, protected=True),
        Directive("dbfilename", "path", "dump.rdb", protected=True),
        Directive("save", "string", ""),
        Directive("daemonize", "bool", "no", mutable=False),
        Directive("protected-mode", "bool", "yes"),
        Directive("tcp-keepalive", "int", "300", minimum=0, maximum=_INT_MAX),
        Directive("tcp-backlog", "int", "511", mutable=False, minimum=0, maximum=_BIG),
        # SentryKV's own persistence directives.
        Directive("wal-segment-size", "int", "64mb", minimum=4096, maximum=_BIG, memory=True),
        Directive("wal-max-pending", "int", "256mb", minimum=1024 * 1024, maximum=_BIG, memory=True),
        Directive("checkpoint-interval-ms", "int", "0", minimum=0, maximum=_BIG),
        Directive("auto-aof-rewrite-percentage", "int", "100", minimum=0, maximum=_INT_MAX),
        Directive("auto-aof-rewrite-min-size", "int", "64mb", minimum=0, maximum=_BIG, memory=True),
        # Encoding limits (Redis's size_t / int configs, with their ranges and kinds).
        Directive("hash-max-listpack-entries", "int", "512", minimum=0, maximum=_BIG),
        Directive("hash-max-listpack-value", "int", "64", minimum=0, maximum=_BIG, memory=True),
        Directive("zset-max-listpack-entries", "int", "128", minimum=0, maximum=_BIG),
        Directive("zset-max-listpack-value", "int", "64", minimum=0, maximum=_BIG, memory=True),
        Directive("set-max-intset-entries", "int", "512", minimum=0, maximum=_BIG),
        Directive("list-max-listpack-size", "int", "-2", minimum=-(1 << 31), maximum=_INT_MAX),
        Directive("list-compress-depth", "int", "0", minimum=0, maximum=_INT_MAX),
        Directive("shutdown-checkpoint", "bool", "no"),
        Directive("shutdown-timeout", "int", "10", minimum=0, maximum=_INT_MAX),
        Directive("shutdown-on-sigint", "flags", "default"),
        Directive("shutdown-on-sigterm", "flags", "default"),
        Directive("tls-port", "int", "0", mutable=False, minimum=0, maximum=65535),
        Directive("tls-cert-file", "path", "", mutable=False, protected=True),
        Directive("tls-key-file", "path", "", mutable=False, protected=True),
        Directive("tls-ca-cert-file", "path", "", mutable=False, protected=True),
        Directive("tls-auth-clients", "enum", "yes", mutable=False, choices=("yes", "no", "optional")),
        Directive("metrics-port", "int", "0", mutable=False, minimum=0, maximum=65535),
        # maxmemory and eviction (see eviction.py); choices in Redis's order (its error lists them).
        Directive("maxmemory", "int", "0", memory=True, parse=_memory_value("maxmemory")),
        Directive("maxmemory-policy", "enum", "noeviction", choices=(
            "volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl",
            "allkeys-lru", "allkeys-lfu", "allkeys-random", "noeviction")),
        Directive("maxmemory-samples", "int", "5", minimum=1, maximum=_INT_MAX),
        Directive("maxmemory-eviction-tenacity", "int", "10", minimum=0, maximum=100),
        Directive("maxmemory-clients", "string", "0", parse=_memory_or_percent("maxmemory-clients")),
        Directive("lfu-log-factor", "int", "10", minimum=0, maximum=_INT_MAX),
        Directive("lfu-decay-time", "int", "1", minimum=0, maximum=_INT_MAX),
        Directive("notify-keyspace-events", "events", ""),
        Directive("tracking-table-max-keys", "int", "1000000", minimum=0, maximum=_BIG),
        # Replication (replication/), with Redis 7.0's ranges.
        Directive("replicaof", "string", "", mutable=False),
        Directive("masterauth", "string", "", sensitive=True),
        Directive("masteruser", "string", ""),
        Directive("repl-backlog-size", "int", "1048576", minimum=1, maximum=_BIG, memory=True),
        Directive("repl-backlog-ttl", "int", "3600", minimum=0, maximum=_INT_MAX),
        Directive("repl-timeout", "int", "60", minimum=1, maximum=_INT_MAX),
        Directive("repl-ping-replica-period", "int", "10", minimum=1, maximum=_INT_MAX),
        Directive("replica-read-only", "bool", "yes"),
        Directive("replica-serve-stale-data", "bool", "yes"),
        Directive("replica-priority", "int", "100", minimum=0, maximum=_INT_MAX),
        Directive("replica-announce-ip", "string", ""),
        Directive("replica-announce-port", "int", "0", minimum=0, maximum=65535),
        Directive("replica-announced", "bool", "yes"),
        Directive("min-replicas-to-write", "int", "0", minimum=0, maximum=_INT_MAX),
        Directive("min-replicas-max-lag", "int", "10", minimum=0, maximum=_INT_MAX),
    ]
}

# Redis's old names that still work, e.g. the ziplist spellings of listpack limits.
ALIASES = {
    "hash-max-ziplist-entries": "hash-max-listpack-entries",
    "hash-max-ziplist-value": "hash-max-listpack-value",
    "zset-max-ziplist-entries": "zset-max-listpack-entries",
    "zset-max-ziplist-value": "zset-max-listpack-value",
    "list-max-ziplist-size": "list-max-listpack-size",
    "slaveof": "replicaof",
    "slave-read-only": "replica-read-only",
    "slave-serve-stale-data": "replica-serve-stale-data",
    "slave-priority": "replica-priority",
    "slave-announce-ip": "replica-announce-ip",
    "slave-announce-port": "replica-announce-port",
    "repl-ping-slave-period": "repl-ping-replica-period",
    "min-slaves-to-write": "min-replicas-to-write",
    "min-slaves-max-lag": "min-replicas-max-lag",
    "slave-lazy-flush": "replica-lazy-flush",
    "slave-ignore-maxmemory": "replica-ignore-maxmemory",
    "autockpt": "checkpoint-interval-ms",
    "lua-time-limit": "busy-reply-threshold",
}


def _generic_directive(name: str, default: str) -> Directive:
    """A Redis parameter SentryKV only stores: its type is inferred from its default."""
    if default in ("yes", "no"):
        return Directive(name, "bool", default)
    try:
        number = int(default)
        return Directive(name, "int", default, memory=number >= 0)
    except ValueError:
        return Directive(name, "string", default)


for _name, _default in REDIS7_DEFAULTS.items():
    if _name not in DIRECTIVES and _name not in ALIASES:
        DIRECTIVES[_name] = _generic_directive(_name, _default)


class Config:
    """The live configuration.  Attribute access uses underscores: ``config.appendfsync``."""

    def __init__(self) -> None:
        self._values: dict[str, Any] = {}
        self.config_file: str | None = None
        self.listeners: dict[str, list[Callable[[Any], None]]] = {}
        # ``user`` directives (each: name, rules...) and ``rename-command`` pairs, in order.
        self.acl_users: list[list[str]] = []
        self.renamed_commands: list[tuple[str, str]] = []
        # CONFIG REWRITE asks this for the current ``user`` lines (the ACL sets it).
        self.user_lines: Callable[[], list[str]] | None = None
        for d in DIRECTIVES.values():
            self._values[d.name] = d.default_value()

    # -- access --------------------------------------------------------------------------
    def __getattr__(self, attr: str) -> Any:
        try:
            return self.__dict__["_values"][attr.replace("_", "-")]
        except KeyError:
            raise AttributeError(attr) from None

    def get(self, name: str) -> Any:
        return self._values[self.canonical(name)]

    def value(self, canonical_name: str) -> Any:
        """The value of a directive named canonically (lower case, no alias): hot paths."""
        return self._values[canonical_name]

    @staticmethod
    def canonical(name: str) -> str:
        low = name.lower()
        return ALIASES.get(low, low)

    def show(self, name: str) -> str:
        name = self.canonical(name)
        d = DIRECTIVES[name]
        value = self._values[name]
        if name == "dir":
            return os.path.abspath(value)
        return d.show(value)

    def matching(self, pattern: str) -> list[tuple[str, str]]:
        """CONFIG GET: (name, shown value) for every directive or alias matching the glob."""
        from sentrykv_server.store.glob import compile_glob

        pat = pattern.lower()
        out = []
        if not any(ch in pat for ch in "*?["):
            name = ALIASES.get(pat, pat)
            if name in DIRECTIVES:
                return [(pat, self.show(name))]
            return []
        # Redis's stringmatch(pattern, name, nocase=1) on the pattern as sent: an escape
        # inside a class compares without nocase, so the pattern is not lower-cased first.
        match = compile_glob(pattern.encode("utf-8", "surrogateescape"), True)
        for name in DIRECTIVES:
            if match(name.encode()):
                out.append((name, self.show(name)))
        for alias, target in ALIASES.items():
            if match(alias.encode()) and target in DIRECTIVES:
                out.append((alias, self.show(target)))
        return out

    # -- changes -------------------------------------------------------------------------
    def load(self, pairs: Iterable[tuple[str, str]], *, startup: bool = True) -> None:
        """Apply directives from a file or the command line (no mutability checks)."""
        for name, raw in pairs:
            canon = self.canonical(name)
            if canon in WORD_DIRECTIVES:
                self._load_words(canon, shlex.split(raw))
                continue
            d = DIRECTIVES.get(canon)
            if d is None:
                raise ConfigError(name, f"Bad directive or wrong number of arguments: '{name}'")
            self._values[canon] = d.convert(raw)

    def _load_words(self, name: str, words: list[str]) -> None:
        """``user <name> <rules...>`` and ``rename-command <command> <new-name>``."""
        if name == "rename-command":
            if len(words) != 2:
                raise ConfigError(name, "Bad directive or wrong number of arguments")
            self.renamed_commands.append((words[0], words[1]))
            return
        if not words:
            raise ConfigError(name, "Bad directive or wrong number of arguments")
        from sentrykv_server.acl import duplicate_user_error, validate_declared_user

        if any(declared[0] == words[0] for declared in self.acl_users):
            raise ConfigError(name, duplicate_user_error(words[0]))
        error = validate_declared_user(words)
        if error is not None:
            raise ConfigError(name, error)
        self.acl_users.append(words)

    def set_many(self, pairs: list[tuple[str, str]]) -> None:
        """CONFIG SET: validate every pair first, then apply all (all-or-nothing)."""
        seen: set[str] = set()
        staged: list[tuple[str, Any]] = []
        for name, raw in pairs:
            canon = self.canonical(name)
            d = DIRECTIVES.get(canon)
            if d is None:
                raise ConfigError(name, "unknown")
            if canon in seen:
                raise ConfigError(name, "duplicate parameter")
            seen.add(canon)
            if not d.mutable:
                raise ConfigError(name, "can't set immutable config")
            if d.protected and self._values["enable-protected-configs"] != "yes":
                raise ConfigError(name, "can't set protected config")
            try:
                staged.append((canon, d.convert(raw)))
            except ConfigError as exc:  # Redis names the argument as the client spelled it
                raise ConfigError(name, exc.reason) from None
        old = {name: self._values[name] for name, _ in staged}
        try:
            for name, value in staged:
                self._values[name] = value
                for hook in self.listeners.get(name, ()):
                    hook(value)
        except ConfigError:
            for name, value in old.items():
                self._values[name] = value
                for hook in self.listeners.get(name, ()):
                    hook(value)
            raise

    def on_change(self, name: str, hook: Callable[[Any], None]) -> None:
        """Run ``hook(new_value)`` when CONFIG SET changes ``name``; it may raise ConfigError."""
        self.listeners.setdefault(name, []).append(hook)

    # -- files ---------------------------------------------------------------------------
    def _rewrite_line(self, name: str) -> str:
        if name == "replicaof":  # two words, as Redis writes it: replicaof <host> <port>
            return f"replicaof {self.show(name)}"
        return f"{name} {_quote(self.show(name))}"

    def rewrite(self) -> None:
        """CONFIG REWRITE: rewrite the file, keeping comments and unknown lines in place."""
        if not self.config_file:
            raise ConfigError("", "The server is running without a config file")
        try:
            with open(self.config_file, encoding="utf-8", errors="surrogateescape") as fh:
                lines = fh.read().splitlines()
        except OSError as exc:
            raise ConfigError("", f"Rewriting config file: {exc.strerror}") from None
        written: set[str] = set()
        out: list[str] = []
        users = self.user_lines() if self.user_lines is not None else None
        for line in lines:
            words = _split_line(line)
            if not words:
                out.append(line)
                continue
            canon = self.canonical(words[0])
            if canon == "user" and users is not None:
                # The users as they are now take the declared ones' places, in order;
                # any left over are appended below, as Redis does.
                if users:
                    out.append(users.pop(0))
                continue
            if canon in DIRECTIVES:
                if canon in written:
                    continue
                written.add(canon)
                if canon == "replicaof" and not self._values[canon]:
                    continue  # a master: Redis drops the line rather than writing an empty one
                out.append(self._rewrite_line(canon))
            else:
                out.append(line)
        for name, d in DIRECTIVES.items():
            if name in written:
                continue
            if self._values[name] != d.default_value():
                out.append(self._rewrite_line(name))
        if users:
            out.extend(users)
        tmp = self.config_file + ".tmp"
        with open(tmp, "w", encoding="utf-8", errors="surrogateescape") as fh:
            fh.write("\n".join(out) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.config_file)


def _quote(value: str) -> str:
    if value == "" or any(ch.isspace() or ch in "\"'#" for ch in value):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return value


def _split_line(line: str) -> list[str]:
    stripped = line.strip()
    if not stripped or stripped.startswith("#"):
        return []
    lexer = shlex.shlex(stripped, posix=True)
    lexer.whitespace_split = True
    lexer.commenters = ""
    return list(lexer)


def parse_config_text(text: str, origin: str = "config") -> list[tuple[str, str]]:
    """redis.conf syntax: ``directive value...`` per line, ``#`` comments, quoted values.

    Directives with several words (``save 900 1``, ``client-output-buffer-limit ...``)
    keep the rest of the line joined by spaces, as Redis stores them.
    """
    pairs: list[tuple[str, str]] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        try:
            words = _split_line(line)
        except ValueError as exc:
            raise ConfigError("", f"{origin}:{lineno}: unbalanced quotes ({exc})") from None
        if not words:
            continue
        if len(words) < 2:
            if words[0].lower() in ("save", "requirepass", "logfile"):
                words.append("")
            else:
                raise ConfigError(words[0], f"{origin}:{lineno}: wrong number of arguments for '{words[0]}'")
        pairs.append((words[0], _join(words[0], words[1:])))
    return pairs


# Directives whose arguments are kept as separate words (ACL rules may hold spaces once
# quoted, and a renamed command may be ""); they may appear several times.
WORD_DIRECTIVES = ("user", "rename-command")


def _join(name: str, values: list[str]) -> str:
    return shlex.join(values) if name.lower() in WORD_DIRECTIVES else " ".join(values)


def parse_argv(argv: list[str]) -> tuple[str | None, list[tuple[str, str]]]:
    """``[config-file] [--directive value ...]`` as redis-server takes them."""
    config_file = None
    args = list(argv)
    if args and not args[0].startswith("--"):
        config_file = args.pop(0)
    pairs: list[tuple[str, str]] = []
    i = 0
    while i < len(args):
        word = args[i]
        if not word.startswith("--") or len(word) == 2:
            raise ConfigError(word, f"Unexpected argument '{word}'")
        name = word[2:]
        values: list[str] = []
        i += 1
        while i < len(args) and not args[i].startswith("--"):
            values.append(args[i])
            i += 1
        if not values and name.lower() not in ("save", "requirepass"):
            raise ConfigError(name, f"Missing value for --{name}")
        pairs.append((name, _join(name, values)))
    return config_file, pairs


def build_config(argv: list[str]) -> Config:
    """Defaults < file < command line."""
    config = Config()
    config_file, cli_pairs = parse_argv(argv)
    if config_file is not None:
        path = os.path.abspath(config_file)
        try:
            with open(path, encoding="utf-8") as fh:
                text = fh.read()
        except OSError as exc:
            raise ConfigError("", f"Fatal error, can't open config file '{config_file}': {exc.strerror}") from None
        config.load(parse_config_text(text, config_file))
        config.config_file = path
    config.load(cli_pairs)
    return config
