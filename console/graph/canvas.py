"""A character grid with a style per cell, on which lines join into box-drawing characters.

Lines are collected as connections (north, east, south, west) per cell and turned into characters at
the end, so that a branch becomes ``┬``, two lines crossing become ``┼`` and a turn becomes ``┐``.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

from rich.cells import cell_len, get_character_cell_size
from rich.text import Text

NORTH, EAST, SOUTH, WEST = 1, 2, 4, 8
LINE_CHARS = {
    0: " ", NORTH: "│", SOUTH: "│", NORTH | SOUTH: "│", EAST: "─", WEST: "─", EAST | WEST: "─",
    EAST | SOUTH: "┌", WEST | SOUTH: "┐", NORTH | EAST: "└", NORTH | WEST: "┘",
    NORTH | EAST | SOUTH: "├", NORTH | WEST | SOUTH: "┤", EAST | WEST | SOUTH: "┬", EAST | WEST | NORTH: "┴",
    NORTH | EAST | SOUTH | WEST: "┼",
}
Point = tuple[int, int]


class Canvas:
    """A ``width`` x ``height`` grid of characters, each with an optional Rich style."""

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.chars = [[" "] * width for _ in range(height)]
        self.styles: list[list[str | None]] = [[None] * width for _ in range(height)]
        self._masks = [[0] * width for _ in range(height)]
        self._line_rank = [[-1] * width for _ in range(height)]

    def polyline(self, points: Iterable[Point], style: str, rank: int = 0) -> None:
        """Add an orthogonal line through ``points``; where lines share a cell the higher ``rank`` styles it."""
        points = list(points)
        if points:
            self._connect(points[0], WEST, style, rank)  # a line starts against the box it leaves
        for (x0, y0), (x1, y1) in zip(points, points[1:], strict=False):
            if x0 != x1 and y0 != y1:
                raise ValueError(f"segment {(x0, y0)} -> {(x1, y1)} is not horizontal or vertical")
            if y0 == y1:
                for x in range(min(x0, x1), max(x0, x1)):
                    self._connect((x, y0), EAST, style, rank)
                    self._connect((x + 1, y0), WEST, style, rank)
            else:
                for y in range(min(y0, y1), max(y0, y1)):
                    self._connect((x0, y), SOUTH, style, rank)
                    self._connect((x0, y + 1), NORTH, style, rank)

    def _connect(self, point: Point, direction: int, style: str, rank: int) -> None:
        x, y = point
        if not (0 <= x < self.width and 0 <= y < self.height):
            return
        self._masks[y][x] |= direction
        self.chars[y][x] = LINE_CHARS[self._masks[y][x]]
        if rank >= self._line_rank[y][x]:
            self._line_rank[y][x] = rank
            self.styles[y][x] = style

    def write(self, x: int, y: int, text: str, style: str | None = None) -> None:
        """Write ``text`` from (``x``, ``y``) rightwards over whatever is there, clipped to the grid.

        A double-width character takes two cells (the second holds ``""``); a zero-width one joins the
        character before it, so that columns stay aligned.
        """
        if not 0 <= y < self.height:
            return
        for char in text:
            size = get_character_cell_size(char)
            if size == 0:
                if 0 < x <= self.width:
                    self.chars[y][x - 1] += char
                continue
            for cell in range(x, x + size):
                if 0 <= cell < self.width:
                    self.chars[y][cell] = char if cell == x else ""
                    self.styles[y][cell] = style
            x += size

    def to_plain(self) -> str:
        """The grid as text, trailing spaces removed from each line."""
        return "\n".join("".join(row).rstrip() for row in self.chars)

    def to_rich(self) -> Text:
        """The grid as a Rich ``Text``, one span per run of equally styled cells."""
        text = Text(no_wrap=True, overflow="ignore")
        for y, row in enumerate(self.chars):
            if y:
                text.append("\n")
            end = len(row)
            while end and row[end - 1] == " ":
                end -= 1
            start = 0
            while start < end:
                style = self.styles[y][start]
                stop = start
                while stop < end and self.styles[y][stop] == style:
                    stop += 1
                text.append("".join(row[start:stop]), style=style or "")
                start = stop
        return text


def fit(text: str, cells: int) -> str:
    """``text`` on one line in at most ``cells`` terminal cells, ending in ``…`` when shortened."""
    text = "".join(" " if unicodedata.category(char)[0] == "C" else char for char in text).strip()
    if cell_len(text) <= cells:
        return text
    kept, used = [], 0
    for char in text:
        size = get_character_cell_size(char)
        if used + size > cells - 1:
            break
        kept.append(char)
        used += size
    return "".join(kept).rstrip() + "…"
