"""`sentrykv-cli [options] [command [arg ...]]`: entry point and option parsing.

Options are parsed by hand, redis-cli style: ``-h`` is the host (not help) and
everything from the first non-option word on is the command, so
``sentrykv-cli set k -1`` works without ``--``.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from sentrykv_cli import __version__, output, repl
from sentrykv_cli.exitcodes import ExitCode
from sentrykv_cli.resp import ConnectionLost, ProtocolError, TlsOptions
from sentrykv_cli.session import CannotConnect, Session, Target
from sentrykv_cli.vocabulary import HELP

USAGE = f"""\
sentrykv-cli {__version__}

Usage: sentrykv-cli [OPTIONS] [command [arg [arg ...]]]
  -h <hostname>      Server hostname (default: 127.0.0.1).
  -p <port>          Server port (default: 6379).
  -a <password>      Password for AUTH (or set SENTRYKV_CLI_AUTH, which keeps it out of `ps`).
  --user <username>  Username for AUTH (ACL style: AUTH <user> <password>).
  -n <db>            Database number.
  -u <uri>           redis://[user[:password]@]host[:port][/db]  (rediss:// = TLS).
  -x                 Read the last argument of the command from stdin.
  -t <seconds>       Connect timeout (default: 5).
  --raw              Print bare values (the default when stdout is not a terminal).
  --no-raw           Print redis-cli style (the default on a terminal).
  --tls              Connect with TLS.  --sni <host>  --cacert <file>  --cert <file>
                     --key <file>  --insecure (do not verify the server certificate).
  --help             This help.   -v, --version   Print the version.

Without a command: an interactive shell on a terminal, or one command per line
read from stdin. Type `help` in the shell for the SentryKV words (stats, status,
checkpoint, autockpt, flush, ...).

Exit status: 0 ok, 1 the server replied with an error, 2 usage error,
3 cannot connect (or the connection was lost).
"""


class UsageError(Exception):
    pass


@dataclass
class Options:
    target: Target = field(default_factory=Target)
    command: list[bytes] = field(default_factory=list)
    raw: bool | None = None
    stdin_arg: bool = False
    show_help: bool = False
    show_version: bool = False


_TLS_FILE_FLAGS = {"--cacert": "cacert", "--cert": "cert", "--key": "key", "--sni": "sni"}


def _int(flag: str, value: str, low: int, high: int) -> int:
    try:
        number = int(value)
    except ValueError:
        raise UsageError(f"{flag} expects a number, got {value!r}") from None
    if not low <= number <= high:
        raise UsageError(f"{flag} must be between {low} and {high}, got {number}")
    return number


def _apply_uri(t: Target, uri: str, tls: dict[str, object]) -> None:
    parts = urlsplit(uri)
    if parts.scheme not in ("redis", "rediss"):
        raise UsageError(f"-u expects a redis:// or rediss:// URI, got {uri!r}")
    if parts.scheme == "rediss":
        tls["enabled"] = True
    try:
        port = parts.port
    except ValueError:
        raise UsageError(f"bad port in URI {uri!r}") from None
    t.host = parts.hostname or t.host
    t.port = port or t.port
    if parts.username:
        # redis://:password@host has an empty user name: password only.
        t.user = unquote(parts.username) or None
    if parts.password is not None:
        t.password = unquote(parts.password)
    elif parts.username and not parts.password:
        t.password, t.user = unquote(parts.username), None
    path = parts.path.strip("/")
    if path:
        t.db = _int("-u (database)", path, 0, 1 << 31)


def parse_args(argv: list[str]) -> Options:
    """Parse redis-cli style options; raises :class:`UsageError`."""
    opts = Options()
    t = opts.target
    tls: dict[str, object] = {"enabled": False}
    i = 0

    def value(flag: str) -> str:
        nonlocal i
        if i + 1 >= len(argv):
            raise UsageError(f"{flag} needs a value")
        i += 1
        return argv[i]

    while i < len(argv):
        arg = argv[i]
        if arg == "-h":
            t.host = value(arg)
        elif arg == "-p":
            t.port = _int(arg, value(arg), 1, 65535)
        elif arg in ("-a", "--pass"):
            t.password = value(arg)
        elif arg == "--user":
            t.user = value(arg)
        elif arg == "-n":
            t.db = _int(arg, value(arg), 0, 1 << 31)
        elif arg == "-u":
            _apply_uri(t, value(arg), tls)
        elif arg == "-t":
            try:
                t.connect_timeout = float(value(arg))
            except ValueError:
                raise UsageError("-t expects a number of seconds") from None
        elif arg == "-x":
            opts.stdin_arg = True
        elif arg == "--raw":
            opts.raw = True
        elif arg == "--no-raw":
            opts.raw = False
        elif arg == "--tls":
            tls["enabled"] = True
        elif arg == "--insecure":
            tls["insecure"] = True
        elif arg in _TLS_FILE_FLAGS:
            tls[_TLS_FILE_FLAGS[arg]] = value(arg)
        elif arg in ("--help", "-?"):
            opts.show_help = True
        elif arg in ("-v", "--version"):
            opts.show_version = True
        elif arg.startswith("-") and len(arg) > 1 and not opts.command:
            raise UsageError(f"unrecognized option {arg!r}")
        else:
            # The command starts here; the rest of argv is its arguments, verbatim.
            opts.command = [os.fsencode(a) for a in argv[i:]]
            break
        i += 1
    if t.password is None and os.environ.get("SENTRYKV_CLI_AUTH"):
        t.password = os.environ["SENTRYKV_CLI_AUTH"]
    if tls.pop("enabled"):
        t.tls = TlsOptions(**tls)  # type: ignore[arg-type]
    elif len(tls) > 0:
        raise UsageError("--cacert/--cert/--key/--sni/--insecure need --tls")
    return opts


def run_one_shot(session: Session, command: list[bytes], raw: bool) -> ExitCode:
    """Connect, run one command, print its reply; the exit code tells a script what happened."""
    try:
        session.connect()
    except CannotConnect as exc:
        output.err(str(exc))
        return ExitCode.CANNOT_CONNECT
    if session.auth_warning:
        output.err(session.auth_warning)
        session.close()
        return ExitCode.SERVER_ERROR
    try:
        return repl.execute(session, command, raw)
    except (CannotConnect, ConnectionLost, ProtocolError) as exc:
        output.err(f"Error: connection to {session.address()} lost ({exc})")
        return ExitCode.CANNOT_CONNECT
    finally:
        session.close()


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point; returns (and exits with) an :class:`ExitCode`."""
    code = _main(sys.argv[1:] if argv is None else argv)
    if argv is None:
        sys.exit(int(code))
    return int(code)


def _main(argv: list[str]) -> ExitCode:
    try:
        opts = parse_args(argv)
    except UsageError as exc:
        output.err(f"sentrykv-cli: {exc}\nTry 'sentrykv-cli --help'.")
        return ExitCode.USAGE
    if opts.show_help:
        output.out(USAGE)
        return ExitCode.OK
    if opts.show_version:
        output.out(f"sentrykv-cli {__version__}\n")
        return ExitCode.OK
    raw = opts.raw if opts.raw is not None else not sys.stdout.isatty()
    session = Session(opts.target)
    try:
        if opts.command:
            command = opts.command
            if opts.stdin_arg:
                command = [*command, sys.stdin.buffer.read()]
            if command[0].lower() == b"help":
                output.out(HELP)  # needs no server
                return ExitCode.OK
            return run_one_shot(session, command, raw)
        if opts.stdin_arg:
            output.err("sentrykv-cli: -x needs a command")
            return ExitCode.USAGE
        if sys.stdin.isatty() and sys.stdout.isatty():
            return repl.run_interactive(session, raw)
        return repl.run_piped(session, raw)
    except KeyboardInterrupt:
        output.err("")
        return ExitCode.OK
    except BrokenPipeError:
        # `sentrykv-cli keys | head -1`: the reader went away, which is not our failure.
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the exit-time flush
        except OSError:
            pass
        return ExitCode.OK


if __name__ == "__main__":
    main()
