"""The console and the command line give the same answer, and the same refusal, for the same action on the
same state: both go through the engine's Operations and only render what it returns."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from app_pilot import RecordingApp, paste, run_async, settle
from app_scenarios import NOW, Scenario, build_scenario
from cli_support import Cli
from test_app_actions import open_detail, select_execution
from typer.testing import CliRunner

from console.formatting import ConsoleClock
from console.screens.confirm_modal import ConfirmModal
from console.screens.mark_done_modal import MarkDoneModal
from console.screens.reason_modal import ReasonModal

ACTOR = "operator"


@pytest.fixture
def twins(tmp_path: Path) -> Iterator[tuple[Scenario, Cli]]:
    """The same scenario built twice (seeded ids: identical states): one for the console, one for the CLI."""
    console_side = build_scenario(str(tmp_path / "console.db"))
    cli_side = build_scenario(str(tmp_path / "cli.db"))
    cli_side.manager.store.close()
    assert console_side.ids == cli_side.ids
    yield console_side, Cli(cli_side.path, CliRunner())
    console_side.manager.store.close()


def _cli_answer(cli: Cli, *args: str) -> tuple[str, str]:
    """(severity, text) as the console would show it: a refusal's stderr line, else the JSON ``message``."""
    result = cli(*args, "--actor", ACTOR, "--json")
    if result.exit_code != 0:
        return "error", result.stderr.strip().removeprefix("wfconsole: error: ")
    document = json.loads(result.stdout)
    return ("information" if document["applied"] else "warning"), document["message"]


def _masked(text: str) -> str:
    """The same answer up to the random part of a new execution id."""
    return re.sub(r"execution [0-9a-f]{8}\b", "execution <new>", text)


async def _answered(app: RecordingApp, pilot, *keys: str) -> tuple[str, str]:
    """Press ``keys``; the (severity, text) of the notification they brought."""
    before = len(app.notes)
    for key in keys:
        await pilot.press(key)
        await settle(pilot)
    assert len(app.notes) > before, f"no notification after {keys}"
    return app.notes[-1]


@run_async
async def test_the_console_and_the_cli_answer_alike(twins) -> None:
    scenario, cli = twins
    ids = scenario.ids
    app = RecordingApp(db_path=scenario.path, manager=scenario.manager, clock=ConsoleClock.fixed(NOW),
                       actor=ACTOR, start_mode="instances")
    console_answers: list[str] = []
    async with app.run_test(size=(160, 48)) as pilot:
        # Refused: failing an execution that is already FAILED.
        await open_detail(pilot, ids["incident"])
        await select_execution(pilot, "pack")
        console_answers.append((await _answered(app, pilot, "f"))[1])
        # Done: a new attempt of the failed execution.
        console_answers.append((await _answered(app, pilot, "r"))[1])
        # Refused: resuming an instance that is ACTIVE.
        console_answers.append((await _answered(app, pilot, "R"))[1])
        # Done: completing a task by hand, with outputs.
        await pilot.press("escape")
        await open_detail(pilot, ids["at_approval"])
        await select_execution(pilot, "approve")
        await pilot.press("d")
        await settle(pilot)
        assert isinstance(app.screen, MarkDoneModal)
        await pilot.press(*"true", "ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmModal)
        console_answers.append((await _answered(app, pilot, "y"))[1])
        # Refused: cancelling an instance that is COMPLETED.
        await pilot.press("escape")
        await open_detail(pilot, ids["completed"])
        console_answers.append((await _answered(app, pilot, "x"))[1])
        # Done: cancelling an ACTIVE instance with a reason.
        await pilot.press("escape")
        await open_detail(pilot, ids["half_done"])
        await pilot.press("x")
        await settle(pilot)
        assert isinstance(app.screen, ReasonModal)
        await paste(pilot, "duplicate")
        await pilot.press("enter")
        await settle(pilot)
        console_answers.append(app.notes[-1][1])

    cli_answers = [
        _cli_answer(cli, "fail", f"{ids['incident'][:8]}:pack", "--reason", "x")[1],
        _cli_answer(cli, "retry", f"{ids['incident'][:8]}:pack")[1],
        _cli_answer(cli, "retry-instance", ids["incident"][:8])[1],
        _cli_answer(cli, "done", f"{ids['at_approval'][:8]}:approve", "--outputs", '{"approved": true}')[1],
        _cli_answer(cli, "cancel", ids["completed"][:8], "--reason", "x")[1],
        _cli_answer(cli, "cancel", ids["half_done"][:8], "--reason", "duplicate")[1],
    ]
    assert [_masked(a) for a in console_answers] == [_masked(a) for a in cli_answers]
    # And they are the engine's words: what was refused says why, what was done says what.
    assert "only an ACTIVE or STUCK execution can be failed" in cli_answers[0]
    assert cli_answers[3] == f"approve of instance {ids['at_approval'][:8]} marked done by {ACTOR}"
    assert cli_answers[5] == f"instance {ids['half_done'][:8]} cancelled: duplicate"
