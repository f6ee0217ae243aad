"""Every screen of the console at 80x24 and at 160x48 (pytest-textual-snapshot).

80x24 is a first-class size: each snapshot there shows the screen's essential content and the keys that
act on it (the focused pane's first in the footer); a form keeps its send button and keys in view.
Update with ``pytest tests/console/test_app_sizes.py --snapshot-update`` and look at the report first.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from app_pilot import settle, wait_until
from app_scenarios import NOW, Scenario, build_scenario
from textual.pilot import Pilot

from console.app import WfConsoleApp
from console.formatting import ConsoleClock
from console.messages import OpenInstance

SIZES = {"80x24": (80, 24), "160x48": (160, 48)}
Steps = Callable[[Pilot, Scenario], Awaitable[None]]


@pytest.fixture
def scenario(tmp_path: Path) -> Iterator[Scenario]:
    built = build_scenario(str(tmp_path / "console.db"))
    yield built
    built.manager.store.close()


def make_app(scenario: Scenario, start_mode: str, config: Path) -> WfConsoleApp:
    return WfConsoleApp(db_path=scenario.path, manager=scenario.manager, clock=ConsoleClock.fixed(NOW),
                        actor="operator", poll_seconds=0, start_mode=start_mode, config_dir=config)


async def nothing(pilot: Pilot, scenario: Scenario) -> None:
    """The view as it opens."""


def keys(*pressed: str) -> Steps:
    async def steps(pilot: Pilot, scenario: Scenario) -> None:
        await pilot.press(*pressed)

    return steps


def on_instance(key: str, *pressed: str) -> Steps:
    """Open the scenario's instance ``key``, then press ``pressed``."""

    async def steps(pilot: Pilot, scenario: Scenario) -> None:
        pilot.app.post_message(OpenInstance(scenario.ids[key]))
        await settle(pilot)
        if pressed:
            await pilot.press(*pressed)

    return steps


async def filtered_active(pilot: Pilot, scenario: Scenario) -> None:
    """``/ status=active``, and the list once the filter (sent a moment after the typing stops) has applied."""
    await pilot.press("slash", *"status=active")
    await wait_until(pilot, lambda: getattr(pilot.app.screen, "status", None) is not None)


async def with_claims(pilot: Pilot, scenario: Scenario) -> None:
    """Two tasks claimed (one by the console's operator, one by a colleague), then the list read again."""
    scenario.manager.claim_task(scenario.open_execution("claim_waiting", "review"), actor="operator")
    scenario.manager.claim_task(scenario.open_execution("at_approval", "approve"), actor="alice")
    await pilot.press("ctrl+r")


SCREENS: dict[str, tuple[str, Steps]] = {
    "overview": ("overview", nothing),
    "instances": ("instances", nothing),
    "instances_filtered": ("instances", filtered_active),
    "incidents": ("incidents", nothing),
    "blueprints": ("blueprints", nothing),
    "history": ("history", nothing),
    "tasks": ("tasks", with_claims),
    "instance": ("instances", on_instance("at_approval")),
    "instance_graph_focused": ("instances", on_instance("half_done", "shift+tab")),
    "mark_done_form": ("instances", on_instance("at_approval", "d")),
    "fail_form": ("instances", on_instance("at_approval", "f")),
    "variable_form": ("instances", on_instance("at_approval", "e")),
    "cancel_form": ("instances", on_instance("at_approval", "x")),
    "execution_in_full": ("instances", on_instance("incident", "enter")),
    "start_form": ("blueprints", keys("s")),
    "help": ("instances", keys("question_mark")),
    "command_line": ("instances", keys("colon", *"instances st")),
}


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("screen", SCREENS)
def test_screen_fits(snap_compare, scenario: Scenario, tmp_path: Path, screen: str, size: str) -> None:
    mode, steps = SCREENS[screen]

    async def run_before(pilot: Pilot) -> None:
        await settle(pilot)
        await steps(pilot, scenario)
        await settle(pilot)

    assert snap_compare(make_app(scenario, mode, tmp_path), terminal_size=SIZES[size], run_before=run_before)


def test_at_80x24_the_instance_screen_shows_context_lines_and_says_more_are_below(scenario: Scenario,
                                                                                   tmp_path: Path) -> None:
    """The context pane had no line at all at 80x24 (the history took two thirds of the side, and the graph
    kept room for the legend it does not show under 30 rows)."""
    from app_pilot import run_async

    from console.widgets.context_tree import ContextTree
    from console.widgets.token_graph import TokenGraph

    instance = scenario.manager.start_workflow("order_fulfilment", {
        "sku": "A-1", "customer": "Ada", "quantity": 3, "rush": True, "note": "by Friday", "region": "EU"})

    @run_async
    async def run() -> None:
        app = make_app(scenario, "instances", tmp_path)
        async with app.run_test(size=SIZES["80x24"]) as pilot:
            await settle(pilot)
            app.post_message(OpenInstance(instance))
            await settle(pilot)
            await settle(pilot)
            graph, tree = app.screen.query_one(TokenGraph), app.screen.query_one(ContextTree)
            assert not graph.query_one("#graph-legend").display
            width, height = graph._space()
            assert height == graph.styles.max_height.resolve(app.screen.size, app.size) - 2 - 1  # only the line
            assert tree.scrollable_content_region.height >= 4  # four of the six keys in view
            assert tree.border_subtitle == "6 keys  ↓ more"
            tree.focus()
            await pilot.press("G")  # the last key, scrolled into view
            await settle(pilot)
            assert tree.scroll_y == tree.max_scroll_y > 0 and tree.border_subtitle == "6 keys"

    run()
