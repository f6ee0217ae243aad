"""The console's load form takes BPMN files: a refused one lists every element it cannot map with its line and
stores nothing; a good one is stored and the form closes."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from app_pilot import SIZE, RecordingApp, paste, run_async, settle
from app_scenarios import NOW, Scenario, build_scenario
from rich.console import Console
from textual.widgets import Input, Static

from console.formatting import ConsoleClock
from console.screens.blueprints_screen import BlueprintsScreen
from console.screens.load_blueprint_modal import LoadBlueprintModal, PathSuggester

DATA = Path(__file__).resolve().parents[1] / "data" / "bpmn"


@pytest.fixture
def scenario(tmp_path: Path) -> Iterator[Scenario]:
    built = build_scenario(str(tmp_path / "console.db"))
    yield built
    built.manager.store.close()


def plain(renderable: object, width: int = 160) -> str:
    console = Console(width=width, file=io.StringIO(), color_system=None)
    console.print(renderable)
    return console.file.getvalue()


@run_async
async def test_the_load_form_reads_bpmn_files(scenario: Scenario) -> None:
    app = RecordingApp(db_path=scenario.path, manager=scenario.manager, actor="operator", start_mode="blueprints",
                       clock=ConsoleClock.fixed(NOW), poll_seconds=0)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("L")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, LoadBlueprintModal)
        await paste(pilot, str(DATA / "camunda7_loan_granting.bpmn"))
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen is form
        assert "has 3 error(s)" in str(form.query_one("#load-outcome", Static).render())
        table = form.query_one("#load-problems", Static).content
        assert [str(cell) for cell in table.columns[1].cells] == [
            "camunda:inputParameter in serviceTask 'Task_1lvjtd4', line 8", "subProcess 'SubProcess_16kr5xn', line 16",
            "timeCycle in startEvent 'StartEvent_1', line 68"]
        shown = plain(table, width=116)  # the form's width: every where in full, wrapped
        assert "line 8" in shown and "line 16" in shown and "line 68" in shown and "…" not in shown
        form.query_one(Input).value = ""
        await paste(pilot, str(DATA / "zeebe_exclusive_gateway.bpmn"))
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, BlueprintsScreen)
        assert ("information", "exclusive-gateway-multiple-tasks v1 stored") in app.notes
    assert scenario.manager.store.get_blueprint("loan_process") is None
    assert scenario.manager.store.get_blueprint("exclusive-gateway-multiple-tasks") is not None


@run_async
async def test_path_completion_offers_bpmn_files() -> None:
    suggestion = await PathSuggester().get_suggestion(str(DATA / "zeebe_count"))
    assert suggestion == str(DATA / "zeebe_count_loop.bpmn")
