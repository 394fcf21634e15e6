"""ACL users and selectors: the rules of ``ACL SETUSER`` and their description (acl.c).

A user has flags (``on``/``off``, ``nopass``, payload sanitising), a list of
SHA-256 password hashes and a list of *selectors*; the first is the root
selector (the rules written outside parentheses), the others come from
``(...)`` rules.  A selector holds a command bitmap (one bit per entry of
:mod:`sentrykv_server.acl_table`, as a Python int), the first arguments
allowed for otherwise denied commands (``+select|0``), key patterns with
read/write permissions and channel patterns.  A request is allowed when one
selector allows the command *and* its keys *and* its channels.

Rules are applied exactly as Redis 7.0 applies them, errors included, and
:meth:`Selector.describe_commands` reproduces Redis's description: start from
``+@all`` or ``-@all``, greedily add the category that best matches what is
left, then single commands.  (Redis emits the single commands in its hash
table's order, which changes from one process to the next; SentryKV uses the
command table's order.)
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from typing import TYPE_CHECKING

from sentrykv_server.acl_table import (
    CATEGORIES,
    CATEGORY_INDEX,
    READ,
    WRITE,
    AclCommand,
    keys_of,
    table,
)
from sentrykv_server.protocol.inline import UnbalancedQuotes, split_args
from sentrykv_server.store.glob import compile_glob

if TYPE_CHECKING:
    from sentrykv_server.acl_table import KeyList

ALL_PERM = READ | WRITE
_SPACES = frozenset(b" \t\n\v\f\r\0")

# Results of a permission check, ordered as Redis orders them when picking the error
# to report among several selectors.
OK = 0
DENIED_CMD = 1
DENIED_KEY = 2
DENIED_AUTH = 3
DENIED_CHANNEL = 4

# Reasons a rule is refused (Redis's errno values and ACLSetUserStringError texts).
UNKNOWN = "Unknown command or category name in ACL"
SYNTAX = "Syntax error"
KEYS_AFTER_ALL = ("Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have "
                  "any effect. Try 'resetkeys' to start with an empty list of patterns")
CHANNELS_AFTER_ALL = ("Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not "
                      "have any effect. Try 'resetchannels' to start with an empty list of channels")
NO_SUCH_PASSWORD = "The password you are trying to remove from the user does not exist"
BAD_HASH = "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters"
FIRSTARG_OF_SUB = "Allowing first-arg of a subcommand is not supported"
DUPLICATE_USER = "Duplicate user found. A user can only be defined once in config files"


class RuleError(ValueError):
    """A rule ACL SETUSER refuses; ``str()`` is Redis's reason."""


def has_spaces(data: bytes) -> bool:
    """Redis's ACLStringHasSpaces: blanks and NUL are refused in names and patterns."""
    return any(b in _SPACES for b in data)


def hash_password(password: bytes) -> str:
    return hashlib.sha256(password).hexdigest()


def _valid_hash(text: bytes) -> bool:
    return len(text) == 64 and all(48 <= b <= 57 or 97 <= b <= 102 for b in text)


# Rules that allow all, or nothing, of one kind: (kind, allowed).
_ALL_OR_NOTHING = {
    b"allkeys": ("keys", True), b"~*": ("keys", True), b"resetkeys": ("keys", False),
    b"allchannels": ("channels", True), b"&*": ("channels", True), b"resetchannels": ("channels", False),
    b"allcommands": ("commands", True), b"+@all": ("commands", True),
    b"nocommands": ("commands", False), b"-@all": ("commands", False),
}


class Selector:
    """Permissions for commands, keys and channels (one set of parentheses)."""

    __slots__ = ("allcommands", "allkeys", "allchannels", "future", "bits", "firstargs", "patterns", "channels",
                 "_matchers")

    def __init__(self, allchannels: bool) -> None:
        self.allcommands = False
        self.allkeys = False
        self.allchannels = allchannels
        self.future = False  # +@all was the last word: commands added later are allowed too
        self.bits = 0
        self.firstargs: dict[int, list[bytes]] = {}
        self.patterns: list[tuple[bytes, int]] = []  # (glob, READ|WRITE)
        self.channels: list[bytes] = []
        self._matchers: dict[bytes, Callable[[bytes], bool]] = {}

    def copy(self) -> Selector:
        other = Selector(self.allchannels)
        other.allcommands, other.allkeys, other.future = self.allcommands, self.allkeys, self.future
        other.bits = self.bits
        other.firstargs = {k: list(v) for k, v in self.firstargs.items()}
        other.patterns = list(self.patterns)
        other.channels = list(self.channels)
        return other

    @property
    def unrestricted(self) -> bool:
        return self.allcommands and self.allkeys and self.allchannels

    # -- rules ---------------------------------------------------------------------------
    def apply(self, op: bytes) -> None:
        """Redis's ACLSetSelector: one command, key or channel rule."""
        low = _c_string(op).lower()
        t = table()
        everything = _ALL_OR_NOTHING.get(low)
        if everything is not None:
            # allkeys / resetkeys, allchannels / resetchannels: the flag, and no list.
            what, on = everything
            if what == "keys":
                self.allkeys, self.patterns = on, []
            elif what == "channels":
                self.allchannels, self.channels = on, []
            else:
                self.bits = t.all_mask if on else 0
                self.future = self.allcommands = on
                self.firstargs = {}
        elif op[:1] in (b"~", b"%"):
            self._add_key_pattern(op)
        elif op[:1] == b"&":
            if self.allchannels:
                raise RuleError(CHANNELS_AFTER_ALL)
            if has_spaces(op[1:]):
                raise RuleError(SYNTAX)
            if op[1:] not in self.channels:
                self.channels.append(op[1:])
        elif op[:2] in (b"+@", b"-@"):
            index = CATEGORY_INDEX.get(_c_string(op[2:]).decode("latin-1").lower())
            if index is None:
                raise RuleError(UNKNOWN)
            # Every member and, for a member container, all its subcommands.
            mask = t.change[index]
            if op[:1] == b"+":
                self.bits |= mask
            else:
                self.bits &= ~mask
                self.allcommands = False
            members = t.members[index]
            for stale in [k for k in self.firstargs if members >> k & 1]:
                del self.firstargs[stale]
        elif op[:1] == b"+":
            self._allow(op[1:])
        elif op[:1] == b"-":
            denied = t.find(_c_string(op[1:]).decode("latin-1"))
            if denied is None:
                raise RuleError(UNKNOWN)
            self.change(denied, False)
        else:
            raise RuleError(SYNTAX)

    def _add_key_pattern(self, op: bytes) -> None:
        if self.allkeys:
            raise RuleError(KEYS_AFTER_ALL)
        offset, perm = 1, ALL_PERM
        if op[:1] == b"%":
            perm = 0
            while offset < len(op):
                ch = op[offset]
                if ch in (82, 114) and not perm & READ:  # R
                    perm |= READ
                elif ch in (87, 119) and not perm & WRITE:  # W
                    perm |= WRITE
                elif ch == 126:  # ~
                    offset += 1
                    break
                else:
                    raise RuleError(SYNTAX)
                offset += 1
            if not perm:  # "%R" alone is the empty pattern, as Redis reads it
                raise RuleError(SYNTAX)
        pattern = op[offset:]
        if has_spaces(pattern):
            raise RuleError(SYNTAX)
        for i, (existing, flags) in enumerate(self.patterns):
            if existing == pattern:
                self.patterns[i] = (existing, flags | perm)
                break
        else:
            self.patterns.append((pattern, perm))
        self.allkeys = False

    def _allow(self, name: bytes) -> None:
        t = table()
        text = _c_string(name)
        if b"|" not in text:
            entry = t.find(text.decode("latin-1"))
            if entry is None:
                raise RuleError(UNKNOWN)
            self.change(entry, True)
            return
        base_name, _, sub = text.rpartition(b"|")
        base = t.find(base_name.decode("latin-1"))
        if base is None:
            raise RuleError(UNKNOWN)
        if base.parent is not None:
            raise RuleError(FIRSTARG_OF_SUB)
        if not sub:
            raise RuleError(SYNTAX)
        if base.subcommands:
            found = t.find(text.decode("latin-1"))
            if found is None:
                raise RuleError(UNKNOWN)
            self.change(found, True)
            return
        # A first argument of an otherwise denied command (+select|0): Redis warns that
        # this form is deprecated but still honours it.
        allowed = self.firstargs.setdefault(base.id, [])
        if all(a.lower() != sub.lower() for a in allowed):
            allowed.append(sub)

    def change(self, entry: AclCommand, allow: bool) -> None:
        """ACLChangeSelectorPerm: a command and all its subcommands; drops its first args."""
        mask = 0
        for e in entry.tree():
            mask |= 1 << e.id
        if allow:
            self.bits |= mask
        else:
            self.bits &= ~mask
            self.allcommands = False
        self.firstargs.pop(entry.id, None)

    # -- description ---------------------------------------------------------------------
    def describe_commands(self) -> bytes:
        """ACLDescribeSelectorCommandRules: ``+@all``/``-@all``, best categories, single commands."""
        t = table()
        additive = not self.future
        rules: list[bytes] = [b"-@all" if additive else b"+@all"]
        fake = 0 if additive else t.all_mask
        temp = self.bits
        applied: set[int] = set()
        while True:
            best, mindiff, maxsame = -1, 1 << 62, 0
            for c in range(len(CATEGORIES)):
                if c in applied:
                    continue
                members = t.members[c]
                on = (temp & members).bit_count()
                off = members.bit_count() - on
                diff, same = (off, on) if additive else (on, off)
                if same > diff and (diff < mindiff or (diff == mindiff and same > maxsame)):
                    best, mindiff, maxsame = c, diff, same
            if best < 0:
                break
            change = t.change[best]
            if additive:
                fake |= change
                temp &= ~change
            else:
                fake &= ~change
                temp |= change
            rules.append((b"+@" if additive else b"-@") + CATEGORIES[best].encode())
            applied.add(best)
        bits = self.bits
        for top in t.top.values():
            fake = self._describe_single(top, fake, bits, rules)
        return b" ".join(rules)

    def _describe_single(self, entry: AclCommand, fake: int, bits: int, rules: list[bytes]) -> int:
        mine = bits >> entry.id & 1
        if mine != fake >> entry.id & 1:
            rules.append((b"+" if mine else b"-") + entry.name.encode())
            mask = table().tree_mask(entry)
            fake = fake | mask if mine else fake & ~mask
        for sub in entry.subcommands.values():
            fake = self._describe_single(sub, fake, bits, rules)
        if not mine:
            for arg in self.firstargs.get(entry.id, ()):
                rules.append(b"+" + entry.name.encode() + b"|" + arg)
        return fake

    def describe_keys(self) -> bytes:
        if self.allkeys:
            return b"~*"
        return b" ".join(_pattern_text(p, perm) for p, perm in self.patterns)

    def describe_channels(self) -> bytes:
        if self.allchannels:
            return b"&*"
        return b" ".join(b"&" + c for c in self.channels)

    def describe(self) -> bytes:
        """ACLDescribeSelector: keys, channels, commands (the ACL LIST form)."""
        parts: list[bytes] = []
        if self.allkeys:
            parts.append(b"~*")
        else:
            parts.extend(_pattern_text(p, perm) for p, perm in self.patterns)
        if self.allchannels:
            parts.append(b"&*")
        else:
            parts.append(b"resetchannels")
            parts.extend(b"&" + c for c in self.channels)
        parts.append(self.describe_commands())
        return b" ".join(parts)

    # -- checks --------------------------------------------------------------------------
    def check(self, entry: AclCommand, argv: list[bytes], cache: list[KeyList | None]) -> tuple[int, int]:
        """ACLSelectorCheckCmd: (result, index of the refused key/channel)."""
        if not self.allcommands and not entry.no_auth and not self.bits >> entry.id & 1:
            allowed = self.firstargs.get(entry.id)
            if allowed is None or len(argv) < 2:
                return DENIED_CMD, 0
            first = argv[1].lower()  # only commands without subcommands have first args
            if all(a.lower() != first for a in allowed):
                return DENIED_CMD, 0
        if not self.allkeys and entry.has_keys:
            keys = cache[0]
            if keys is None:
                keys = cache[0] = keys_of(entry, argv)
            for pos, need in keys:
                if not self.key_allowed(argv[pos], need):
                    return DENIED_KEY, pos
        if not self.allchannels and entry.channels is not None:
            kind = entry.channels
            names = range(1, 2) if kind == "first" else range(1, len(argv))
            for pos in names:
                if not self.channel_allowed(argv[pos], kind == "patterns"):
                    return DENIED_CHANNEL, pos
        return OK, 0

    def reads_every_key(self) -> bool:
        """ACLSelectorHasUnrestrictedKeyAccess for reading: allkeys, or a ``*`` read pattern."""
        return self.allkeys or any(p == b"*" and perm & READ for p, perm in self.patterns)

    def key_allowed(self, key: bytes, need: int) -> bool:
        if self.allkeys:
            return True
        for pattern, perm in self.patterns:
            if perm & need == need and self._match(pattern, key):
                return True
        return False

    def channel_allowed(self, channel: bytes, literal: bool) -> bool:
        """A channel (or, for PSUBSCRIBE, a pattern compared literally) against the list."""
        if self.allchannels:
            return True
        for pattern in self.channels:
            if (literal and _c_string(pattern) == _c_string(channel)) or (
                    not literal and self._match(pattern, channel)):
                return True
        return False

    def _match(self, pattern: bytes, subject: bytes) -> bool:
        matcher = self._matchers.get(pattern)
        if matcher is None:
            matcher = self._matchers[pattern] = compile_glob(pattern)
        return matcher(subject)


def _pattern_text(pattern: bytes, perm: int) -> bytes:
    prefix = b"~" if perm == ALL_PERM else b"%R~" if perm == READ else b"%W~"
    return prefix + pattern


def _c_string(data: bytes) -> bytes:
    """What C string functions see of an argument: everything before the first NUL."""
    nul = data.find(b"\0")
    return data if nul < 0 else data[:nul]


_FLAG_ORDER = ("on", "off", "nopass", "skip-sanitize-payload", "sanitize-payload")
# Rules that set one flag and clear its opposite.
_EXCLUSIVE_FLAGS = {
    b"on": ("on", "off"), b"off": ("off", "on"),
    b"skip-sanitize-payload": ("skip-sanitize-payload", "sanitize-payload"),
    b"sanitize-payload": ("sanitize-payload", "skip-sanitize-payload"),
}


def _password_hash(op: bytes) -> str:
    """The hash a password rule names: ``>pw``/``<pw`` hash the text, ``#h``/``!h`` give it."""
    if op[:1] in (b">", b"<"):
        return hash_password(op[1:])
    if not _valid_hash(op[1:]):
        raise RuleError(BAD_HASH)
    return op[1:].decode()


class User:
    """An ACL user: flags, password hashes and selectors (the first one is the root)."""

    __slots__ = ("name", "flags", "passwords", "selectors", "restricted")

    def __init__(self, name: bytes, allchannels: bool) -> None:
        self.name = name
        self.flags: set[str] = {"off"}
        self.passwords: list[str] = []
        self.selectors = [Selector(allchannels)]
        self.restricted = True

    @property
    def enabled(self) -> bool:
        return "on" in self.flags

    @property
    def nopass(self) -> bool:
        return "nopass" in self.flags

    @property
    def root(self) -> Selector:
        return self.selectors[0]

    def copy_from(self, other: User) -> None:
        """ACLCopyUser: take another user's rules (the name stays)."""
        self.flags = set(other.flags)
        self.passwords = list(other.passwords)
        self.selectors = [s.copy() for s in other.selectors]
        self.update()

    def update(self) -> None:
        """Recompute ``restricted``: False when some selector allows everything."""
        self.restricted = not any(s.unrestricted for s in self.selectors)

    def check_password(self, password: bytes) -> bool:
        if "off" in self.flags:
            return False
        if self.nopass:
            return True
        hashed = hash_password(password)
        return any(hmac.compare_digest(hashed, known) for known in self.passwords)

    def apply(self, op: bytes, allchannels_default: bool) -> None:
        """Redis's ACLSetUser: one rule; raises RuleError with Redis's reason."""
        if not op:
            return
        low = _c_string(op).lower()
        exclusive = _EXCLUSIVE_FLAGS.get(low)
        if exclusive is not None:
            flag, other = exclusive
            self.flags.discard(other)
            self.flags.add(flag)
        elif low == b"nopass":
            self.flags.add("nopass")
            self.passwords = []
        elif low == b"resetpass":
            self.flags.discard("nopass")
            self.passwords = []
        elif op[:1] in (b">", b"#"):
            hashed = _password_hash(op)
            if hashed not in self.passwords:
                self.passwords.append(hashed)
            self.flags.discard("nopass")
        elif op[:1] in (b"<", b"!"):
            hashed = _password_hash(op)
            if hashed not in self.passwords:
                raise RuleError(NO_SUCH_PASSWORD)
            self.passwords.remove(hashed)
        elif op[:1] == b"(" and op[-1:] == b")":
            self.selectors.append(_selector_from(op[1:-1], allchannels_default))
        elif low == b"clearselectors":
            del self.selectors[1:]
        elif low == b"reset":
            self.apply(b"resetpass", allchannels_default)
            self.apply(b"resetkeys", allchannels_default)
            self.apply(b"resetchannels", allchannels_default)
            if allchannels_default:
                self.apply(b"allchannels", allchannels_default)
            self.apply(b"off", allchannels_default)
            self.apply(b"sanitize-payload", allchannels_default)
            self.apply(b"clearselectors", allchannels_default)
            self.apply(b"-@all", allchannels_default)
        else:
            self.root.apply(op)

    def describe(self) -> bytes:
        """ACLDescribeUser: the rules of ACL LIST and of the ACL file, after the name."""
        parts = [flag.encode() for flag in _FLAG_ORDER if flag in self.flags]
        parts.extend(b"#" + p.encode() for p in self.passwords)
        text = b" ".join(parts + [self.root.describe()])
        for selector in self.selectors[1:]:
            text += b" (" + selector.describe() + b")"
        return text

    def flag_list(self) -> list[bytes]:
        return [flag.encode() for flag in _FLAG_ORDER if flag in self.flags]


def _selector_from(body: bytes, allchannels_default: bool) -> Selector:
    """aclCreateSelectorFromOpSet: the rules inside parentheses, split like sdssplitargs."""
    selector = Selector(allchannels_default)
    try:
        ops = split_args(body)
    except UnbalancedQuotes:
        ops = []  # sdssplitargs fails and Redis applies nothing
    for op in ops:
        selector.apply(op)
    return selector


def merge_selector_args(args: list[bytes]) -> tuple[list[bytes] | None, int]:
    """ACLMergeSelectorArguments: ``(`` ... ``)`` spread over several arguments become one.

    Returns (merged rules, -1), or (None, index of the unmatched opening argument).
    """
    merged: list[bytes] = []
    current: bytes | None = None
    start = -1
    for i, op in enumerate(args):
        if op[:1] == b"(" and op[-1:] != b")":
            current, start = op, i
            continue
        if current is not None:
            current += b" " + op
            if op[-1:] == b")":
                merged.append(current)
                current, start = None, -1
            continue
        merged.append(op)
    if current is not None:
        return None, start
    return merged, -1


def new_default_user(allchannels_default: bool) -> User:
    """ACLCreateDefaultUser: ``on nopass ~* &* +@all``."""
    user = User(b"default", allchannels_default)
    for op in (b"+@all", b"~*", b"&*", b"on", b"nopass"):
        user.apply(op, allchannels_default)
    user.update()
    return user
