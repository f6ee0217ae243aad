"""Load a blueprint file: a path, then either the stored blueprint or a report of every problem found."""

from __future__ import annotations

import os
from pathlib import Path

from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.suggester import Suggester
from textual.widgets import Button, Input, Label, Static

from console.backend import BlueprintRefused, ConsoleBackend, LoadedBlueprint
from console.cli_input import BadInputError
from console.formatting import shown
from engine import WorkflowError
from engine.errors import Problem
from engine.text import visible


class PathSuggester(Suggester):
    """Completes a path from the files of its folder (folders, ``.json`` and ``.bpmn`` files; Tab or → accepts). A name
    holding a control or bidi character is not proposed: it would be drawn raw in the field, and could not
    be typed back anyway."""

    def __init__(self) -> None:
        super().__init__(use_cache=False, case_sensitive=True)

    async def get_suggestion(self, value: str) -> str | None:
        folder, _, start = value.rpartition(os.sep)
        base = Path(os.path.expanduser(folder or "."))
        try:
            names = sorted(entry.name + (os.sep if entry.is_dir() else "") for entry in os.scandir(base)
                           if entry.name.startswith(start) and not entry.name.startswith(".")
                           and visible(entry.name) == entry.name
                           and (entry.is_dir() or entry.name.endswith((".json", ".bpmn"))))
        except OSError:
            return None
        return f"{folder}{os.sep if folder else ''}{names[0]}" if names else None


class PathInput(Input):
    """An input for a path where Tab takes the suggested completion, as in a shell (else moves on)."""

    BINDINGS = [Binding("tab", "complete", "Complete the path", show=False)]

    def action_complete(self) -> None:
        before = self.value
        self.cursor_position = len(self.value)
        self.action_cursor_right()  # at the end of the text, this takes the suggestion
        if self.value == before:
            self.screen.focus_next()


def problems_report(refused: BlueprintRefused) -> Table:
    """Every error and warning of a refused blueprint, each with the node or edge it is about."""
    table = Table(box=None, padding=(0, 1), expand=True, show_edge=False)
    table.add_column("", no_wrap=True)
    table.add_column("WHERE", style="bold", max_width=34)  # wrapped: a BPMN file's ends with the element's line
    table.add_column("PROBLEM", ratio=1)
    for problem in sorted(refused.problems, key=lambda p: p.severity != "error"):
        table.add_row(_severity(problem), shown(problem.where), shown(problem.message))
    return table


def _severity(problem: Problem) -> Text:
    return Text("✗ error", style="bold red") if problem.severity == "error" else Text("! warning", style="yellow")


class LoadBlueprintModal(ModalScreen[LoadedBlueprint | None]):
    """Asks for a path and loads it. A refused blueprint is reported here, every problem on its own line,
    and the form stays open to try again after fixing the file. Returns what was stored, or ``None``."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Back")]

    DEFAULT_CSS = """
    LoadBlueprintModal { align: center middle; }
    LoadBlueprintModal > Vertical {
        width: 120; max-width: 100%;
        height: auto; max-height: 95%; border: thick $primary; background: $surface; padding: 0 2;
    }
    LoadBlueprintModal #load-title { text-style: bold; margin-top: 1; }
    LoadBlueprintModal .hint { color: $text-muted; }
    LoadBlueprintModal #load-outcome { height: auto; }
    LoadBlueprintModal #load-report { height: auto; max-height: 50vh; }
    LoadBlueprintModal Horizontal { height: auto; align-horizontal: right; margin-bottom: 1; }
    LoadBlueprintModal Button { margin-left: 2; }
    """

    def __init__(self, backend: ConsoleBackend, path: str = "") -> None:
        super().__init__()
        self.backend = backend
        self.initial_path = path

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Load a blueprint file", id="load-title")
            yield Static("It is validated first: a blueprint with errors is refused and nothing is stored. Loading "
                         "the same file again changes nothing; a changed blueprint needs a new \"version\".",
                         classes="hint")
            yield Label(shown(f"Path of a blueprint file, JSON or BPMN (relative to {os.getcwd()}; Tab completes, "
                              "Enter loads):"))
            yield PathInput(self.initial_path, placeholder="e.g. sample_data/order_fulfilment.json", id="load-path",
                            suggester=PathSuggester())
            yield Static("", id="load-outcome")
            with VerticalScroll(id="load-report"):
                yield Static("", id="load-problems")
            with Horizontal():
                yield Button("Back (Esc)", id="back")
                yield Button("Load (Enter)", id="go", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#load-report").display = False
        self.query_one("#load-path", Input).focus()

    @on(Input.Submitted)
    @on(Button.Pressed, "#go")
    def _submit(self) -> None:
        self.query_one("#load-outcome", Static).update(Text("loading…", style="italic dim"))
        self._load(self.query_one("#load-path", Input).value)

    @on(Button.Pressed, "#back")
    def _back(self) -> None:
        self.dismiss(None)

    @work(thread=True, exclusive=True, group="load-blueprint", exit_on_error=False)
    def _load(self, path: str) -> None:
        try:
            loaded = self.backend.load_blueprint_file(path)
        except BlueprintRefused as refused:
            self.app.call_from_thread(self._show_refused, refused)
        except (BadInputError, WorkflowError) as error:
            self.app.call_from_thread(self._show_problem, str(error))
        except Exception as error:  # noqa: BLE001 - shown in the form, never a traceback
            self.app.call_from_thread(self._show_problem, f"{type(error).__name__}: {error}")
        else:
            self.app.call_from_thread(self.dismiss, loaded)

    def _show_refused(self, refused: BlueprintRefused) -> None:
        errors = sum(1 for p in refused.problems if p.severity == "error")
        warnings = len(refused.problems) - errors
        outcome = Text.assemble(("✗ Refused: ", "bold red"), (visible(refused.path), "bold"),
                                f" has {errors} error(s)" + (f" and {warnings} warning(s)" if warnings else ""),
                                ". Nothing was stored. Fix the file and press Enter to try again.")
        self.query_one("#load-outcome", Static).update(outcome)
        self.query_one("#load-problems", Static).update(problems_report(refused))
        self.query_one("#load-report").display = True

    def _show_problem(self, message: str) -> None:
        self.query_one("#load-outcome", Static).update(Text.assemble(("✗ ", "bold red"), visible(message)))
        self.query_one("#load-report").display = False
