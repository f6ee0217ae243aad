"""A character grid with a style per cell, on which lines join into box-drawing characters.

Lines are collected as connections (north, east, south, west) per cell and turned into characters at
the end, so that a branch becomes ``┬``, two lines crossing become ``┼`` and a turn becomes ``┐``.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

from rich.cells import cell_len, get_character_cell_size
from rich.text import Span, Text

NORTH, EAST, SOUTH, WEST = 1, 2, 4, 8
_DIRECTIONS = {"UP": NORTH, "RIGHT": EAST, "DOWN": SOUTH, "LEFT": WEST, "VERTICAL": NORTH | SOUTH,
               "HORIZONTAL": EAST | WEST}
_OPPOSITE = {NORTH: SOUTH, SOUTH: NORTH, EAST: WEST, WEST: EAST}


def _line_chars() -> dict[tuple[int, int], str]:
    """(directions, heavy directions) -> character, read from the names of Unicode's box-drawing block.

    A name like ``BOX DRAWINGS DOWN LIGHT AND RIGHT HEAVY`` lists groups of directions, each with its
    weight or inheriting the weight of the group before it (``LIGHT DOWN AND RIGHT``).
    """
    chars: dict[tuple[int, int], str] = {}
    for code in range(0x2500, 0x2580):
        words = unicodedata.name(chr(code)).removeprefix("BOX DRAWINGS ").split()
        if not set(words) <= {*_DIRECTIONS, "LIGHT", "HEAVY", "AND"}:
            continue  # double, dashed, rounded and diagonal lines
        mask = heavy = 0
        weight = "LIGHT"
        for group in " ".join(words).split(" AND "):
            weight = next((word for word in group.split() if word in ("LIGHT", "HEAVY")), weight)
            for word in group.split():
                bits = _DIRECTIONS.get(word, 0)
                mask |= bits
                heavy |= bits if weight == "HEAVY" else 0
        if mask in _OPPOSITE:  # a half line: draw the whole line
            continue
        chars[(mask, heavy)] = chr(code)
    return chars


LINE_CHARS = _line_chars()
Point = tuple[int, int]


class Canvas:
    """A ``width`` x ``height`` grid of characters, each with an optional Rich style."""

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.chars = [[" "] * width for _ in range(height)]
        self.styles: list[list[str | None]] = [[None] * width for _ in range(height)]
        self._masks = [[0] * width for _ in range(height)]
        self._heavy = [[0] * width for _ in range(height)]
        self._line_rank = [[-1] * width for _ in range(height)]
        self._starts: list[int] | None = None  # where each row begins in the text, once drawn

    def polyline(self, points: Iterable[Point], style: str, rank: int = 0, heavy: bool = False,
                 start: int = WEST) -> None:
        """Add an orthogonal line through ``points``, heavy (``━``) or light (``─``).

        The line's first cell also reaches towards ``start`` (the side of the box it leaves). Where lines
        share a cell the one with the higher ``rank`` gives its style; a heavy line keeps its weight where
        it meets light ones. Raises ``ValueError`` for a diagonal segment.
        """
        points = list(points)
        if points:
            self._connect(points[0], start, style, rank, heavy)  # a line starts against the box it leaves
        for (x0, y0), (x1, y1) in zip(points, points[1:], strict=False):
            if x0 != x1 and y0 != y1:
                raise ValueError(f"segment {(x0, y0)} -> {(x1, y1)} is not horizontal or vertical")
            if y0 == y1:
                for x in range(min(x0, x1), max(x0, x1)):
                    self._connect((x, y0), EAST, style, rank, heavy)
                    self._connect((x + 1, y0), WEST, style, rank, heavy)
            else:
                for y in range(min(y0, y1), max(y0, y1)):
                    self._connect((x0, y), SOUTH, style, rank, heavy)
                    self._connect((x0, y + 1), NORTH, style, rank, heavy)

    def _connect(self, point: Point, direction: int, style: str, rank: int, heavy: bool) -> None:
        self._starts = None
        x, y = point
        if not (0 <= x < self.width and 0 <= y < self.height):
            return
        self._masks[y][x] |= direction
        if heavy:
            self._heavy[y][x] |= direction
        mask, heavy_mask = self._masks[y][x], self._heavy[y][x]
        if mask in _OPPOSITE:
            mask |= _OPPOSITE[mask]
            heavy_mask |= _OPPOSITE[heavy_mask] if heavy_mask else 0
        self.chars[y][x] = LINE_CHARS.get((mask, heavy_mask)) or LINE_CHARS[(mask, 0)]
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
        self._starts = None
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

    def text_span(self, y: int, x0: int, x1: int) -> tuple[int, int]:
        """Where cells ``x0`` to ``x1`` (exclusive) of row ``y`` are in :meth:`to_rich`'s (or
        :meth:`to_plain`'s) text, as (start, end) character offsets; empty past a row's trimmed end."""
        starts = self._row_starts()
        row = self.chars[y]
        end_of_row = len("".join(row).rstrip(" "))
        start = min(len("".join(row[:max(x0, 0)])), end_of_row)
        end = min(len("".join(row[:max(x1, 0)])), end_of_row)
        return starts[y] + start, starts[y] + max(start, end)

    def _row_starts(self) -> list[int]:
        if self._starts is None:
            starts, offset = [], 0
            for row in self.chars:
                starts.append(offset)
                offset += len("".join(row).rstrip(" ")) + 1
            self._starts = starts
        return self._starts

    def to_rich(self) -> Text:
        """The grid as a Rich ``Text``, one span per run of equally styled cells."""
        parts: list[str] = []
        spans: list[Span] = []
        offset = 0
        for y, row in enumerate(self.chars):
            if y:
                parts.append("\n")
                offset += 1
            end = len(row)
            while end and row[end - 1] == " ":
                end -= 1
            start = 0
            while start < end:
                style = self.styles[y][start]
                stop = start
                while stop < end and self.styles[y][stop] == style:
                    stop += 1
                run = "".join(row[start:stop])
                if style:
                    spans.append(Span(offset, offset + len(run), style))
                parts.append(run)
                offset += len(run)
                start = stop
        return Text("".join(parts), spans=spans, no_wrap=True, overflow="ignore")


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


def wrap(text: str, cells: int, max_lines: int) -> list[str]:
    """``text`` in at most ``max_lines`` lines of about ``cells`` terminal cells, broken at spaces.

    Lines may grow by up to ``WORD_SLACK`` cells when that avoids shortening the text, and a word up to
    that much longer than ``cells`` keeps a line of its own (``application`` is easier to read than
    ``applicatio`` / ``n``); a longer one is cut. The last line ends in ``…`` when text is left over.
    Never an empty list.
    """
    for wider in range(cells, cells + WORD_SLACK + 1):
        lines = _greedy_lines(text, wider, cells + WORD_SLACK)
        if len(lines) <= max_lines:
            return lines
    lines = _greedy_lines(text, cells, cells + WORD_SLACK)
    return lines[:max_lines - 1] + [shorten(" ".join(lines[max_lines - 1:]), max(cells, 2))]


def _greedy_lines(text: str, cells: int, longest_word: int) -> list[str]:
    """``text`` broken at spaces into lines of at most ``cells`` cells; a word longer than that keeps a line
    of its own up to ``longest_word`` cells, and is cut into ``cells``-wide pieces beyond."""
    words = fit(text, 2 * len(text) + 1).split()  # control characters out, one word per item
    lines: list[str] = []
    current = ""
    for word in words:
        while cell_len(word) > longest_word:
            if current:
                lines.append(current)
                current = ""
            head = _cells_prefix(word, cells)
            lines.append(head)
            word = word[len(head):]
        candidate = f"{current} {word}" if current else word
        if cell_len(candidate) <= cells or not current:
            current = candidate
        else:
            lines.append(current)
            current = word
    return [line for line in [*lines, current] if line] or [""]


WORD_SLACK = 3


def shorten(text: str, cells: int) -> str:
    """``text`` in at most ``cells`` cells, cut after a whole word and ending in ``…`` when shortened
    (cut anywhere when not even the first word fits)."""
    if cell_len(text) <= cells:
        return text
    kept = ""
    for word in text.split(" "):
        candidate = f"{kept} {word}" if kept else word
        if cell_len(candidate) > cells - 1:
            break
        kept = candidate
    return kept + "…" if kept else fit(text, cells)


def _cells_prefix(text: str, cells: int) -> str:
    """The longest start of ``text`` that takes at most ``cells`` cells (at least one character)."""
    used = 0
    for index, char in enumerate(text):
        used += get_character_cell_size(char)
        if used > cells:
            return text[:max(index, 1)]
    return text
