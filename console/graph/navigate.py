"""Moving a selection from node to node on a drawn graph, by direction, the way arrow keys should.

A key goes to the nearest node whose centre lies that way, preferring one straight ahead to one off to
the side. Distances are counted in columns, a row as two (a terminal cell is about twice as tall as wide).
"""

from __future__ import annotations

from collections.abc import Mapping

from console.graph.layout import NodeBox

DIRECTIONS = {"left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1)}
SIDEWAYS_WEIGHT = 2  # how much more a step sideways counts than one straight ahead


def centre(box: NodeBox) -> tuple[float, float]:
    """A box's centre, rows counted double."""
    return box.x + box.width / 2, 2 * (box.y + box.height / 2)


def neighbour(boxes: Mapping[str, NodeBox], node_id: str, direction: str) -> str | None:
    """The node to select after ``node_id`` when moving ``direction`` (left, right, up, down), or
    ``None`` when no node lies that way. Ties go to the node first in ``boxes``' order.

    Raises ``KeyError`` for an unknown node or direction.
    """
    step_x, step_y = DIRECTIONS[direction]
    here_x, here_y = centre(boxes[node_id])
    best: tuple[float, str] | None = None
    for other, box in boxes.items():
        if other == node_id:
            continue
        x, y = centre(box)
        ahead = (x - here_x) * step_x + (y - here_y) * step_y
        if ahead <= 0:
            continue
        sideways = abs((x - here_x) * step_y) + abs((y - here_y) * step_x)
        score = ahead + SIDEWAYS_WEIGHT * sideways
        if best is None or score < best[0]:
            best = (score, other)
    return None if best is None else best[1]
