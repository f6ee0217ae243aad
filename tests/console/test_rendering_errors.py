"""A rendering error does not end the console: it is notified, the broken screen is replaced; any other
error still ends it, with exit status 1 (console.rendering_errors)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import pytest
from app_pilot import RecordingApp, run_async, settle
from rich.errors import MarkupError
from textual import events
from textual.screen import Screen
from textual.widgets import Static
from typer.testing import CliRunner

from console import rendering_errors
from console.app import WfConsoleApp
from console.cli import app as cli_app
from console.screens.overview_screen import OverviewScreen

BROKEN = MarkupError("closing tag '[/]' at position 6 has nothing to close")


class BreaksOnKeys:
    """``z`` raises a rendering error in the screen's own key handler (its message loop stops); ``v`` any
    other error."""

    def on_key(self, event: events.Key) -> None:
        if event.key == "z":
            raise BROKEN
        if event.key == "v":
            raise ValueError("a bug")


class BrokenOverview(BreaksOnKeys, OverviewScreen):
    pass


class BrokenDialog(BreaksOnKeys, Screen[None]):
    def compose(self) -> Any:
        yield Static("a pushed screen")


class BrokenApp(RecordingApp):
    MODES: ClassVar[dict[str, Any]] = {**WfConsoleApp.MODES, "overview": BrokenOverview}

    def action_break_in_an_action(self) -> None:
        raise BROKEN


def make_app(tmp_path: Path) -> BrokenApp:
    return BrokenApp(db_path=str(tmp_path / "console.db"), poll_seconds=0)


def drew_nothing(app: RecordingApp) -> bool:
    return any(title == "Something could not be drawn" for _, title, _ in app.titled_notes)


@run_async
async def test_an_error_in_a_pushed_screen_closes_it_and_the_console_goes_on(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test() as pilot:
        await settle(pilot)
        app.push_screen(BrokenDialog())
        await settle(pilot)
        await pilot.press("z")
        await settle(pilot)
        assert app.survived_errors == [BROKEN] and drew_nothing(app)
        assert isinstance(app.screen, BrokenOverview) and app.screen.is_running
        await pilot.press("2")  # still answers keys
        await settle(pilot)
        assert app.current_mode == "instances"
    assert app.return_code in (0, None)


@run_async
async def test_an_error_in_a_views_first_screen_builds_the_view_anew(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test() as pilot:
        await settle(pilot)
        broken = app.screen
        await pilot.press("z")
        await settle(pilot)
        assert app.survived_errors == [BROKEN]
        assert isinstance(app.screen, BrokenOverview) and app.screen is not broken and app.screen.is_running
        assert app.current_mode == "overview"


@run_async
async def test_an_error_in_an_action_is_caught_around_it(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test() as pilot:
        await settle(pilot)
        assert await app.run_action("break_in_an_action") is True
        await settle(pilot)
        assert app.survived_errors == [BROKEN] and app.is_running
        await pilot.press("3")
        await settle(pilot)
        assert app.current_mode == "incidents"


@run_async
async def test_any_other_error_still_ends_the_console_with_status_1(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    with pytest.raises(ValueError, match="a bug"):
        async with app.run_test() as pilot:
            await settle(pilot)
            await pilot.press("v")
            await settle(pilot)
    assert app.return_code == 1 and app.survived_errors == []


@run_async
async def test_the_same_error_again_and_again_ends_the_console_with_status_1(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    with pytest.raises(MarkupError):
        async with app.run_test() as pilot:
            await settle(pilot)
            for _ in range(rendering_errors.MAX_ERRORS + 1):
                await pilot.press("z")
                await settle(pilot)
    assert app.return_code == 1 and len(app.survived_errors) == rendering_errors.MAX_ERRORS


def test_the_console_command_exits_with_the_apps_status(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr("console.app.run", lambda *args, **kwargs: 1)  # the app died on an error
    result = CliRunner().invoke(cli_app, ["--db", str(tmp_path / "x.db")])
    assert result.exit_code == 1
    monkeypatch.setattr("console.app.run", lambda *args, **kwargs: 0)
    assert CliRunner().invoke(cli_app, ["--db", str(tmp_path / "x.db")]).exit_code == 0
