"""`sentrykv-server [config-file] [--directive value ...]` (uvicorn's main.py).

Parses the command line the way redis-server does, builds the one Config
object, sets up logging and hands over to :func:`sentrykv_server.server.run`.
"""

from __future__ import annotations

import logging
import sys

from sentrykv_server import __version__
from sentrykv_server.config import Config, ConfigError, build_config

_LEVELS = {
    "debug": logging.DEBUG, "verbose": logging.INFO, "notice": logging.INFO,
    "warning": logging.WARNING, "nothing": logging.CRITICAL + 10,
}

USAGE = """Usage: sentrykv-server [/path/to/sentrykv.conf] [--directive value ...]
       sentrykv-server -v | --version
       sentrykv-server -h | --help

Examples:
       sentrykv-server                       (127.0.0.1:6379, data in ./data)
       sentrykv-server /etc/sentrykv.conf
       sentrykv-server --port 7000 --dir /var/lib/sentrykv --appendfsync always
       sentrykv-server --dir /var/lib/sentrykv --import-rdb dump.rdb
                      (load a Redis dump.rdb into a fresh data dir, then serve it)
"""


def setup_logging(config: Config) -> None:
    handler: logging.Handler
    handler = logging.FileHandler(config.logfile) if config.logfile else logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(process)d:M %(asctime)s.%(msecs)03d %(levelname).1s %(message)s",
                                           "%d %b %Y %H:%M:%S"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(_LEVELS.get(config.loglevel, logging.INFO))


def _take_option(args: list[str], name: str) -> tuple[str | None, list[str]]:
    """Remove ``name VALUE`` (not a config directive) from the arguments."""
    if name not in args:
        return None, args
    i = args.index(name)
    if i + 1 >= len(args):
        print(f"{name} needs a file name", file=sys.stderr)
        sys.exit(1)
    return args[i + 1], args[:i] + args[i + 2:]


def _import(path: str, config: Config) -> None:
    """--import-rdb: load a Redis RDB file into the (fresh) data directory before serving."""
    import os

    from sentrykv_server.persistence.rdb.transfer import TransferError, import_rdb

    try:
        import_rdb(path, os.path.abspath(config.dir), config)
    except TransferError as exc:
        print(f"*** FATAL: cannot import {path}: {exc}", file=sys.stderr)
        sys.exit(1)


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] in ("-v", "--version"):
        print(f"SentryKV server v={__version__}")
        return
    if args and args[0] in ("-h", "--help"):
        print(USAGE)
        return
    import_path, args = _take_option(args, "--import-rdb")
    try:
        config = build_config(args)
    except ConfigError as exc:
        print(f"\n*** FATAL CONFIG FILE ERROR ***\n{exc.reason}", file=sys.stderr)
        sys.exit(1)
    setup_logging(config)
    if import_path is not None:
        _import(import_path, config)
    config.on_change("loglevel", lambda level: logging.getLogger().setLevel(_LEVELS.get(level, logging.INFO)))
    from sentrykv_server.server import run

    sys.exit(run(config))
