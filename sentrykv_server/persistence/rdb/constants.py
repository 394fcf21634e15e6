"""Numbers of Redis 7.0's RDB format (version 10): object types, opcodes, encodings.

Names follow Redis's ``rdb.h`` so that the format notes in docs/migration.md
and the code can be read side by side.
"""

from __future__ import annotations

RDB_VERSION = 10  # Redis 7.0; a payload or file of a newer version is refused (as 7.0 does)
MAGIC = b"REDIS"

# -- object types (the byte before a key, or the first byte of a DUMP payload) ----------------
TYPE_STRING = 0
TYPE_LIST = 1  # linked list of strings (Redis < 3.2)
TYPE_SET = 2
TYPE_ZSET = 3  # scores as text (Redis < 3.0)
TYPE_HASH = 4
TYPE_ZSET_2 = 5  # scores as binary doubles
TYPE_MODULE_PRE_GA = 6
TYPE_MODULE_2 = 7
TYPE_HASH_ZIPMAP = 9
TYPE_LIST_ZIPLIST = 10
TYPE_SET_INTSET = 11
TYPE_ZSET_ZIPLIST = 12
TYPE_HASH_ZIPLIST = 13
TYPE_LIST_QUICKLIST = 14  # quicklist of ziplists (Redis 3.2 - 6.2)
TYPE_STREAM_LISTPACKS = 15  # Redis 5 - 6.2
TYPE_HASH_LISTPACK = 16
TYPE_ZSET_LISTPACK = 17
TYPE_LIST_QUICKLIST_2 = 18  # quicklist of listpacks (7.0)
TYPE_STREAM_LISTPACKS_2 = 19  # 7.0

# Quicklist node containers in TYPE_LIST_QUICKLIST_2.
QUICKLIST_NODE_PLAIN = 1
QUICKLIST_NODE_PACKED = 2

# -- opcodes (file level) ----------------------------------------------------------------------
OPCODE_FUNCTION2 = 245
OPCODE_FUNCTION_PRE_GA = 246
OPCODE_MODULE_AUX = 247
OPCODE_IDLE = 248
OPCODE_FREQ = 249
OPCODE_AUX = 250
OPCODE_RESIZEDB = 251
OPCODE_EXPIRETIME_MS = 252
OPCODE_EXPIRETIME = 253
OPCODE_SELECTDB = 254
OPCODE_EOF = 255

# -- length / string encodings -----------------------------------------------------------------
LEN_6BIT = 0
LEN_14BIT = 1
LEN_32BIT = 0x80
LEN_64BIT = 0x81
ENCVAL = 3  # top two bits 11: a special string encoding follows in the low six bits
ENC_INT8 = 0
ENC_INT16 = 1
ENC_INT32 = 2
ENC_LZF = 3

# Module type names are packed 6 bits a character into the top 54 bits of the module id.
MODULE_NAME_CHARSET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def module_type_name(module_id: int) -> str:
    """The 9-character module type name (and version) packed in a module id, for messages."""
    chars = []
    rest = module_id >> 10
    for _ in range(9):
        chars.append(MODULE_NAME_CHARSET[rest & 63])
        rest >>= 6
    return "".join(reversed(chars)) + f" (version {module_id & 1023})"


TYPE_NAMES = {
    TYPE_STRING: "string", TYPE_LIST: "list", TYPE_SET: "set", TYPE_ZSET: "zset",
    TYPE_HASH: "hash", TYPE_ZSET_2: "zset", TYPE_MODULE_PRE_GA: "module",
    TYPE_MODULE_2: "module", TYPE_HASH_ZIPMAP: "hash", TYPE_LIST_ZIPLIST: "list",
    TYPE_SET_INTSET: "set", TYPE_ZSET_ZIPLIST: "zset", TYPE_HASH_ZIPLIST: "hash",
    TYPE_LIST_QUICKLIST: "list", TYPE_STREAM_LISTPACKS: "stream", TYPE_HASH_LISTPACK: "hash",
    TYPE_ZSET_LISTPACK: "zset", TYPE_LIST_QUICKLIST_2: "list", TYPE_STREAM_LISTPACKS_2: "stream",
}


class RdbError(ValueError):
    """Data that is not a valid RDB encoding (RESTORE answers "Bad data format").

    ``reason`` says what is wrong for logs and for the import tool; the
    command reply never shows it, as Redis's does not.
    """
