"""Protected mode and protected commands (Redis's networking.c / server.c gates).

*Protected mode* (``protected-mode yes``, the default): while the default
user needs no password, only clients connecting from the loopback addresses
``127.0.0.1`` and ``::1`` are served.  Any other client gets Redis's
``-DENIED`` explanation and is disconnected.  The decision is Redis's string
comparison of the peer address, so ``127.0.0.2`` counts as remote, and the
``bind`` directive plays no part (Redis 7.0 dropped that condition).

*Protected commands*: ``DEBUG`` and ``MODULE LOAD/LOADEX/UNLOAD`` run only when
``enable-debug-command`` / ``enable-module-command`` is ``yes``, or ``local``
and the client is on a loopback address.  Both directives default to ``no``
and cannot be changed at run time (CONFIG SET refuses), so a client cannot
enable them for itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sentrykv_server.protocol.connection import Client
    from sentrykv_server.server import Server

LOCAL_ADDRESSES = frozenset({"127.0.0.1", "::1"})

DENIED = (
    b"-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for "
    b"the default user. In this mode connections are only accepted from the loopback interface. If you want to "
    b"connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable "
    b"protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by "
    b"connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly "
    b"accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively "
    b"you can just disable the protected mode by editing the Redis configuration file, and setting the protected "
    b"mode option to 'no', and then restarting the server. 3) If you started the server manually just for "
    b"testing, restart it with the '--protected-mode no' option. 4) Setup a an authentication password for the "
    b"default user. NOTE: You only need to do one of the above things in order for the server to start "
    b"accepting connections from the outside.\r\n"
)


def is_local(peer_ip: str) -> bool:
    """Redis's islocalClient for TCP: exactly the IPv4 and IPv6 loopback addresses."""
    return peer_ip in LOCAL_ADDRESSES


def refuses_connection(server: Server, peer_ip: str) -> bool:
    """Protected mode: no password on the default user and a non-loopback peer."""
    return bool(server.config.value("protected-mode")) and server.acl.default.nopass and not is_local(peer_ip)


def protected_command_error(c: Client, directive: str) -> str | None:
    """The refusal of a protected command under ``directive`` (no / yes / local), or None."""
    setting = c.server.config.value(directive)
    if setting == "yes" or (setting == "local" and is_local(c.peer_ip)):
        return None
    name = "DEBUG" if directive == "enable-debug-command" else "MODULE"
    return (f'ERR {name} command not allowed. If the {directive} option is set to "local", you can run it from '
            "a local connection, otherwise you need to set this option in the configuration file, and then "
            "restart the server.")
