"""Writing to stdout/stderr without ever failing on binary values.

Values are arbitrary bytes; they are decoded with ``surrogateescape`` for
formatting, so they must be re-encoded the same way to reach the terminal or a
pipe byte-for-byte (``print`` would raise UnicodeEncodeError instead).
"""

from __future__ import annotations

import sys
from typing import TextIO


def _write(stream: TextIO, text: str) -> None:
    data = text.encode("utf-8", "surrogateescape")
    buffer = getattr(stream, "buffer", None)
    if buffer is not None:
        stream.flush()
        buffer.write(data)
        buffer.flush()
    else:  # e.g. a StringIO in tests
        stream.write(data.decode("utf-8", "replace"))
        stream.flush()


def out(text: str) -> None:
    _write(sys.stdout, text)


def err(text: str) -> None:
    """One message line for stderr (adds the newline)."""
    _write(sys.stderr, text if text.endswith("\n") else text + "\n")
