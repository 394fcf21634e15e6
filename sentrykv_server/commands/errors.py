"""Errors a command raises, with Redis 7's exact wording.

Handlers raise :class:`CommandError`; the dispatcher turns it into an error
reply.  Messages that appear in many places live here so that the wording is
written once.
"""

from __future__ import annotations


class CommandError(Exception):
    """An error reply.  ``message`` starts with the error code (ERR, WRONGTYPE, ...)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"
SYNTAX = "ERR syntax error"
NOT_INTEGER = "ERR value is not an integer or out of range"
NOT_FLOAT = "ERR value is not a valid float"
OVERFLOW = "ERR increment or decrement would overflow"
NO_SUCH_KEY = "ERR no such key"
DB_INDEX = "ERR DB index is out of range"
NOAUTH = "NOAUTH Authentication required."
WRONGPASS = "WRONGPASS invalid username-password pair or user is disabled."
TIMEOUT_NOT_FLOAT = "ERR timeout is not a float or out of range"


def _c_string(raw: bytes, limit: int) -> bytes:
    """What C's "%.*s" prints of an sds: up to the first NUL, at most ``limit`` bytes."""
    return raw.split(b"\0", 1)[0][:limit]


def c_text(raw: bytes) -> str:
    """An argument as Redis's "%s" prints it in an error: up to the first NUL, bytes kept."""
    return raw.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


def unknown_command(argv: list[bytes]) -> str:
    """Redis's wording, byte for byte: the name and the arguments (128 bytes of them in all)
    as C strings; non-UTF-8 bytes survive (surrogateescape) to the reply."""
    args = b""
    for arg in argv[1:]:
        if len(args) >= 128:
            break
        args += b"'" + _c_string(arg, 128 - len(args)) + b"' "
    text = b"ERR unknown command '" + _c_string(argv[0], 128) + b"', with args beginning with: " + args
    return text.decode("utf-8", "surrogateescape")


def wrong_args(name: str) -> CommandError:
    return CommandError(f"ERR wrong number of arguments for '{name}' command")


def wrong_type() -> CommandError:
    return CommandError(WRONGTYPE)


def syntax_error() -> CommandError:
    return CommandError(SYNTAX)


def not_integer() -> CommandError:
    return CommandError(NOT_INTEGER)


def unknown_subcommand(sub: bytes, cmd: str | bytes) -> CommandError:
    """``cmd`` may be argv[0] itself: Redis names the command as the client sent it (a
    renamed CONFIG says "Try CFG HELP.")."""
    text = sub.split(b"\0", 1)[0][:128].decode("utf-8", "replace")  # Redis prints a C string
    name = cmd.decode("utf-8", "replace") if isinstance(cmd, bytes) else cmd
    return CommandError(
        f"ERR unknown subcommand '{text}'. Try {name.upper()} HELP."
    )


# The canonical spelling of small integers (indexes, counts, scores, INCRBY steps) is
# looked up instead of validated: one dict probe instead of the checks below.
_SMALL_INTS = {b"%d" % i: i for i in range(-1024, 10001)}


def parse_int(raw: bytes, message: str = NOT_INTEGER) -> int:
    """Strict integer parsing as Redis's string2ll: no spaces, no '+', no leading zeros."""
    small = _SMALL_INTS.get(raw)
    if small is not None:
        return small
    try:
        if not raw or len(raw) > 20 or raw[0] == 43 or raw[-1] in b" \t\r\n" or raw[0] in b" \t\r\n":
            raise ValueError
        value = int(raw)
        if (raw[0] == 48 and len(raw) > 1) or raw.startswith(b"-0"):
            raise ValueError
        if b"_" in raw:
            raise ValueError
    except ValueError:
        raise CommandError(message) from None
    if not -(1 << 63) <= value < (1 << 63):
        raise CommandError(message)
    return value


def parse_float(raw: bytes, message: str = NOT_FLOAT) -> float:
    """Float parsing as Redis's string2ld/strtod: accepts inf, rejects NaN and spaces."""
    try:
        if not raw or raw[0] in b" \t\r\n" or raw[-1] in b" \t\r\n" or b"_" in raw:
            raise ValueError
        value = float(raw)
    except ValueError:
        raise CommandError(message) from None
    if value != value:
        raise CommandError(message)
    return value


def check_subcommand(argv: list[bytes], arity: dict[bytes, int], name: str) -> bytes:
    """A container's subcommand (XGROUP, XINFO, SCRIPT, FUNCTION ...), lower-cased: Redis's
    errors for an unknown one and for its arity (``arity``: Redis's, negative = at least)."""
    sub = argv[1].lower()
    want = arity.get(sub)
    if want is None:
        raise unknown_subcommand(argv[1], name)
    n = len(argv)
    if (want > 0 and n != want) or n < -want:
        raise wrong_args(f"{name.lower()}|{sub.decode()}")
    return sub
