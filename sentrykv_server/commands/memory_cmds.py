"""OBJECT and MEMORY (Redis's object.c): how a key is stored, used, and what it costs.

The figures come from the accounting model (store/memory.py for values,
sentrykv_server/memory.py for the server) and the access clock
(store/access.py); docs/memory.md explains both.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from sentrykv_server.commands.errors import (
    CommandError,
    parse_int,
    syntax_error,
    unknown_subcommand,
)
from sentrykv_server.commands.registry import command
from sentrykv_server.memory import anon_rss_bytes, mallinfo, malloc_trim, rss_bytes
from sentrykv_server.protocol.reply import Verbatim
from sentrykv_server.store.memory import INT_COST, bytes_cost, human
from sentrykv_server.store.types import TYPES

if TYPE_CHECKING:
    from sentrykv_server.protocol.connection import Client
    from sentrykv_server.server import Server
    from sentrykv_server.store.keyspace import Database

# OBJECT REFCOUNT of Redis's shared integer objects (OBJ_SHARED_REFCOUNT).
SHARED_REFCOUNT = 2147483647
SHARED_INTEGERS = 10000
# A key's entries in the key/value dict and the access-field dict: 24-byte entries plus
# their index slots, at the tables' average two-thirds load.
DICT_ENTRIES = 96
# A TTL: the deadline int and its entry in the expires dict.
TTL_ENTRY = INT_COST + 48
# MEMORY USAGE without SAMPLES (Redis's OBJ_COMPUTE_SIZE_DEF_SAMPLES).
DEFAULT_SAMPLES = 5

_LFU_SELECTED = ("ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when "
                 "switching between policies at runtime LRU and LFU data will take some time to adjust.")
_LFU_NOT_SELECTED = ("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note "
                     "that when switching between policies at runtime LRU and LFU data will take some time "
                     "to adjust.")

# -- OBJECT ----------------------------------------------------------------------------------
_OBJECT_HELP = [
    "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
    "HELP",
    "    Prints this help.",
]
# Redis 7.0's arities of the OBJECT subcommands.
_OBJECT_ARITY = {b"encoding": 3, b"refcount": 3, b"idletime": 3, b"freq": 3, b"help": 2}


def shared_integer(server: Server, value: Any) -> bool:
    """Redis stores 0..9999 as shared objects unless maxmemory runs an LRU/LFU policy."""
    if type(value) is not bytes or not value.isdigit() or len(value) > 4:
        return False
    if TYPES[bytes].encoding(value) != "int" or int(value) >= SHARED_INTEGERS:
        return False
    ev = server.evictor
    return ev.maxmemory == 0 or not ev.policy.endswith(("lru", "lfu"))


@command("object", -2, "readonly", 2, 2, 1, group="generic", since="2.2.3")
def object_cmd(c: Client, argv: list[bytes]) -> Any:
    """Inspect the internals of a key's value (without counting as an access)."""
    sub = argv[1].lower()
    arity = _OBJECT_ARITY.get(sub)
    if arity is None:
        raise unknown_subcommand(argv[1], "OBJECT")
    if len(argv) != arity:
        raise CommandError(f"ERR wrong number of arguments for 'object|{sub.decode()}' command")
    if sub == b"help":
        return _OBJECT_HELP
    db = c.db
    value = db.peek(argv[2])
    if value is None:
        return None
    if sub == b"encoding":
        return TYPES[type(value)].encoding(value).encode()
    if sub == b"refcount":
        return SHARED_REFCOUNT if shared_integer(c.server, value) else 1
    ks = db.keyspace
    raw = db.access(argv[2])
    if raw is None:
        raw = ks.clock.lru
    if sub == b"idletime":
        if ks.lfu:
            raise CommandError(_LFU_SELECTED)
        return ks.clock.idle_ms(raw) // 1000
    if not ks.lfu:
        raise CommandError(_LFU_NOT_SELECTED)
    return ks.clock.frequency(raw)


def debug_object(c: Client, key: bytes) -> bytes:
    """DEBUG OBJECT: the value's header as Redis prints it (lru fields from the access clock)."""
    db = c.db
    value = db.data.get(key)
    if value is None:
        raise CommandError("ERR no such key")
    vt = TYPES[type(value)]
    ks = db.keyspace
    raw = db.access(key)
    if raw is None:
        raw = ks.clock.lru
    refcount = SHARED_REFCOUNT if shared_integer(c.server, value) else 1
    text = (f"Value at:0x{id(value):x} refcount:{refcount} encoding:{vt.encoding(value)} "
            f"serializedlength:{serialized_length(value)} lru:{raw} "
            f"lru_seconds_idle:{ks.clock.idle_ms(raw) // 1000}")
    if vt.name == "list":
        n = len(value)
        nodes = max(1, (n + 63) // 64)  # the deque's 64-slot blocks stand for quicklist nodes
        limit = int(c.server.config.value("list-max-listpack-size"))
        text += (f" ql_nodes:{nodes} ql_avg_node:{n / nodes:.2f} ql_listpack_max:{limit} "
                 f"ql_compressed:0 ql_uncompressed_size:{sum(map(len, value)) + 2 * n}")
    return text.encode()


def serialized_length(value: Any) -> int:
    """The value's size in an RDB payload, estimated (a length prefix per string)."""
    def prefixed(b: bytes) -> int:
        n = len(b)
        return n + (1 if n < 64 else 2 if n < 16384 else 5)

    if type(value) is bytes:
        if TYPES[bytes].encoding(value) == "int":
            number = int(value)
            return 2 if -128 <= number < 128 else 3 if -32768 <= number < 32768 else 5 \
                if -(1 << 31) <= number < (1 << 31) else prefixed(value)
        return prefixed(value)
    name = TYPES[type(value)].name
    if name == "hash":
        return 9 + sum(prefixed(k) + prefixed(v) for k, v in value.items())
    if name == "zset":
        return 9 + sum(prefixed(m) + 9 for m in value.scores)
    try:
        return 9 + sum(prefixed(x) for x in value)
    except TypeError:
        return 9


# -- MEMORY ----------------------------------------------------------------------------------
_MEMORY_HELP = [
    "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DOCTOR",
    "    Return memory problems reports.",
    "MALLOC-STATS",
    "    Return internal statistics report from the memory allocator.",
    "PURGE",
    "    Attempt to purge dirty pages for reclamation by the allocator.",
    "STATS",
    "    Return information about the memory usage of the server.",
    "USAGE <key> [SAMPLES <count>]",
    "    Return memory in bytes used by <key> and its value. Nested values are",
    "    sampled up to <count> times (default: 5, 0 means sample all).",
    "HELP",
    "    Prints this help.",
]
# Redis 7.0's arities of the MEMORY subcommands.
_MEMORY_ARITY = {b"usage": -3, b"stats": 2, b"doctor": 2, b"malloc-stats": 2, b"purge": 2, b"help": 2}


def key_usage(db: Database, key: bytes, value: Any, samples: int) -> int:
    """MEMORY USAGE: the key object, its dict entries, its TTL and the value (sampled)."""
    vt = TYPES[type(value)]
    if vt.name != "string" and vt.encoding(value) in ("listpack", "intset"):
        samples = 0  # compact encodings are measured whole, as Redis measures a listpack
    size = vt.size(value, samples) + bytes_cost(key) + DICT_ENTRIES
    if key in db.expires:
        size += TTL_ENTRY
    return size


@command("memory", -2, "", group="server", since="4.0.0")
def memory_cmd(c: Client, argv: list[bytes]) -> Any:
    """Memory usage of keys and of the server."""
    sub = argv[1].lower()
    arity = _MEMORY_ARITY.get(sub)
    if arity is None:
        raise unknown_subcommand(argv[1], "MEMORY")
    if (arity > 0 and len(argv) != arity) or len(argv) < -arity:
        raise CommandError(f"ERR wrong number of arguments for 'memory|{sub.decode()}' command")
    server = c.server
    if sub == b"usage":
        samples = DEFAULT_SAMPLES
        i = 3
        while i < len(argv):
            if argv[i].lower() == b"samples" and i + 1 < len(argv):
                samples = parse_int(argv[i + 1])
                if samples < 0:
                    raise syntax_error()
                i += 2
            else:
                raise syntax_error()
        value = c.db.data.get(argv[2])  # like Redis's dictFind: no expiry check, no access
        if value is None:
            return None
        return key_usage(c.db, argv[2], value, samples)
    if sub == b"stats":
        return memory_stats(server)
    if sub == b"doctor":
        return Verbatim(memory_doctor(server).encode())
    if sub == b"malloc-stats":
        return Verbatim(malloc_stats().encode())
    if sub == b"purge":
        malloc_trim()
        return "OK"
    return _MEMORY_HELP


def memory_stats(server: Server) -> dict[bytes, Any]:
    """MEMORY STATS: Redis 7.0's fields, in its order."""
    m = server.memory.stats()
    used, rss = m["used"], m["rss"]
    anon = anon_rss_bytes()
    out: dict[bytes, Any] = {
        b"peak.allocated": m["peak"],
        b"total.allocated": used,
        b"startup.allocated": m["startup"],
        b"replication.backlog": 0,
        b"clients.slaves": 0,
        b"clients.normal": m["clients_normal"],
        b"cluster.links": 0,
        b"aof.buffer": m["aof_buffer"],
        b"lua.caches": 0,
        b"functions.caches": 0,
    }
    for index, main, expires in m["per_db"]:
        out[b"db.%d" % index] = {
            b"overhead.hashtable.main": main,
            b"overhead.hashtable.expires": expires,
            b"overhead.hashtable.slot-to-keys": 0,
        }
    out.update({
        b"overhead.total": m["overhead"],
        b"keys.count": m["keys"],
        b"keys.bytes-per-key": m["bytes_per_key"],
        b"dataset.bytes": m["dataset"],
        b"dataset.percentage": float(m["dataset_perc"]),
        b"peak.percentage": float(m["peak_perc"]),
        b"allocator.allocated": used,
        b"allocator.active": anon,
        b"allocator.resident": anon,
        b"allocator-fragmentation.ratio": anon / used if used else 0.0,
        b"allocator-fragmentation.bytes": anon - used,
        b"allocator-rss.ratio": 1.0,
        b"allocator-rss.bytes": 0,
        b"rss-overhead.ratio": rss / anon if anon else 0.0,
        b"rss-overhead.bytes": rss - anon,
        b"fragmentation": float(m["frag"]),
        b"fragmentation.bytes": rss - used,
    })
    return out


def memory_doctor(server: Server) -> str:
    """A short report of what looks wrong with the memory figures (MEMORY DOCTOR)."""
    m = server.memory.stats()
    used, net = m["used"], m["used"] - m["startup"]
    if net < 5 * 1024 * 1024:
        return ("This instance holds less than 5 MB of data beyond its start-up footprint "
                f"({human(m['startup'])}), too little for the memory doctor to judge. "
                "Ask again once it holds a real data set.\n")
    issues = []
    if m["peak"] > used * 3 // 2:
        issues.append(f"* Peak memory: usage once reached {human(m['peak'])}, more than 150% of the "
                      f"{human(used)} in use now. Allocators seldom give all of it back to the system, "
                      "which can show as a high RSS and fragmentation; MEMORY PURGE may help.")
    if m["frag"] > 1.4:
        issues.append(f"* High fragmentation: the process RSS is {m['frag']:.2f} times used_memory "
                      f"({human(m['rss'])} against {human(used)}). Python's allocators keep freed "
                      "blocks for reuse; a restart compacts the heap.")
    clients = len(server.clients)
    if clients and m["clients_normal"] // clients > 200 * 1024:
        issues.append(f"* Big client buffers: {clients} clients hold {human(m['clients_normal'])} "
                      "between them (over 200 KB each on average): slow readers or large pipelines.")
    if not issues:
        return "No memory problems were found in this instance.\n"
    return "Memory doctor report:\n\n" + "\n\n".join(issues) + "\n"


def malloc_stats() -> str:
    """MEMORY MALLOC-STATS: glibc's mallinfo2, pymalloc's block count and the process memory."""
    lines = ["___ SentryKV allocator statistics ___",
             f"pymalloc allocated blocks: {sys.getallocatedblocks()}",
             f"process rss: {rss_bytes()}",
             f"process anonymous rss: {anon_rss_bytes()}"]
    info = mallinfo()
    if info is None:
        lines.append("glibc mallinfo2: not available")
    else:
        lines += [f"glibc {name}: {value}" for name, value in info.items()]
    return "\n".join(lines) + "\n"
