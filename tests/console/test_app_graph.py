"""Pilots of the token graph pane: it fits, opens on the urgent node, zooms with z, moves from node to node
with the arrows and h/j/k/l, and Enter on a node selects its newest execution."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from pathlib import Path

import pytest
from app_pilot import SIZE, RecordingApp, run_async, settle
from app_scenarios import NOW, Scenario, build_scenario
from textual.geometry import Region
from textual.pilot import Pilot

from console.formatting import ConsoleClock
from console.graph.layout import Orientation
from console.graph.navigate import neighbour
from console.graph.zoom import Zoom
from console.messages import OpenInstance
from console.screens.blueprints_screen import BlueprintsScreen
from console.screens.instance_detail_screen import InstanceDetailScreen
from console.widgets.executions_table import ExecutionsTable
from console.widgets.token_graph import TokenGraph, _GraphScroll

KEYS = {"left": "h", "down": "j", "up": "k", "right": "l"}


@pytest.fixture
def scenario(tmp_path: Path) -> Iterator[Scenario]:
    built = build_scenario(str(tmp_path / "console.db"))
    yield built
    built.manager.store.close()


def make_app(scenario: Scenario, start_mode: str = "instances") -> RecordingApp:
    return RecordingApp(db_path=scenario.path, manager=scenario.manager, clock=ConsoleClock.fixed(NOW),
                        actor="operator", poll_seconds=0, start_mode=start_mode)


async def open_graph(pilot: Pilot, instance_id: str) -> TokenGraph:
    await settle(pilot)
    pilot.app.post_message(OpenInstance(instance_id))
    await settle(pilot)
    assert isinstance(pilot.app.screen, InstanceDetailScreen)
    return pilot.app.screen.query_one(TokenGraph)


def visible(graph: TokenGraph, node_id: str) -> bool:
    """Whether the whole box of ``node_id`` is inside the part of the drawing the pane shows."""
    scroll = graph.query_one(_GraphScroll)
    window = scroll.scrollable_content_region.at_offset(scroll.scroll_offset)
    box = graph.shown.drawing.layout.boxes[node_id]
    region = Region(box.x + 1 + window.x - scroll.scroll_offset.x, box.y + window.y - scroll.scroll_offset.y,
                    box.width, box.height)  # the body's left padding is one cell
    window = Region(window.x, window.y, window.width, window.height)
    return window.contains_region(region)


def keys_to(graph: TokenGraph, target: str) -> list[str]:
    """The h/j/k/l presses that take the selection to ``target`` (found by a walk over the moves)."""
    boxes = graph.shown.drawing.layout.boxes
    paths = {graph.selected: []}
    queue = deque([graph.selected])
    while queue:
        here = queue.popleft()
        for direction, key in KEYS.items():
            there = neighbour(boxes, here, direction)
            if there is not None and there not in paths:
                paths[there] = [*paths[here], key]
                queue.append(there)
    return paths[target]


@run_async
async def test_the_graph_fits_and_opens_on_the_incident(scenario: Scenario) -> None:
    app = make_app(scenario)
    async with app.run_test(size=SIZE) as pilot:
        graph = await open_graph(pilot, scenario.ids["incident"])
        assert graph.selected == "pack"  # FAILED: the incident comes first
        assert graph.shown.drawing.zoom is Zoom.SHORT  # full labels would need 161 columns
        width, height = graph.shown.drawing.size
        scroll = graph.query_one(_GraphScroll)
        assert width < scroll.size.width and height <= scroll.size.height  # all of it, no scrolling
        assert visible(graph, "pack")
        line = str(graph.query_one("#graph-selection").render())
        assert "Pack parcel" in line and "failed" in line
        assert graph.border_subtitle == "z: short labels"


@run_async
async def test_z_cycles_the_zoom_levels_and_the_selection_stays_in_view(scenario: Scenario) -> None:
    app = make_app(scenario)
    async with app.run_test(size=(70, 40)) as pilot:
        graph = await open_graph(pilot, scenario.ids["at_approval"])
        first = graph.shown.drawing.zoom
        assert first is not Zoom.FULL and graph.selected == "approve"  # 70 columns: full labels do not fit
        assert app.focused is app.screen.query_one(ExecutionsTable)  # z works without focusing the graph
        seen = [first]
        for _ in range(3):
            await pilot.press("z")
            await settle(pilot)
            seen.append(graph.shown.drawing.zoom)
            assert graph.border_subtitle == f"z: {graph.shown.drawing.zoom.settings.description}"
            assert graph.selected == "approve" and visible(graph, "approve")
        assert seen == [first, first.next(), first.next().next(), first]  # round the three levels
        while graph.shown.drawing.zoom is not Zoom.COMPACT:
            await pilot.press("z")
        await settle(pilot)
        assert "[ ] task" in str(graph.query_one("#graph-legend").render())  # the legend follows the zoom
        assert "[●]" in str(graph.query_one("#graph-body").render())


@run_async
async def test_arrows_and_hjkl_move_from_node_to_node_while_the_graph_has_focus(scenario: Scenario) -> None:
    app = make_app(scenario)
    async with app.run_test(size=SIZE) as pilot:
        graph = await open_graph(pilot, scenario.ids["half_done"])
        assert graph.selected == "pack"  # ACTIVE before the join WAITING
        assert graph.shown.drawing.orientation is Orientation.LEFT_RIGHT
        graph.query_one(_GraphScroll).focus()
        await pilot.press("left")  # to the fork, the one node left of the branch
        assert graph.selected == "fork"
        await pilot.press("h")
        assert graph.selected == "check_stock"
        await pilot.press("l", "l")
        assert graph.selected in ("pack", "invoice")
        branch = graph.selected
        await pilot.press("j" if branch == "pack" else "k")  # the other branch, under or over it
        assert graph.selected == ("invoice" if branch == "pack" else "pack")
        await pilot.press("right")
        assert graph.selected == "join"
        assert isinstance(app.screen, InstanceDetailScreen)  # h moved the selection: no history search opened
        assert "Join" in str(graph.query_one("#graph-selection").render())


@run_async
async def test_a_selection_off_the_pane_is_scrolled_into_view(scenario: Scenario) -> None:
    app = make_app(scenario)
    async with app.run_test(size=(60, 40)) as pilot:
        graph = await open_graph(pilot, scenario.ids["half_done"])
        while graph.shown.drawing.zoom is not Zoom.FULL:
            await pilot.press("z")
        await settle(pilot)
        width, height = graph.shown.drawing.size
        pane = graph.query_one(_GraphScroll).size
        assert width > pane.width or height > pane.height  # larger than the pane
        assert visible(graph, graph.selected)
        graph.query_one(_GraphScroll).focus()
        for key in keys_to(graph, "end"):
            await pilot.press(key)
            await settle(pilot)
            assert visible(graph, graph.selected), graph.selected
        assert graph.selected == "end"


@run_async
async def test_enter_on_a_node_selects_its_newest_execution(scenario: Scenario) -> None:
    app = make_app(scenario)
    async with app.run_test(size=SIZE) as pilot:
        graph = await open_graph(pilot, scenario.ids["at_approval"])
        table = app.screen.query_one(ExecutionsTable)
        graph.query_one(_GraphScroll).focus()
        await pilot.press(*keys_to(graph, "pack"), "enter")
        await settle(pilot)
        assert table.selected_execution.node_id == "pack" and app.focused is table
        graph.query_one(_GraphScroll).focus()
        await pilot.press(*keys_to(graph, "fork"), "enter")
        await settle(pilot)
        assert app.notes[-1] == ("information", "no execution at 'Fork': only tasks that a token reached have "
                                                "executions")
        assert table.selected_execution.node_id == "pack" and app.focused is graph.query_one(_GraphScroll)
        await pilot.press(*keys_to(graph, "approve"), "enter", "d")  # Enter, then act on it at once
        await settle(pilot)
        assert type(app.screen).__name__ == "MarkDoneModal"


@run_async
async def test_the_blueprints_graph_moves_and_zooms_but_enter_is_not_offered(scenario: Scenario) -> None:
    app = make_app(scenario, start_mode="blueprints")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, BlueprintsScreen)
        graph = app.screen.query_one(TokenGraph)
        before = graph.shown.drawing.zoom
        await pilot.press("z")
        assert graph.shown.drawing.zoom is before.next()
        graph.query_one(_GraphScroll).focus()
        first = graph.selected
        await pilot.press("l")
        assert graph.selected != first
        assert not graph.check_action("choose", ())  # nothing to choose on a blueprint alone
        assert "Enter" not in str(graph.query_one("#graph-selection").render())
