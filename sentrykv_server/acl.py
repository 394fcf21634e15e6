"""Access control (Redis's acl.c): users, authentication, the permission check, ACL LOG.

One :class:`Acl` per server holds the users (the ``default`` user always
exists: every connection starts as it), the ACL LOG, and the ACL file.  The
rules themselves live in :mod:`sentrykv_server.acl_rules`, the command table
they name in :mod:`sentrykv_server.acl_table`.

The permission check is :func:`check`; the dispatcher calls it for clients
whose user is restricted (``Client.special`` is True for them, so clients of
an unrestricted user — ``+@all ~* &*``, the default — never pay for it), EXEC
calls it again for every queued command, and the scripting engine calls it
for ``redis.call`` and ``redis.acl_check_cmd``.

Changing a user takes effect at once for its connected clients, as in Redis:
a deleted user's clients are disconnected, and Pub/Sub clients whose
subscriptions a new channel rule no longer allows are disconnected.  A user
switched ``off`` keeps its existing connections (Redis 7.0 does the same).
"""

from __future__ import annotations

import logging
import os
import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sentrykv_server.acl_rules import (
    DENIED_CHANNEL,
    DENIED_CMD,
    DENIED_KEY,
    DUPLICATE_USER,
    OK,
    UNKNOWN,
    RuleError,
    User,
    has_spaces,
    merge_selector_args,
    new_default_user,
)
from sentrykv_server.acl_table import AclCommand, table
from sentrykv_server.store.glob import compile_glob

if TYPE_CHECKING:
    from sentrykv_server.commands.registry import Command
    from sentrykv_server.protocol.connection import Client
    from sentrykv_server.server import Server

log = logging.getLogger("sentrykv.acl")

_REASONS = {DENIED_CMD: "command", DENIED_KEY: "key", DENIED_CHANNEL: "channel"}
_EXEC_REASONS = {
    DENIED_CMD: "no permission to execute the command or subcommand",
    DENIED_KEY: "no permission to touch the specified keys",
    DENIED_CHANNEL: "no permission to access one of the channels used as arguments",
}
_SCRIPT_REASONS = {
    DENIED_CMD: "can't run this command or subcommand",
    DENIED_KEY: "can't access at least one of the keys mentioned in the command arguments",
    DENIED_CHANNEL: "can't publish to the channel mentioned in the command",
}
_GROUPING_MS = 60000


@dataclass(frozen=True, slots=True)
class AclDenial:
    """Why a user may not run a request: the refused command, key or channel."""

    reason: int  # DENIED_CMD, DENIED_KEY or DENIED_CHANNEL
    index: int  # argv index of the refused key or channel (0 for a command)
    command: str  # full name of the command ("config|set")

    @property
    def reason_name(self) -> str:
        return _REASONS[self.reason]

    def object(self, argv: list[bytes]) -> bytes:
        """What ACL LOG records: the command's name, or the key / channel."""
        return self.command.encode() if self.reason == DENIED_CMD else argv[self.index]

    def message(self) -> str:
        """The error a client gets (processCommand's -NOPERM)."""
        if self.reason == DENIED_CMD:
            return f"NOPERM this user has no permissions to run the '{self.command}' command"
        if self.reason == DENIED_KEY:
            return "NOPERM this user has no permissions to access one of the keys used as arguments"
        return "NOPERM this user has no permissions to access one of the channels used as arguments"

    def exec_message(self) -> str:
        """The error EXEC puts in place of a queued command the user may no longer run."""
        return ("NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC "
                f"call. This command is no longer allowed for the following reason: {_EXEC_REASONS[self.reason]}")

    def script_message(self) -> str:
        """redis.call's error text (Redis 7.0 scriptCall), without an error code."""
        return f"The user executing the script {_SCRIPT_REASONS[self.reason]}"

    def dryrun_message(self, argv: list[bytes]) -> bytes:
        """ACL DRYRUN's reply for a refused request (``argv`` starts at the command)."""
        if self.reason == DENIED_CMD:
            return f"This user has no permissions to run the '{self.command}' command".encode()
        kind = b"key" if self.reason == DENIED_KEY else b"channel"
        return b"This user has no permissions to access the '" + argv[self.index] + b"' " + kind


def check(subject: Client | User, cmd: Command | AclCommand, argv: list[bytes]) -> AclDenial | None:
    """May this user (a client's, or the given one) run ``argv``?  None when it may.

    ``cmd`` is the command table entry the request runs (a container's entry is
    resolved to the subcommand named by ``argv[1]``).  This is the one check for
    every path: the dispatcher, EXEC, ACL DRYRUN and scripts' ``redis.call`` /
    ``redis.acl_check_cmd``.  It does not log: see :meth:`Acl.log_denial`.
    """
    # type() rather than isinstance(): this runs for every request of a restricted user.
    user = subject if type(subject) is User else subject.user  # type: ignore[union-attr]
    if not user.restricted:
        return None
    entry = cmd if type(cmd) is AclCommand else acl_entry(cmd, argv)  # type: ignore[arg-type]
    return check_entry(user, entry, argv)


def unrestricted_key_access(c: Client, name: str, argv: list[bytes]) -> bool:
    """ACLUserCheckCmdWithUnrestrictedKeyAccess for reading: may the client run this
    request *and* read any key at all?  SORT's BY and GET patterns name keys that only
    the data decides, so Redis allows them only then (``allkeys`` or ``%R~*``).  A client
    with no user (WAL replay) may do anything, as Redis's internal clients."""
    user: User | None = getattr(c, "user", None)
    if user is None or not user.restricted:
        return True
    entry = table().top[name]
    cache: list[list[tuple[int, int]] | None] = [None]
    return any(selector.check(entry, argv, cache)[0] == OK and selector.reads_every_key()
               for selector in user.selectors)


def acl_entry(cmd: Command, argv: list[bytes]) -> AclCommand:
    """The ACL table entry a registered command runs as with these arguments."""
    t = table()
    entry = t.resolve(cmd.name, argv)
    if entry is None:  # unknown subcommand: the container's own bit decides
        entry = t.top[cmd.name]
    return entry


def check_entry(user: User, entry: AclCommand, argv: list[bytes]) -> AclDenial | None:
    """ACLCheckAllUserCommandPerm: some selector must allow command, keys and channels."""
    relevant, last_idx, idx = DENIED_CMD, 0, 0
    cache: list[list[tuple[int, int]] | None] = [None]
    for selector in user.selectors:
        result, found = selector.check(entry, argv, cache)
        if result == OK:
            return None
        if result != DENIED_CMD:
            idx = found
        if result > relevant or (result == relevant and idx > last_idx):
            relevant, last_idx = result, idx
    return AclDenial(relevant, last_idx, entry.name)


@dataclass(slots=True)
class LogEntry:
    """One ACL LOG entry; similar events within a minute bump ``count``."""

    count: int
    reason: str
    context: str
    object: bytes
    username: bytes
    ctime: int  # milliseconds
    client_info: str


class Acl:
    """The users of one server, its ACL LOG and its ACL file."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.default = new_default_user(self.allchannels_default)
        self.users: dict[bytes, User] = {b"default": self.default}
        self.log: deque[LogEntry] = deque()
        if server.config.requirepass:
            self.set_default_password(server.config.requirepass)
        server.config.on_change("requirepass", self.set_default_password)

    @property
    def allchannels_default(self) -> bool:
        return bool(self.server.config.value("acl-pubsub-default") == "allchannels")

    @property
    def auth_required(self) -> bool:
        """Clients that did not authenticate get NOAUTH (authRequired())."""
        default = self.default
        return not default.nopass or not default.enabled

    def new_user(self, name: bytes) -> User:
        return User(name, self.allchannels_default)

    def apply(self, user: User, op: bytes) -> None:
        user.apply(op, self.allchannels_default)

    # -- authentication ------------------------------------------------------------------
    def set_default_password(self, password: str) -> None:
        """``requirepass``: the default user's only password, or ``nopass`` when empty."""
        self.apply(self.default, b"resetpass")
        self.apply(self.default, b">" + password.encode("utf-8", "surrogateescape") if password else b"nopass")

    def authenticate(self, c: Client, username: bytes, password: bytes, command: bytes) -> bool:
        """ACLAuthenticateUser: switch the client to the user, or log the failure."""
        user = self.users.get(username)
        if user is not None and user.check_password(password):
            c.user = user
            c.authenticated = True
            c.refresh()
            return True
        self.log_event(c, "auth", self.context(c), command, username, command.decode("latin-1").lower())
        return False

    # -- permission checks ---------------------------------------------------------------
    def check_client(self, c: Client, cmd: Command | AclCommand, argv: list[bytes]) -> str | None:
        """The dispatcher's check: the -NOPERM error (and an ACL LOG entry), or None."""
        denial = check(c, cmd, argv)
        if denial is None:
            return None
        self.log_denial(c, denial, argv, self.context(c))
        return denial.message()

    @staticmethod
    def context(c: Client) -> str:
        return "multi" if c.multi is not None or c.in_exec else "toplevel"

    def log_denial(self, c: Client, denial: AclDenial, argv: list[bytes], context: str,
                   running: str | None = None) -> None:
        """Record a refused request in ACL LOG.

        ``context`` is "toplevel", "multi" or "lua"; ``running`` is the command the
        client info shows as ``cmd=`` (the refused one by default; EXEC for a queued
        command refused at EXEC, the EVAL/FCALL for a script's redis.call).
        """
        self.log_event(c, denial.reason_name, context, denial.object(argv), c.user.name,
                       running or denial.command)

    def log_event(self, c: Client, reason: str, context: str, obj: bytes, username: bytes,
                  running: str | None = None) -> None:
        """addACLLogEntry: a new entry, or a recent similar one counted again."""
        from sentrykv_server.commands.client_cmds import client_line

        now = time.time()
        if running is None:
            running = c.last_cmd.full_name if c.last_cmd is not None else "NULL"
        info = client_line(c, now, running)
        ctime = int(now * 1000)
        for scanned, entry in enumerate(self.log):
            if scanned == 10:
                break
            if (entry.reason == reason and entry.context == context and abs(entry.ctime - ctime) <= _GROUPING_MS
                    and entry.object == obj and entry.username == username):
                entry.count += 1
                entry.ctime = ctime
                entry.client_info = info
                del self.log[scanned]
                self.log.appendleft(entry)
                return
        self.log.appendleft(LogEntry(1, reason, context, obj, username, ctime, info))
        limit = int(self.server.config.value("acllog-max-len"))
        while len(self.log) > limit:
            self.log.pop()

    # -- changing users ------------------------------------------------------------------
    def set_user(self, caller: Client | None, name: bytes, ops: list[bytes]) -> None:
        """ACL SETUSER: all rules apply or none; raises RuleError(op, reason)."""
        existing = self.users.get(name)
        staged = self.new_user(name)
        if existing is not None:
            staged.copy_from(existing)
        for op in ops:
            try:
                self.apply(staged, op)
            except RuleError as exc:
                raise SetUserError(op, str(exc)) from None
        staged.update()
        if existing is None:
            self.users[name] = existing = self.new_user(name)
        else:
            self.kill_pubsub_clients_if_needed(caller, staged, existing)
        existing.copy_from(staged)
        self.refresh_clients(existing)

    def refresh_clients(self, user: User) -> None:
        """The user's rules changed: its clients take (or leave) the checked path."""
        for client in self.server.clients.values():
            if client.user is user:
                client.refresh()

    def delete_users(self, caller: Client | None, names: list[bytes]) -> int:
        deleted = 0
        for name in names:
            user = self.users.pop(name, None)
            if user is not None:
                self.disconnect_user(caller, user)
                deleted += 1
        return deleted

    def disconnect_user(self, caller: Client | None, user: User) -> None:
        """ACLFreeUserAndKillClients: the user is gone, so are its connections."""
        for client in list(self.server.clients.values()):
            if client.user is user:
                client.user = self.default
                client.authenticated = False
                client.refresh()
                if client is caller:
                    client.close_after_reply = True
                    client.closing = True
                else:
                    client.close()

    def kill_pubsub_clients_if_needed(self, caller: Client | None, new: User, old: User) -> None:
        """Disconnect the user's subscribers whose subscriptions the new rules refuse."""
        if any(s.allchannels for s in new.selectors):
            return
        upcoming = [p for s in new.selectors for p in s.channels]
        if all(p in upcoming for s in old.selectors for p in s.channels):
            return
        matchers = [compile_glob(p) for p in upcoming]
        for client in list(self.server.clients.values()):
            if client.user is not old or not (client.channels or client.patterns or client.shard_channels):
                continue
            kill = any(p not in upcoming for p in client.patterns) or any(
                not any(m(ch) for m in matchers) for ch in (*client.channels, *client.shard_channels))
            if kill:
                if client is caller:
                    client.close_after_reply = True
                    client.closing = True
                else:
                    client.close()

    # -- files ---------------------------------------------------------------------------
    @property
    def filename(self) -> str:
        return str(self.server.config.value("aclfile"))

    def file_path(self) -> str:
        """The ACL file, relative paths taken from ``dir`` (Redis runs chdir'ed there)."""
        path = self.filename
        return path if os.path.isabs(path) else os.path.join(os.path.abspath(self.server.config.dir), path)

    def load_file(self, caller: Client | None) -> str | None:
        """ACLLoadFromFile: replace every user, or change nothing and return the errors."""
        shown = self.filename
        try:
            with open(self.file_path(), "rb") as fh:
                text = fh.read()
        except OSError as exc:
            return f"Error loading ACLs, opening file '{shown}': {exc.strerror}"
        users: dict[bytes, User] = {}
        errors = ""
        for lineno, raw_line in enumerate(text.split(b"\n"), 1):
            line = raw_line.strip(b" \t\r\n")
            if not line:
                continue
            words = line.split(b" ")
            if words[0] != b"user" or len(words) < 2:
                errors += f"{shown}:{lineno} should start with user keyword followed by the username. "
                continue
            name = words[1]
            if has_spaces(name):
                errors += f"'{shown}:{lineno}: username '{_text(name)}' contains invalid characters. "
                continue
            if name in users:
                errors += f"WARNING: Duplicate user '{_text(name)}' found on line {lineno}. "
                continue
            user = users[name] = self.new_user(name)
            ops, _ = merge_selector_args(words[2:])
            if ops is None:
                errors += f"{shown}:{lineno}: Unmatched parenthesis in selector definition."
                continue
            reported = False
            for op in ops:
                op = op.strip(b"\t\r\n")
                try:
                    self.apply(user, op)
                except RuleError as exc:
                    # An unknown command is named; of other errors only the line's first is
                    # reported, without the rule (it may hold a password), as Redis does.
                    if str(exc) == UNKNOWN:
                        errors += f"{shown}:{lineno}: Error in applying operation '{_text(op)}': {exc}. "
                    elif not reported:
                        errors += f"{shown}:{lineno}: {exc}. "
                        reported = True
            user.update()
        if errors:
            return errors + "WARNING: ACL errors detected, no change to the previously active ACL rules was performed"
        new_default = users.pop(b"default", None) or new_default_user(self.allchannels_default)
        old = self.users
        self.default.copy_from(new_default)
        self.users = {b"default": self.default, **users}
        for name, user in old.items():
            if name != b"default":
                self.disconnect_user(caller, user)
        self.refresh_clients(self.default)
        return None

    def save_file(self) -> bool:
        """ACLSaveToFile: write every user, then atomically replace the file."""
        path = self.file_path()
        tmp = f"{path}.tmp-{os.getpid()}-{int(time.time() * 1000)}"
        try:
            with open(tmp, "wb") as fh:
                fh.write(self.file_text())
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
            _fsync_dir(os.path.dirname(path) or ".")
        except OSError as exc:
            log.warning("Writing ACL file for ACL SAVE: %s", exc.strerror)
            try:
                os.unlink(tmp)
            except OSError:
                pass
            return False
        return True

    def file_text(self) -> bytes:
        return b"".join(self.user_line(u) + b"\n" for u in self.sorted_users())

    def sorted_users(self) -> list[User]:
        return [self.users[name] for name in sorted(self.users)]

    @staticmethod
    def user_line(user: User) -> bytes:
        return b"user " + user.name + b" " + user.describe()

    def load_at_startup(self) -> None:
        """``user`` directives of the config file, then the ACL file (never both)."""
        config = self.server.config
        declared: list[list[str]] = config.acl_users
        if self.filename and declared:
            raise StartupError(
                "Configuring SentryKV with users defined in the configuration and at the same time an ACL file "
                "path is invalid. Define either an ACL file or users in the configuration, not both.")
        for words in declared:
            name = words[0].encode("utf-8", "surrogateescape")
            if has_spaces(name):
                raise StartupError("Spaces not allowed in ACL usernames")
            user = self.users.get(name)
            if user is None:
                user = self.users[name] = self.new_user(name)
            else:
                self.apply(user, b"reset")
            for word in words[1:]:
                try:
                    self.apply(user, word.encode("utf-8", "surrogateescape"))
                except RuleError as exc:
                    raise StartupError(f"Error loading ACL rule '{shown_rule(word)}' for the user named "
                                       f"'{words[0]}': {exc}") from None
            user.update()
            if not user.enabled:
                log.info("The user '%s' is disabled (there is no 'on' modifier in the user description). "
                         "Make sure this is not a configuration error.", words[0])
        if self.filename:
            errors = self.load_file(None)
            if errors:
                raise StartupError(f"Aborting SentryKV startup because of ACL errors: {errors}")

    def config_lines(self) -> list[str]:
        """CONFIG REWRITE: the users as ``user`` directives (none when an ACL file is used)."""
        if self.filename:
            return []
        return [self.user_line(u).decode("utf-8", "surrogateescape") for u in self.sorted_users()]


class SetUserError(ValueError):
    """A rule of ACL SETUSER was refused."""

    def __init__(self, op: bytes, reason: str) -> None:
        super().__init__(reason)
        self.op = op
        self.reason = reason


class StartupError(RuntimeError):
    """The configured users or the ACL file cannot be loaded: the server does not start."""


def validate_declared_user(words: list[str]) -> str | None:
    """ACLAppendUserForLoading's check of a ``user`` directive; the error text or None.

    Unknown commands are accepted here (Redis defers them until modules load).
    """
    user = User(b"__fakeuser__", False)
    ops, bad = merge_selector_args([w.encode("utf-8", "surrogateescape") for w in words[1:]])
    if ops is None:
        return f"Unmatched parenthesis in acl selector starting at '{words[1 + bad]}'."
    for op in ops:
        try:
            user.apply(op, False)
        except RuleError as exc:
            if str(exc) != UNKNOWN:
                return f"Error in user declaration '{shown_rule(op.decode('utf-8', 'surrogateescape'))}': {exc}"
    return None


def shown_rule(rule: str) -> str:
    """A rule as error messages in the log show it: never a clear-text password."""
    return rule[0] + "(redacted)" if rule[:1] in (">", "<") else rule


def duplicate_user_error(name: str) -> str:
    return f"Error in user declaration '{name}': {DUPLICATE_USER}"


def _text(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def _fsync_dir(path: str) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
