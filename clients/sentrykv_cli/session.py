"""The CLI's connection state: where to connect, AUTH/SELECT on (re)connect.

Kept apart from the REPL so one-shot mode, the REPL and the vocabulary all
share one notion of "connected", and so a dropped connection can be restored
with the same credentials and database the user last selected.
"""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass

from sentrykv_cli.resp import Connection, ConnectionLost, ErrorReply, Reply, TlsOptions


class CannotConnect(Exception):
    """Raised with the exact message the user should see."""


@dataclass
class Target:
    host: str = "127.0.0.1"
    port: int = 6379
    password: str | None = None
    user: str | None = None
    db: int = 0
    tls: TlsOptions | None = None
    connect_timeout: float = 5.0


class Session:
    """Owns at most one live :class:`Connection` and knows how to rebuild it."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.conn: Connection | None = None
        self.auth_warning: str | None = None

    @property
    def connected(self) -> bool:
        return self.conn is not None

    def address(self) -> str:
        return f"{self.target.host}:{self.target.port}"

    def connect(self) -> None:
        """(Re)connect, then AUTH and SELECT as configured.

        Raises :class:`CannotConnect` if the TCP/TLS connection fails. A refused
        AUTH/SELECT does not raise: it is kept in :attr:`auth_warning` so the
        caller decides (one-shot mode exits 1, the REPL just shows it).
        """
        self.close()
        t = self.target
        try:
            conn = Connection(t.host, t.port, timeout=t.connect_timeout, tls=t.tls)
        except ssl.SSLError as exc:
            raise CannotConnect(f"Could not connect to SentryKV at {self.address()}: TLS error: {exc}") from None
        except socket.gaierror as exc:
            raise CannotConnect(
                f"Could not connect to SentryKV at {self.address()}: {exc.strerror or exc}"
            ) from None
        except TimeoutError:
            raise CannotConnect(f"Could not connect to SentryKV at {self.address()}: Connection timed out") from None
        except OSError as exc:
            reason = exc.strerror or str(exc) or type(exc).__name__
            raise CannotConnect(f"Could not connect to SentryKV at {self.address()}: {reason}") from None
        self.conn = conn
        self.auth_warning = None
        try:
            if t.password is not None:
                args = [b"AUTH"] + ([t.user.encode()] if t.user else []) + [t.password.encode()]
                reply = conn.call(args)
                if isinstance(reply, ErrorReply):
                    self.auth_warning = f"AUTH failed: {reply.message}"
                    return
            if t.db:
                reply = conn.call([b"SELECT", str(t.db).encode()])
                if isinstance(reply, ErrorReply):
                    self.auth_warning = f"SELECT {t.db} failed: {reply.message}"
                    t.db = 0
        except ConnectionLost as exc:
            self.close()
            raise CannotConnect(f"Could not connect to SentryKV at {self.address()}: {exc}") from None

    def call(self, args: list[bytes]) -> Reply:
        """Run one command; on a lost connection the session is left disconnected."""
        if self.conn is None:
            self.connect()
        assert self.conn is not None
        try:
            reply = self.conn.call(args)
        except ConnectionLost:
            self.close()
            raise
        self._track(args, reply)
        return reply

    def _track(self, args: list[bytes], reply: Reply) -> None:
        """Remember a successful SELECT/AUTH so a reconnect restores them (as redis-cli does)."""
        if isinstance(reply, ErrorReply) or not args:
            return
        name = args[0].lower()
        if name == b"select" and len(args) == 2:
            try:
                self.target.db = int(args[1])
            except ValueError:
                pass
        elif name == b"auth" and len(args) in (2, 3):
            self.target.password = args[-1].decode("utf-8", "surrogateescape")
            self.target.user = args[1].decode("utf-8", "surrogateescape") if len(args) == 3 else None

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None
