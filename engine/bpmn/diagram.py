"""Where a BPMN export draws each shape and edge, in pixels: computed by a front end's layout (the engine has
none), handed to :func:`engine.bpmn.writer.write_bpmn` as BPMN diagram interchange (BPMNShape bounds, BPMNEdge
waypoints, label bounds)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

Point = tuple[float, float]


@dataclass(frozen=True)
class Bounds:
    """A rectangle: top-left corner and size, in pixels (y grows downwards, as in BPMN DI)."""

    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class Diagram:
    """``shapes``: each node's shape, by node id; ``edges``: each edge's waypoints from its source's border to
    its target's (at least two), by edge id; ``labels``: where an edge's label (its condition) is written."""

    shapes: Mapping[str, Bounds]
    edges: Mapping[str, tuple[Point, ...]]
    labels: Mapping[str, Bounds] = field(default_factory=dict)
