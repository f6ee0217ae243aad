"""The : command line: jump to a view or a filtered view, with completion; saved views."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from app_pilot import SIZE, RecordingApp, paste, run_async, settle, wait_until
from app_scenarios import NOW, Scenario, build_scenario

from console.formatting import ConsoleClock
from console.saved_views import SavedViews
from console.screens.command_line import CommandLine, CommandLineScreen, CommandSuggester
from console.screens.history_search_screen import HistorySearchScreen
from console.screens.incidents_screen import IncidentsScreen
from console.screens.instance_detail_screen import InstanceDetailScreen
from console.screens.instances_screen import InstancesScreen
from console.widgets.filter_line import FilterLine
from console.widgets.history_results_table import HistoryResultsTable
from console.widgets.instances_table import InstancesTable


@pytest.fixture
def scenario(tmp_path: Path) -> Iterator[Scenario]:
    built = build_scenario(str(tmp_path / "console.db"))
    yield built
    built.manager.store.close()


def make_app(scenario: Scenario, config: Path, start_mode: str = "overview") -> RecordingApp:
    return RecordingApp(db_path=scenario.path, manager=scenario.manager, clock=ConsoleClock.fixed(NOW),
                        actor="operator", poll_seconds=0, start_mode=start_mode, config_dir=config)


async def command(pilot, line: str) -> None:
    await pilot.press("colon")
    await settle(pilot)
    assert isinstance(pilot.app.screen, CommandLineScreen)
    await paste(pilot, line)
    await pilot.press("enter")
    await settle(pilot)


@run_async
async def test_colon_jumps_to_a_filtered_view(scenario: Scenario, tmp_path: Path) -> None:
    app = make_app(scenario, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await command(pilot, "instances status=failed workflow=expense_claim")
        screen = app.screen
        assert isinstance(screen, InstancesScreen)
        assert [row.id for row in screen.query_one(InstancesTable)._rows] == [scenario.ids["claim_failed"]]
        assert screen.query_one(FilterLine).value == "status=failed workflow=expense_claim"
        await command(pilot, "incidents")
        assert isinstance(app.screen, IncidentsScreen)
        await command(pilot, "history kind=EXECUTION_FAILED")
        history = app.screen
        assert isinstance(history, HistorySearchScreen)
        assert await wait_until(pilot, lambda: history.query_one(HistoryResultsTable).row_count == 1)
        assert history.query_one(HistoryResultsTable)._hits[0].entry.node_id == "pack"


@run_async
async def test_colon_from_an_open_instance_goes_to_the_list(scenario: Scenario, tmp_path: Path) -> None:
    app = make_app(scenario, tmp_path, "instances")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, InstanceDetailScreen)
        await command(pilot, "instances status=cancelled")
        assert isinstance(app.screen, InstancesScreen)
        assert [row.id for row in app.screen.query_one(InstancesTable)._rows] == [scenario.ids["cancelled"]]


@run_async
async def test_an_unknown_view_names_the_nearest(scenario: Scenario, tmp_path: Path) -> None:
    app = make_app(scenario, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await command(pilot, "incidnets")
        assert any("unknown view 'incidnets' (did you mean 'incidents'?)" in note for _, note in app.notes)
        await command(pilot, "instances stats=failed")
        assert any("unknown filter 'stats' (did you mean 'status'?)" in note for _, note in app.notes)
        await command(pilot, "instances status=faild")
        assert any("(did you mean 'failed'?)" in note for _, note in app.notes)


def test_completion_offers_views_keys_and_values() -> None:
    suggester = CommandSuggester(saved=["late-loans"], workflow_ids=["expense_claim", "order_fulfilment"])

    def suggest(text: str) -> str | None:
        return asyncio.run(suggester.get_suggestion(text))

    assert suggest("inc") == "incidents"
    assert suggest("insta") == "instances"
    assert suggest("late") == "late-loans"
    assert suggest("instances st") == "instances status="
    assert suggest("instances status=fa") == "instances status=failed"
    assert suggest("instances workflow=ord") == "instances workflow=order_fulfilment"
    assert suggest("history kind=EXECUTION_F") == "history kind=EXECUTION_FAILED"
    assert suggest("instances status=failed") is None


@run_async
async def test_tab_takes_the_completion(scenario: Scenario, tmp_path: Path) -> None:
    app = make_app(scenario, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("colon", *"inci")
        line = app.screen.query_one(CommandLine)
        assert await wait_until(pilot, lambda: line._suggestion == "incidents")
        await pilot.press("tab")
        assert line.value == "incidents"
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, IncidentsScreen)


@run_async
async def test_a_saved_view_reopens_from_colon_and_the_palette(scenario: Scenario, tmp_path: Path) -> None:
    app = make_app(scenario, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await command(pilot, "instances status=active Liskov")
        await command(pilot, "save liskov")
        stored = json.loads((tmp_path / "views.json").read_text())
        assert stored == {"views": {"liskov": "instances status=active Liskov"}}
        await command(pilot, "overview")
        await command(pilot, "liskov")
        screen = app.screen
        assert isinstance(screen, InstancesScreen)
        assert [row.id for row in screen.query_one(InstancesTable)._rows] == [scenario.ids["at_approval"]]
        await command(pilot, "overview")
        await pilot.press("ctrl+p")
        await settle(pilot)
        await paste(pilot, "Saved view: lisk")
        await settle(pilot)
        await pilot.press("enter")
        assert await wait_until(pilot, lambda: isinstance(app.screen, InstancesScreen))
        assert [row.id for row in app.screen.query_one(InstancesTable)._rows] == [scenario.ids["at_approval"]]
    assert SavedViews(tmp_path).views == {"liskov": "instances status=active Liskov"}  # per user, on disk


@run_async
async def test_a_corrupt_saved_views_file_is_reported_and_ignored(scenario: Scenario, tmp_path: Path) -> None:
    (tmp_path / "views.json").write_text('{"views": {"a": "instances"')
    app = make_app(scenario, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.is_running
        assert any("views.json is not JSON (line 1" in note and "ignored" in note for _, note in app.notes)
        await command(pilot, "save mine")
    assert json.loads((tmp_path / "views.json").read_text()) == {"views": {"mine": "overview"}}
    assert (tmp_path / "views.json.bad").read_text() == '{"views": {"a": "instances"'  # kept, not lost


def test_saved_views_of_the_wrong_shape_are_ignored(tmp_path: Path) -> None:
    (tmp_path / "views.json").write_text('["instances"]')
    views = SavedViews(tmp_path)
    assert views.views == {} and "is not a saved-views file" in (views.problem or "")


@run_async
async def test_a_saved_view_needs_a_name_that_is_no_view(scenario: Scenario, tmp_path: Path) -> None:
    app = make_app(scenario, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await command(pilot, "save incidents")
        assert any("cannot name a saved view" in note for _, note in app.notes)
        assert not (tmp_path / "views.json").exists()
