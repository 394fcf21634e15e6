"""``python -m sentrykv_server.tools.build [--require compiled|pure]``: which build is installed.

Prints what the server would log at start-up and where each compiled-or-not
module comes from; with ``--require`` it exits 1 when another build runs, which
is how the Docker image refuses to ship a silent pure-Python fallback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from sentrykv_server import buildinfo


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sentrykv_server.tools.build")
    parser.add_argument("--require", choices=["compiled", "pure"])
    args = parser.parse_args(argv)
    print(buildinfo.describe())
    for name in buildinfo.COMPILED:
        print(f"  {name}: {'compiled' if buildinfo.is_compiled(sys.modules[name]) else 'source'}")
    if args.require and buildinfo.build_kind() != args.require:
        print(f"error: the {args.require} build was required", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
