"""Commands whose connection keeps talking after the first reply.

After MONITOR or (P/S)SUBSCRIBE the server pushes messages until the client
disconnects, so a normal request/reply loop would print the next message as the
answer to the next command. Like redis-cli, the CLI prints messages until
Ctrl-C and then drops the connection (the next command reconnects).
"""

from __future__ import annotations

from sentrykv_cli import output
from sentrykv_cli.format import format_reply
from sentrykv_cli.resp import ErrorReply
from sentrykv_cli.session import Session

STREAMING = frozenset({b"monitor", b"subscribe", b"psubscribe", b"ssubscribe"})


def is_streaming(args: list[bytes]) -> bool:
    return bool(args) and args[0].lower() in STREAMING


def follow(session: Session, args: list[bytes], raw: bool) -> bool:
    """Run a streaming command and print until Ctrl-C or disconnect; False if it failed."""
    first = session.call(args)
    output.out(format_reply(first, raw))
    if isinstance(first, ErrorReply) or session.conn is None:
        return not isinstance(first, ErrorReply)
    if args[0].lower() != b"monitor":
        output.err("Reading messages... (press Ctrl-C to quit)")
    try:
        while True:
            output.out(format_reply(session.conn.read_reply(), raw))
    except KeyboardInterrupt:
        pass
    finally:
        session.close()
    return True
