"""The read-eval-print loops: prompt_toolkit on a terminal, plain lines otherwise.

When stdin is not a terminal (``printf 'set a 1\\nget a\\n' | sentrykv-cli``)
there is nobody to show a prompt to and prompt_toolkit would refuse to start,
so lines are read straight from stdin and the run behaves like a script: the
exit status reports the first failure.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from typing import Any

from sentrykv_cli import output, streams, vocabulary
from sentrykv_cli.argsplit import SplitError, split_args
from sentrykv_cli.exitcodes import ExitCode
from sentrykv_cli.resp import ConnectionLost, ProtocolError
from sentrykv_cli.session import CannotConnect, Session
from sentrykv_cli.vocabulary import Outcome

QUIT_WORDS = frozenset({b"quit", b"exit"})

def prompt_text(session: Session) -> str:
    if not session.connected:
        return "not connected> "
    db = f"[{session.target.db}]" if session.target.db else ""
    return f"{session.address()}{db}> "


def execute(session: Session, args: list[bytes], raw: bool) -> ExitCode:
    """Run one parsed command line and print its result; returns its exit code."""
    if streams.is_streaming(args):
        return ExitCode.OK if streams.follow(session, args, raw) else ExitCode.SERVER_ERROR
    result = vocabulary.run(session, args, raw)
    if result.outcome is Outcome.USAGE:
        output.err(result.text)
    else:
        output.out(result.text)
    if result.outcome is Outcome.ERROR:
        return ExitCode.SERVER_ERROR
    if result.outcome is Outcome.USAGE:
        return ExitCode.USAGE
    return ExitCode.OK


def _lines(stream: Iterable[bytes]) -> Iterator[str]:
    for raw_line in stream:
        yield raw_line.decode("utf-8", "surrogateescape").rstrip("\r\n")


def run_piped(session: Session, raw: bool) -> ExitCode:
    """Execute stdin line by line; the exit code is that of the first failing line.

    A lost or refused connection stops the run (exit 3): the remaining lines
    may depend on the ones that could not run.
    """
    try:
        session.connect()
    except CannotConnect as exc:
        output.err(str(exc))
        return ExitCode.CANNOT_CONNECT
    if session.auth_warning:
        output.err(session.auth_warning)
    status = ExitCode.OK
    for line in _lines(sys.stdin.buffer):
        try:
            args = split_args(line)
        except SplitError:
            output.err("Invalid argument(s)")
            status = status or ExitCode.USAGE
            continue
        if not args:
            continue
        if args[0].lower() in QUIT_WORDS:
            break
        try:
            code = execute(session, args, raw)
        except (CannotConnect, ConnectionLost, ProtocolError) as exc:
            output.err(_lost_message(session, exc))
            return ExitCode.CANNOT_CONNECT
        status = status or code
    session.close()
    return status


def _lost_message(session: Session, exc: Exception) -> str:
    if isinstance(exc, CannotConnect):
        return str(exc)
    return f"Error: connection to {session.address()} lost ({exc})"


def _history_path() -> str | None:
    path = os.environ.get("SENTRYKV_CLI_HISTFILE")
    if path is not None:
        return path or None  # empty string disables history, like REDISCLI_HISTFILE=/dev/null
    home = os.path.expanduser("~")
    if not os.path.isdir(home) or not os.access(home, os.W_OK):
        return None
    return os.path.join(home, ".sentrykv_cli_history")


def _confirm_clear(session: Session, prompt: Any) -> bool:
    """`clear` wipes the database here, while in redis-cli it clears the screen: ask first."""
    db = session.target.db
    try:
        answer = prompt.prompt(f"clear deletes every key in database {db} (FLUSHDB). Type yes to confirm: ")
    except (EOFError, KeyboardInterrupt):
        return False
    return str(answer).strip().lower() == "yes"


def run_interactive(session: Session, raw: bool) -> ExitCode:
    """The terminal REPL: history, tab completion, reconnects instead of tracebacks."""
    # Imported here so one-shot and piped runs (health checks, scripts) start fast.
    from prompt_toolkit import PromptSession
    from prompt_toolkit.history import FileHistory, History, InMemoryHistory

    from sentrykv_cli.completion import CommandCompleter

    hist_path = _history_path()
    history: History = FileHistory(hist_path) if hist_path else InMemoryHistory()
    # Complete on Tab only, as redis-cli does: a menu popping up while typing
    # values would get in the way.
    prompt: PromptSession[str] = PromptSession(
        history=history, completer=CommandCompleter(), complete_while_typing=False
    )
    _try_connect(session)
    while True:
        try:
            line = prompt.prompt(prompt_text(session))
        except KeyboardInterrupt:
            continue
        except EOFError:
            break
        try:
            args = split_args(line)
        except SplitError:
            output.err("Invalid argument(s)")
            continue
        if not args:
            continue
        if args[0].lower() in QUIT_WORDS:
            break
        if args[0].lower() == b"clear" and len(args) == 1 and not _confirm_clear(session, prompt):
            output.out("(cancelled)\n")
            continue
        if not session.connected and args[0].lower() != b"help" and not _try_connect(session):
            continue
        try:
            execute(session, args, raw)
        except KeyboardInterrupt:
            # A reply may still be on its way: this connection can no longer be trusted.
            session.close()
            output.err("(interrupted; the connection was closed and will be reopened)")
        except (ConnectionLost, ProtocolError) as exc:
            session.close()
            output.err(f"Error: connection to {session.address()} lost while running the command "
                       f"({exc}); it may or may not have been applied.")
            if _try_connect(session):
                output.err(f"Reconnected to {session.address()}.")
        except CannotConnect as exc:
            output.err(str(exc))
    session.close()
    return ExitCode.OK


def _try_connect(session: Session) -> bool:
    try:
        session.connect()
    except CannotConnect as exc:
        output.err(str(exc))
        return False
    if session.auth_warning:
        output.err(session.auth_warning)
    return True
