"""Hostile text in every stored field reaches no terminal raw and is never read as markup.

The database of :mod:`hostile_database` holds terminal escape sequences (OSC title and clipboard, CSI clear
screen), a C1 CSI, a bidi override and Rich/Textual markup (``[/]``, ``[bold]x[/]``, ``[a-z]``, a lone
``[``, ``[@click=...]``) in context keys and values, worker errors and tracebacks, operator reasons, history
details, conditions, the blueprint's ids and names and the actors. Every read command of the command line
and every screen and dialog of the console are run on it: none may write a control or bidi character, none
may crash or lose the markup-like text, and the text must be there, escaped.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hostile_database import (
    ACTOR,
    HOSTILE,
    MARKUP,
    OSC_TITLE,
    RLO,
    WORKFLOW_ID,
    HostileDatabase,
    build,
    hostile_blueprint_file,
    hostile_context,
)
from typer.testing import CliRunner

sys.path.append(str(Path(__file__).resolve().parents[1] / "console"))  # the console tests' pilot helpers
from app_pilot import RecordingApp, paste, run_async, settle  # noqa: E402
from textual import events  # noqa: E402
from textual.widgets import Input  # noqa: E402

from console.cli import app as cli_app  # noqa: E402
from console.messages import WorkerOutcome  # noqa: E402
from console.screens.instance_detail_screen import InstanceDetailScreen  # noqa: E402
from engine.model import Execution, ExecutionStatus  # noqa: E402

# What a terminal must never receive from stored text: C0 but the newline, DEL, C1, bidi, line separators.
RAW = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]")
ESCAPED = "\\x1b]0;pwned\\x07"  # OSC_TITLE as shown
ESCAPED_BIDI = "\\u202eevil"


def assert_no_raw(text: str, where: str) -> None:
    found = RAW.search(text)
    assert found is None, (f"{where}: raw {found.group()!r} at {found.start()}: "
                           f"{text[max(0, found.start() - 60):found.start() + 20]!r}")


@pytest.fixture
def hostile(tmp_path: Path) -> HostileDatabase:
    return build(tmp_path / "hostile.db")


# -- the command line -----------------------------------------------------------------------------


def run_cli(db: HostileDatabase, *args: str, exit_code: int = 0) -> str:
    """Run ``wfconsole ARGS`` on the database (``validate`` reads no database); return its output, checked."""
    result = CliRunner().invoke(cli_app, [*args] if args[0] == "validate" else [*args, "--db", str(db.path)])
    where = f"wfconsole {' '.join(args)!r}"
    assert result.exit_code == exit_code, f"{where}: exit {result.exit_code}\n{result.stdout}\n{result.stderr}"
    assert "Traceback" not in result.output, f"{where}: {result.output}"
    assert_no_raw(result.stdout, f"{where} stdout")
    assert_no_raw(result.stderr, f"{where} stderr")
    return result.stdout + result.stderr


def test_every_read_command_shows_hostile_text_escaped(hostile: HostileDatabase) -> None:
    instances = (hostile.failed, hostile.operator_failed, hostile.stuck, hostile.cancelled, hostile.no_match)
    for instance_id in instances:
        shown = run_cli(hostile, "show", instance_id)
        assert ESCAPED in shown and ESCAPED_BIDI in shown and MARKUP in shown, shown
        for fmt in ("text", "mermaid", "dot"):
            drawn = run_cli(hostile, "graph", instance_id, "--format", fmt)
            assert "^[/]api[a-z]" in drawn and "\\x9b2J" in drawn, (fmt, drawn)
    assert "card declined " + ESCAPED in run_cli(hostile, "show", hostile.failed)
    assert "by hand " + ESCAPED in run_cli(hostile, "incidents")
    listing = run_cli(hostile, "list")
    assert f"{WORKFLOW_ID} v1" in listing and "charge[/]" in listing
    history = run_cli(hostile, "history", "--limit", "500")
    # A long detail is shown as JSON: its escapes are JSON's (\u001b), as in --json.
    assert ACTOR in history and "withdrawn \\u001b]0;pwned" in history and "set\\u202e" in history
    assert ACTOR in run_cli(hostile, "history", "--actor", "ops[/]")
    assert f"old {ESCAPED}" in run_cli(hostile, "blueprints")
    assert WORKFLOW_ID in run_cli(hostile, "overview")
    assert "zz\\x1b]0;x\\x07" in run_cli(hostile, "list", "--search", "zz\x1b]0;x\x07")  # typed, echoed


def test_json_output_escapes_c1_and_bidi_and_reads_back_equal(hostile: HostileDatabase) -> None:
    document = run_cli(hostile, "show", hostile.failed, "--json")
    assert "\\u009b2J" in document and "\\u202eevil" in document
    assert json.loads(document)["context"] == hostile_context()
    for args in (("list",), ("history", "--limit", "500"), ("incidents",), ("blueprints",), ("overview",),
                 ("graph", hostile.no_match)):
        json.loads(run_cli(hostile, *args, "--json"))
    reasons = [i["reason"] for i in json.loads(run_cli(hostile, "incidents", "--json"))["incidents"]]
    assert f"by hand {HOSTILE}" in reasons


def test_hostile_file_names_ids_and_arguments_reach_stderr_escaped(hostile: HostileDatabase,
                                                                   tmp_path: Path) -> None:
    bad = hostile_blueprint_file(tmp_path)
    checked = run_cli(hostile, "validate", str(bad), exit_code=1)
    assert "bad\\x1b]0;pwned\\x07\\u202e[a-z][.json" in checked and "control character" in checked
    assert "bidi control character" in checked
    assert json.loads(run_cli(hostile, "validate", str(bad), "--json", exit_code=1))["valid"] is False
    refused = run_cli(hostile, "load", str(bad), exit_code=1)
    assert "\\x1b" in refused
    assert "\\x1b]0;x\\x07" in run_cli(hostile, "graph", f"gone\x1b]0;x\x07{MARKUP}.json", exit_code=2)
    assert "\\x1b" in run_cli(hostile, "show", f"zz{OSC_TITLE}", exit_code=2)  # bad input: 2


def test_every_graph_renderer_escapes_labels_and_conditions(hostile: HostileDatabase) -> None:
    from console.graph import build_graph, legend_rich, render_dot, render_mermaid, render_rich, render_text
    from engine import WorkflowManager
    from store import open_store

    store = open_store(hostile.path)
    try:
        manager = WorkflowManager(store)
        view = manager.get_status(hostile.no_match)
        model = build_graph(manager.get_workflow(WORKFLOW_ID), view)
    finally:
        store.close()
    for name, drawn in (("text", render_text(model)), ("rich", render_rich(model).plain),
                        ("mermaid", render_mermaid(model)), ("dot", render_dot(model)),
                        ("legend", legend_rich().plain)):
        assert_no_raw(drawn, name)
    assert "\\x1b]0;pwned\\x07" in render_text(model) and "[/]" in render_rich(model).plain


def hostile_execution(instance_id: str = "0" * 36) -> Execution:
    now = datetime.now(UTC)
    return Execution(id=f"{instance_id}:charge[/]:x", instance_id=instance_id, node_id="charge[/]",
                     task_id="charge[a-z][/]", inputs={}, status=ExecutionStatus.FAILED, attempt=1,
                     created_at=now, updated_at=now, error=f"RuntimeError: {HOSTILE}", lease_owner=ACTOR)


def test_the_workers_lines_and_log_escape_a_worker_error(capsys: pytest.CaptureFixture[str]) -> None:
    from console.cli_runtime import VisibleFormatter, print_outcome
    from engine.runtime import Outcome

    print_outcome(hostile_execution(), Outcome.FAILED, 0.5, f"RuntimeError: {HOSTILE}")
    line = capsys.readouterr().out
    assert_no_raw(line, "wfconsole workers")
    assert "RuntimeError: " + ESCAPED in line
    try:
        raise RuntimeError(HOSTILE)
    except RuntimeError:
        record = logging.LogRecord("wfconsole.runtime", logging.WARNING, __file__, 1, "attempt failed: %s",
                                   (HOSTILE,), sys.exc_info())
    logged = VisibleFormatter("%(message)s").format(record)
    assert_no_raw(logged, "the runtime's log")
    assert "attempt failed: " + ESCAPED in logged and "Traceback" in logged and "\\n" not in logged  # lines kept


# -- the console ----------------------------------------------------------------------------------


def screen_text(app: RecordingApp) -> str:
    """What the current screen draws, as the characters sent to the terminal (styles aside)."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


async def look(pilot, where: str, *expected: str) -> str:
    """Settle, then require no raw character, no error survived or raised, and each ``expected`` on screen."""
    await settle(pilot)
    app = pilot.app
    assert app.survived_errors == [], f"{where}: {app.survived_errors}"
    assert app._exception is None, f"{where}: {app._exception!r}"
    text = screen_text(app)
    assert_no_raw(text, where)
    for fragment in expected:
        assert fragment in text, f"{where}: {fragment!r} not on screen:\n{text}"
    return text


def hostile_app(db: HostileDatabase) -> RecordingApp:
    return RecordingApp(db_path=str(db.path), poll_seconds=0)


@run_async
async def test_every_view_draws_hostile_text_escaped(hostile: HostileDatabase) -> None:
    app = hostile_app(hostile)
    async with app.run_test(size=(200, 50), notifications=True) as pilot:
        await look(pilot, "overview", WORKFLOW_ID, "charge[a-z][/]")
        await pilot.press("2")
        await look(pilot, "instances", f"{WORKFLOW_ID}@1", "charge[/]")
        await pilot.press("slash", *"[/]", "enter")
        await look(pilot, "instances searched", "'[/]'")
        await pilot.press("w")
        await look(pilot, "workflow picker", WORKFLOW_ID)
        await pilot.press("escape", "3")
        await look(pilot, "incidents", "card declined " + ESCAPED, ESCAPED_BIDI, "[/] [bold]x[/] [a-z] [")
        await pilot.press("down")
        await look(pilot, "incidents, second row", "by hand " + ESCAPED)
        await pilot.press("4")
        # The graph writes the condition on its edge, shortened: its markup as the characters it is.
        await look(pilot, "blueprints", f"old {ESCAPED}", "note.matches('^[/]api[a", "paid == '[/]'")
        await pilot.press("s")
        await look(pilot, "start an instance", f"Start an instance of {WORKFLOW_ID}")
        await pilot.press("escape", "5")
        await look(pilot, "history", ACTOR, "withdrawn " + ESCAPED)
        await pilot.press("question_mark")
        await look(pilot, "help", "Keys")


@run_async
async def test_an_instance_and_its_dialogs_draw_hostile_text_escaped(hostile: HostileDatabase) -> None:
    app = hostile_app(hostile)
    async with app.run_test(size=(200, 50), notifications=True) as pilot:
        await settle(pilot)
        app.push_screen(InstanceDetailScreen(hostile.failed))
        await look(pilot, "instance", "card declined " + ESCAPED, ESCAPED_BIDI, "^[/]api[a", ACTOR)
        await pilot.press("enter")
        await look(pilot, "execution in full", "RuntimeError: card declined " + ESCAPED)
        await pilot.press("escape", "d")
        await look(pilot, "mark done", "paid[/] → paid", "paid == '[/]' && amount > 100", "[red]Charge[/]")
        await pilot.press("escape", "e")
        await look(pilot, "edit a variable", "Set a variable")
        await pilot.press("escape", "x")
        await look(pilot, "cancel", "Cancel instance")
        await pilot.press("escape")
        app.push_screen(InstanceDetailScreen(hostile.no_match))
        await look(pilot, "instance stopped at the split", "route[a-z][", "\\x9b2J")
        app.push_screen(InstanceDetailScreen(hostile.stuck))
        await look(pilot, "stuck instance", "stuck " + ESCAPED)
        await pilot.press("f")
        await look(pilot, "fail", "[red]Charge[/]")
        await paste(pilot, "price [/] qty")
        await pilot.press("enter")
        await look(pilot, "failed with a typed reason", ": price [/] qty")
        await pilot.press("e", *"k[/]", "tab", *"x[a-z]", "enter")
        await look(pilot, "a variable set with a typed key", "k[/] set on instance", "k[/] = \"x[a-z]\"")


@run_async
async def test_notifications_pastes_and_the_load_form_show_hostile_text_escaped(hostile: HostileDatabase,
                                                                               tmp_path: Path) -> None:
    bad = hostile_blueprint_file(tmp_path, "refused.json")
    hostile_blueprint_file(tmp_path)  # beside it, a file whose name holds ESC and RLO: never proposed
    app = hostile_app(hostile)
    async with app.run_test(size=(200, 50), notifications=True) as pilot:
        await settle(pilot)
        app.post_message(WorkerOutcome(hostile_execution(hostile.failed), "FAILED", f"RuntimeError: {HOSTILE}"))
        await look(pilot, "a worker's failure notified", "RuntimeError: " + ESCAPED)
        await pilot.press("4", "L")  # L loads a file (l moves in the graph)
        await settle(pilot)
        field = app.screen.query_one("#load-path", Input)
        field.value = f"{tmp_path}/"
        await pilot.press("tab")  # completes with the one file that can be typed back
        await look(pilot, "the path completed", "refused.json")
        assert field.value == str(bad)
        await pilot.press("enter")
        await look(pilot, "a refused blueprint file", "refused.json", "gone\\x1b]52", "n\\x9b2J")
        field.value = ""
        app.post_message(events.Paste(f"{tmp_path}/pasted{OSC_TITLE}{RLO}.json"))
        await look(pilot, "a pasted path", "pasted" + ESCAPED + "\\u202e.json")
        assert field.value.endswith("pasted" + ESCAPED + "\\u202e.json")
        await pilot.press("enter")
        await look(pilot, "the pasted path not found", "pasted" + ESCAPED)
