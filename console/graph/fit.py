"""Choosing the zoom level and orientation that fit a graph into the space there is.

In the console (:func:`pick`) the most detailed zoom that fits the pane wins (full labels, else short
labels, else symbols); at one zoom, left to right wins over top to bottom when both fit. When nothing fits,
the choice is the drawing of which the largest share can be seen at once. A zoom the operator chose is
kept, and only the orientation chosen.

On the command line (:func:`draw_for_terminal`) the output may scroll, and symbols say little without the
console's selection: the most detailed drawing with labels that fits the terminal wins, else the most
detailed with labels that fits its width, and symbols only when no drawing with labels fits the width.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from console.graph.layout import Orientation
from console.graph.model import GraphModel
from console.graph.text import Drawing, draw
from console.graph.zoom import Zoom

ORIENTATIONS = (Orientation.LEFT_RIGHT, Orientation.TOP_BOTTOM)
Candidate = Callable[[Zoom, Orientation], Drawing]


def fits(size: tuple[int, int], width: int, height: int | None) -> bool:
    """Whether a (width, height) drawing fits ``width`` columns and ``height`` rows (``None``: any)."""
    return size[0] <= width and (height is None or size[1] <= height)


def visible_share(size: tuple[int, int], width: int, height: int | None) -> float:
    """The share of a drawing's area that ``width`` x ``height`` cells show at once (1.0 when it fits)."""
    shown_width = min(1.0, width / max(size[0], 1))
    shown_height = 1.0 if height is None else min(1.0, height / max(size[1], 1))
    return shown_width * shown_height


def pick(candidate: Candidate, width: int, height: int | None, zoom: Zoom | None = None) -> Drawing:
    """The drawing to show in ``width`` x ``height`` cells (``height`` ``None``: as tall as it needs).

    ``candidate(zoom, orientation)`` draws (or looks up) one candidate; they are asked for in order of
    preference and only until one fits. With ``zoom`` given only its orientations are candidates.
    """
    tried: list[Drawing] = []
    for drawing in _candidates(candidate, zoom):
        if fits(drawing.size, width, height):
            return drawing
        tried.append(drawing)
    last_zoom = tried[-1].zoom
    return max((drawing for drawing in tried if drawing.zoom is last_zoom),
               key=lambda drawing: (visible_share(drawing.size, width, height), drawing.orientation is
                                    Orientation.LEFT_RIGHT))


def _candidates(candidate: Candidate, zoom: Zoom | None) -> Iterator[Drawing]:
    for level in [zoom] if zoom is not None else list(Zoom):
        for orientation in ORIENTATIONS:
            yield candidate(level, orientation)


def draw_to_fit(model: GraphModel, width: int, height: int | None = None, zoom: Zoom | None = None) -> Drawing:
    """Draw ``model`` for ``width`` x ``height`` cells: see :func:`pick`."""
    return pick(_drawer(model), width, height, zoom)


def draw_for_terminal(model: GraphModel, width: int, height: int | None) -> Drawing:
    """Draw ``model`` for a terminal of ``width`` x ``height`` (``None``: output that is not a terminal)."""
    candidate = _drawer(model)
    with_labels = [(zoom, orientation) for zoom in (Zoom.FULL, Zoom.SHORT) for orientation in ORIENTATIONS]
    for rows in (height, None):
        for zoom, orientation in with_labels:
            drawing = candidate(zoom, orientation)
            if fits(drawing.size, width, rows):
                return drawing
    return pick(candidate, width, None, Zoom.COMPACT)


def _drawer(model: GraphModel) -> Candidate:
    """``draw`` for ``model``, each zoom and orientation drawn at most once."""
    drawn: dict[tuple[Zoom, Orientation], Drawing] = {}

    def candidate(zoom: Zoom, orientation: Orientation) -> Drawing:
        if (zoom, orientation) not in drawn:
            drawn[(zoom, orientation)] = draw(model, zoom, orientation)
        return drawn[(zoom, orientation)]

    return candidate
