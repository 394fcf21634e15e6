"""ACL: SETUSER, GETUSER, DELUSER, LIST, USERS, WHOAMI, CAT, GENPASS, LOG, DRYRUN, LOAD, SAVE.

The users, the permission check and the ACL file live in
:mod:`sentrykv_server.acl`; this module parses the subcommands and shapes
the replies exactly as Redis 7.0 does (GETUSER is a map with the root
selector's fields at the top level and the other selectors in ``selectors``;
ACL LOG entries are maps of seven fields).  The dispatcher has already
checked each subcommand's existence and arity (see ``dispatch.check_command``)
for clients on the checked path; the handler checks them again for the others.
"""

from __future__ import annotations

import secrets
import time
from typing import TYPE_CHECKING, Any

from sentrykv_server.acl import SetUserError, check_entry
from sentrykv_server.acl_rules import Selector, has_spaces, merge_selector_args
from sentrykv_server.acl_table import CATEGORIES, CATEGORY_INDEX, table
from sentrykv_server.commands.connection import REDACTED
from sentrykv_server.commands.errors import CommandError, parse_int, unknown_subcommand
from sentrykv_server.commands.registry import COMMANDS, command
from sentrykv_server.protocol.reply import SetReply

if TYPE_CHECKING:
    from sentrykv_server.protocol.connection import Client

_HELP = [
    "ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CAT [<category>]",
    "    List all commands that belong to <category>, or all command categories",
    "    when no category is specified.",
    "DELUSER <username> [<username> ...]",
    "    Delete a list of users.",
    "DRYRUN <username> <command> [<arg> ...]",
    "    Returns whether the user can execute the given command without executing the command.",
    "GETUSER <username>",
    "    Get the user's details.",
    "GENPASS [<bits>]",
    "    Generate a secure 256-bit user password. The optional `bits` argument can",
    "    be used to specify a different size.",
    "LIST",
    "    Show users details in config file format.",
    "LOAD",
    "    Reload users from the ACL file.",
    "LOG [<count> | RESET]",
    "    Show the ACL log entries.",
    "SAVE",
    "    Save the current config to the ACL file.",
    "SETUSER <username> <attribute> [<attribute> ...]",
    "    Create or modify a user with the specified attributes.",
    "USERS",
    "    List all the registered usernames.",
    "WHOAMI",
    "    Return the current connection username.",
    "HELP",
    "    Prints this help.",
]

_NO_ACL_FILE = (
    "ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL "
    "SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in "
    "order to store users in the Redis configuration."
)
_GENPASS_MAX_BITS = 4096


def _text(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def _syntax(argv: list[bytes]) -> CommandError:
    """addReplySubcommandSyntaxError."""
    return CommandError(f"ERR unknown subcommand or wrong number of arguments for '{_text(argv[1][:128])}'. "
                        "Try ACL HELP.")


@command("acl", -2, "", group="server", since="6.0.0")
def acl_cmd(c: Client, argv: list[bytes]) -> Any:
    """Show and change the users and their permissions."""
    sub = argv[1].lower()
    entry = table().top["acl"].subcommands.get(sub.decode("latin-1"))
    if entry is None:
        raise unknown_subcommand(argv[1], argv[0])
    if (entry.arity > 0 and len(argv) != entry.arity) or len(argv) < -entry.arity:
        raise CommandError(f"ERR wrong number of arguments for '{entry.name}' command")
    handler = _SUBCOMMANDS[sub.decode()]
    return handler(c, argv)


def _setuser(c: Client, argv: list[bytes]) -> Any:
    request = list(argv)
    for i in range(2, len(argv)):  # nothing about the user leaks to SLOWLOG or MONITOR
        argv[i] = REDACTED
    name = request[2]
    if has_spaces(name):
        raise CommandError("ERR Usernames can't contain spaces or null characters")
    ops, bad = merge_selector_args(request[3:])
    if ops is None:
        raise CommandError(f"ERR Unmatched parenthesis in acl selector starting at '{_text(request[3 + bad])}'.")
    try:
        c.server.acl.set_user(c, name, ops)
    except SetUserError as exc:
        raise CommandError(f"ERR Error in ACL SETUSER modifier '{_text(exc.op)}': {exc.reason}") from None
    return "OK"


def _deluser(c: Client, argv: list[bytes]) -> Any:
    names = argv[2:]
    if b"default" in names:
        raise CommandError("ERR The 'default' user cannot be removed")
    return c.server.acl.delete_users(c, names)


def _selector_fields(selector: Selector) -> dict[bytes, Any]:
    return {
        b"commands": selector.describe_commands(),
        b"keys": selector.describe_keys(),
        b"channels": selector.describe_channels(),
    }


def _getuser(c: Client, argv: list[bytes]) -> Any:
    user = c.server.acl.users.get(argv[2])
    if user is None:
        return None
    reply: dict[bytes, Any] = {
        b"flags": SetReply(user.flag_list()),
        b"passwords": [p.encode() for p in user.passwords],
    }
    reply.update(_selector_fields(user.root))
    reply[b"selectors"] = [_selector_fields(s) for s in user.selectors[1:]]
    return reply


def _list(c: Client, argv: list[bytes]) -> Any:
    acl = c.server.acl
    return [acl.user_line(u) for u in acl.sorted_users()]


def _users(c: Client, argv: list[bytes]) -> Any:
    return [u.name for u in c.server.acl.sorted_users()]


def _whoami(c: Client, argv: list[bytes]) -> Any:
    return c.user.name


def _load(c: Client, argv: list[bytes]) -> Any:
    acl = c.server.acl
    if not acl.filename:
        raise CommandError(_NO_ACL_FILE)
    errors = acl.load_file(c)
    if errors is not None:
        raise CommandError("ERR " + errors)
    return "OK"


def _save(c: Client, argv: list[bytes]) -> Any:
    acl = c.server.acl
    if not acl.filename:
        raise CommandError(_NO_ACL_FILE)
    if not acl.save_file():
        raise CommandError("ERR There was an error trying to save the ACLs. Please check the server logs for more "
                           "information")
    return "OK"


def _cat(c: Client, argv: list[bytes]) -> Any:
    if len(argv) == 2:
        return [name.encode() for name in CATEGORIES]
    if len(argv) != 3:
        raise _syntax(argv)
    index = CATEGORY_INDEX.get(argv[2].decode("latin-1").lower())
    if index is None:
        raise CommandError(f"ERR Unknown category '{_text(argv[2][:128])}'")
    return [e.name.encode() for e in table().by_id if e.categories >> index & 1]


def _genpass(c: Client, argv: list[bytes]) -> Any:
    if len(argv) > 3:
        raise _syntax(argv)
    bits = parse_int(argv[2]) if len(argv) == 3 else 256
    if bits <= 0 or bits > _GENPASS_MAX_BITS:
        raise CommandError("ERR ACL GENPASS argument must be the number of bits for the output password, a "
                           f"positive number up to {_GENPASS_MAX_BITS}")
    chars = (bits + 3) // 4
    return secrets.token_hex((chars + 1) // 2)[:chars].encode()


def _log(c: Client, argv: list[bytes]) -> Any:
    if len(argv) > 3:
        raise _syntax(argv)
    acl = c.server.acl
    count = 10
    if len(argv) == 3:
        if argv[2].lower() == b"reset":
            acl.log.clear()
            return "OK"
        count = max(0, parse_int(argv[2]))
    now = int(time.time() * 1000)
    out = []
    for entry in list(acl.log)[:count]:
        out.append({
            b"count": entry.count,
            b"reason": entry.reason.encode(),
            b"context": entry.context.encode(),
            b"object": entry.object,
            b"username": entry.username,
            b"age-seconds": (now - entry.ctime) / 1000,
            b"client-info": entry.client_info.encode("utf-8", "replace"),
        })
    return out


def _dryrun(c: Client, argv: list[bytes]) -> Any:
    server = c.server
    user = server.acl.users.get(argv[2])
    if user is None:
        raise CommandError(f"ERR User '{_text(argv[2])}' not found")
    request = argv[3:]
    t = table()
    cmd = server.find_command(request[0])
    name = request[0].decode("latin-1").lower()
    if cmd is not None:
        entry = t.top.get(cmd.name)
    elif name in COMMANDS:  # implemented, but renamed away by rename-command
        entry = None
    else:  # a Redis command SentryKV does not implement: its rules still apply
        entry = t.top.get(name)
    if entry is not None and entry.subcommands and len(request) > 1:
        entry = entry.subcommands.get(request[1].decode("latin-1").lower())
    if entry is None:
        raise CommandError(f"ERR Command '{_text(request[0])}' not found")
    if (entry.arity > 0 and len(request) != entry.arity) or len(request) < -entry.arity:
        raise CommandError(f"ERR wrong number of arguments for '{entry.name}' command")
    denial = check_entry(user, entry, request) if user.restricted else None
    if denial is None:
        return "OK"
    return denial.dryrun_message(request)


_SUBCOMMANDS = {
    "setuser": _setuser, "deluser": _deluser, "getuser": _getuser, "list": _list, "users": _users,
    "whoami": _whoami, "load": _load, "save": _save, "cat": _cat, "genpass": _genpass, "log": _log,
    "dryrun": _dryrun, "help": lambda c, argv: _HELP,
}
