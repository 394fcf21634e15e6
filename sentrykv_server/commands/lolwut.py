"""LOLWUT: a piece of generative art and the version, as Redis's lolwut.c answers.

The reply shape and argument handling follow Redis 7.0: ``LOLWUT [VERSION v]
[args...]`` with ``v`` 5 or 6 draws that version's piece and anything else
(7.0's own) prints only ``Redis ver. <version>``.  The drawings are
SentryKV's own:

* version 5: a grid of squares that come apart row by row, after Georg Nees's
  *Schotter* (1968), drawn with Braille characters (2x4 pixels each);
  arguments ``[columns] [squares-per-row] [squares-per-column]``;
* version 6: a night skyline with lit windows and stars;
  arguments ``[columns] [rows]``.

Both are random, as Redis's are.
"""

from __future__ import annotations

import math
import random
from typing import TYPE_CHECKING, Any

from sentrykv_server import REDIS_COMPAT_VERSION
from sentrykv_server.commands.errors import parse_int
from sentrykv_server.commands.registry import command
from sentrykv_server.protocol.reply import Verbatim

if TYPE_CHECKING:
    from sentrykv_server.protocol.connection import Client

# Braille dot bit of each pixel of a 2x4 character cell, by (x, y).
_DOTS = {(0, 0): 0, (0, 1): 1, (0, 2): 2, (1, 0): 3, (1, 1): 4, (1, 2): 5, (0, 3): 6, (1, 3): 7}
_BRAILLE = {code: chr(0x2800 + code) for code in range(256)}


class Canvas:
    """A monochrome pixel grid (one byte per pixel) rendered as Braille text."""

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.pixels = bytearray(width * height)

    def line(self, x0: int, y0: int, x1: int, y1: int) -> None:
        """Bresenham's line, clipped to the canvas."""
        width, height, pixels = self.width, self.height, self.pixels
        dx, dy = abs(x1 - x0), -abs(y1 - y0)
        sx, sy = (1 if x0 < x1 else -1), (1 if y0 < y1 else -1)
        err = dx + dy
        while True:
            if 0 <= x0 < width and 0 <= y0 < height:
                pixels[y0 * width + x0] = 1
            if x0 == x1 and y0 == y1:
                return
            e2 = 2 * err
            if e2 >= dy:
                err += dy
                x0 += sx
            if e2 <= dx:
                err += dx
                y0 += sy

    def render(self) -> str:
        """Each band of 4 pixel rows becomes one text row.  A pixel byte is 0 or 1, so
        shifting a whole row slice (as one big integer) by the dot's bit number sets that
        bit in every cell at once; the sum of the eight shifted slices is the cells' codes."""
        width = self.width + (self.width & 1)
        rows = [self.pixels[y * self.width:(y + 1) * self.width] + b"\0" * (width - self.width)
                for y in range(self.height)]
        blank = bytes(width)
        cells = width // 2
        out = []
        for top in range(0, self.height, 4):
            band = [rows[top + i] if top + i < self.height else blank for i in range(4)]
            code = 0
            for (dx, dy), bit in _DOTS.items():
                code |= int.from_bytes(band[dy][dx::2], "big") << bit
            out.append(code.to_bytes(cells, "big").decode("latin-1").translate(_BRAILLE))
        return "\n".join(out)


def schotter(columns: int, per_row: int, per_column: int) -> str:
    """Squares on a grid, rotated and shifted more the lower their row.

    The canvas has Redis's proportions (``columns`` characters of 2 pixels, a
    2-pixel margin, square cells), so the reply has as many lines as Redis's.
    """
    width = columns * 2
    margin = 2 if width > 4 else 0
    side = (width - 2 * margin) / per_row
    canvas = Canvas(width, int(side * per_column + 2 * margin))
    half = side / 2
    for row in range(per_column):
        disorder = row / max(1, per_column - 1)
        for col in range(per_row):
            cx = margin + (col + 0.5) * side + random.uniform(-1, 1) * disorder * side / 4
            cy = margin + (row + 0.5) * side + random.uniform(-1, 1) * disorder * side / 4
            angle = random.uniform(-1, 1) * disorder * math.pi / 4
            corners = []
            for k in range(4):
                a = angle + math.pi / 4 + k * math.pi / 2
                r = half * math.sqrt(2) * 0.9
                corners.append((round(cx + r * math.cos(a)), round(cy + r * math.sin(a))))
            for k in range(4):
                (x0, y0), (x1, y1) = corners[k], corners[(k + 1) % 4]
                canvas.line(x0, y0, x1, y1)
    return canvas.render()


def skyline(columns: int, rows: int) -> str:
    """Buildings of random heights with lit windows under a starry sky."""
    grid = [[" "] * columns for _ in range(rows)]
    x = 0
    while x < columns:
        width = random.randint(3, 8)
        height = random.randint(max(1, rows // 4), max(1, rows - 2))
        for y in range(rows - height, rows):
            for dx in range(min(width, columns - x)):
                edge = dx in (0, width - 1) or y == rows - height
                grid[y][x + dx] = "|" if dx in (0, width - 1) else "_" if edge else (
                    "o" if random.random() < 0.35 else ".")
        x += width + random.randint(0, 2)
    for _ in range(columns * rows // 25):
        y, x = random.randrange(max(1, rows // 2)), random.randrange(columns)
        if grid[y][x] == " ":
            grid[y][x] = random.choice("*+.")
    return "\n".join("".join(line) for line in grid)


def _clamped(argv: list[bytes], index: int, default: int, low: int, high: int) -> int:
    value = parse_int(argv[index]) if len(argv) > index else default
    return min(max(value, low), high)


@command("lolwut", -1, "readonly fast", group="server", since="5.0.0")
def lolwut_cmd(c: Client, argv: list[bytes]) -> Any:
    """Show some computer art and the version."""
    version = REDIS_COMPAT_VERSION
    args = argv
    if len(argv) >= 3 and argv[1].lower() == b"version":
        wanted = parse_int(argv[2])
        version = f"{wanted & 0xFFFFFFFF}.0.0"  # Redis formats it as an unsigned int
        args = argv[:1] + argv[3:]
    major, _, rest = version.partition(".")
    if (major == "5" and not rest.startswith("9")) or (major == "4" and rest.startswith("9")):
        art = schotter(_clamped(args, 1, 66, 1, 1000), _clamped(args, 2, 8, 1, 200),
                       _clamped(args, 3, 12, 1, 200))
        text = f"{art}\n\nAfter Georg Nees, Schotter (1968). Redis ver. {REDIS_COMPAT_VERSION}\n"
    elif (major == "6" and not rest.startswith("9")) or (major == "5" and rest.startswith("9")):
        art = skyline(_clamped(args, 1, 80, 1, 1000), _clamped(args, 2, 20, 1, 1000))
        text = (f"{art}\nA city that never sleeps, drawn for LOLWUT 6.\n"
                f"SentryKV's own picture. Redis ver. {REDIS_COMPAT_VERSION}\n")
    else:
        text = f"Redis ver. {REDIS_COMPAT_VERSION}\n"
    return Verbatim(text.encode())
