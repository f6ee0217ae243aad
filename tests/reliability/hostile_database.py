"""A database whose every stored text field holds hostile text: terminal escape sequences, C1 and bidi
controls where the engine stores them as data, Rich/Textual markup where it allows them (ids, names, actors).

``build(path)`` makes it; ``python tests/reliability/hostile_database.py /tmp/hostile.db`` too, to drive
the console on it by hand. Used by ``test_hostile_text.py``.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from dataclasses import dataclass
from pathlib import Path

if __name__ == "__main__":  # run as a script: the repository root on the path
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from engine import WorkflowManager  # noqa: E402
from engine.runtime import WorkerRuntime  # noqa: E402
from engine.workers import RetryPolicy, WorkerRegistry  # noqa: E402
from store import open_store  # noqa: E402

OSC_TITLE = "\x1b]0;pwned\x07"
OSC_CLIPBOARD = "\x1b]52;c;ZXZpbA==\x07"
CLEAR_SCREEN = "\x1b[2J"
C1_CSI = "\x9b2J"
RLO = "\u202e"
MARKUP = "[/] [bold]x[/] [a-z] [ [@click=app.quit]q[/]"
"""Markup that crashes (``[/]``), styles (``[bold]``), is eaten (``[a-z]``), opens a tag (``[``) or binds a
click to an action (``[@click=...]``) when read as Rich or Textual markup."""
HOSTILE = f"{OSC_TITLE} {OSC_CLIPBOARD} {CLEAR_SCREEN} {C1_CSI} {RLO}evil {MARKUP}"
"""Every kind at once: for the fields stored as data (context, reasons, errors, conditions)."""

WORKFLOW_ID = "hostile[a-z][b]wf["  # no "/" so that `wfconsole graph` takes it as a workflow id
ACTOR = "ops[/][bold]ada[a-z]["  # actors refuse control characters, not markup
TASK_NODE, SPLIT_NODE, LATER_NODE = "charge[/]", "route[a-z][", "ship[bold]"
CONDITION = (f"note.matches('^[/]api[a-z]') && note != '{OSC_TITLE}{OSC_CLIPBOARD}{CLEAR_SCREEN}{C1_CSI}{RLO}' "
             "&& !note.matches(pattern)")


def blueprint() -> dict:
    """START -> charge (a worker that raises) -> route (an exclusive split with no default) -> ship -> END."""
    return {
        "workflow_id": WORKFLOW_ID, "version": 1, "name": f"[bold]Hostile[/] {MARKUP}",
        "nodes": [
            {"id": "start", "type": "INTERNAL", "internal_type": "EVENT", "event_type": "START"},
            {"id": TASK_NODE, "type": "TASK", "task_id": "charge[a-z][/]", "name": f"[red]Charge[/] {MARKUP}",
             "input_mapping": {"note[/]": "note", "pattern": "pattern"}, "output_mapping": {"paid[/]": "paid"}},
            {"id": SPLIT_NODE, "type": "INTERNAL", "internal_type": "GATEWAY", "gateway_type": "EXCLUSIVE_SPLIT"},
            {"id": LATER_NODE, "type": "TASK", "task_id": "ship[a-z]", "name": "Ship [/] it"},
            {"id": "end", "type": "INTERNAL", "internal_type": "EVENT", "event_type": "END"},
        ],
        "edges": [
            {"id": "e[/]1", "source_id": "start", "target_id": TASK_NODE},
            {"id": "e[a-z]2", "source_id": TASK_NODE, "target_id": SPLIT_NODE},
            {"id": "e[3", "source_id": SPLIT_NODE, "target_id": LATER_NODE, "condition": CONDITION},
            {"id": "e4", "source_id": SPLIT_NODE, "target_id": "end", "condition": "paid == '[/]' && amount > 100"},
            {"id": "e5", "source_id": LATER_NODE, "target_id": "end"},
        ],
    }


def hostile_context() -> dict:
    """Hostile keys and values, nested, and a regex the condition fails to compile (an error naming it)."""
    return {HOSTILE: HOSTILE, "note": f"/apix {HOSTILE}", "pattern": f"[{HOSTILE}", "amount": 5,
            "nested": {f"k{RLO}": [HOSTILE, {"deep[/]": C1_CSI}]}, "multi": f"line one\nline two{CLEAR_SCREEN}"}


def hostile_blueprint_file(folder: Path, name: str = f"bad{OSC_TITLE}{RLO}[a-z][.json") -> Path:
    """A blueprint file (named hostilely unless ``name`` is given: "/" would be a folder) whose ids and names
    break every rule about unsafe characters."""
    bad = blueprint()
    bad["workflow_id"] = f"bad{OSC_TITLE}"
    bad["name"] = f"{RLO}{CLEAR_SCREEN}"
    bad["nodes"][1]["id"] = f"n{C1_CSI}"
    bad["edges"][0]["target_id"] = f"gone{OSC_CLIPBOARD}"
    path = folder / name
    path.write_text(json.dumps(bad), encoding="utf-8")
    return path


@dataclass
class HostileDatabase:
    path: Path
    failed: str  # a worker raised hostile text: a FAILED execution (error and traceback)
    operator_failed: str  # failed by an operator with a hostile reason
    stuck: str  # marked STUCK with a hostile reason
    cancelled: str  # cancelled with a hostile reason
    no_match: str  # completed with hostile outputs; the split matched nothing (its condition errs)


def _raise_hostile(inputs: dict) -> dict:
    raise RuntimeError(f"card declined {HOSTILE}")


def build(path: Path) -> HostileDatabase:
    """Create the hostile database at ``path`` (a new file)."""
    store = open_store(path)
    try:
        manager = WorkflowManager(store)
        manager.add_workflow(blueprint())
        registry = WorkerRegistry()
        registry.register("charge[a-z][/]", _raise_hostile, RetryPolicy(attempts=1))
        runtime = WorkerRuntime(manager, registry, owner=f"host{MARKUP}")

        def started() -> tuple[str, str]:
            instance_id = manager.start_workflow(WORKFLOW_ID, hostile_context(), actor=ACTOR)
            return instance_id, manager.get_status(instance_id).executions[-1].id

        failed, execution = started()
        runtime.run_execution(execution, "charge[a-z][/]")
        operator_failed, execution = started()
        manager.fail_task(execution, f"by hand {HOSTILE}", actor=ACTOR)
        stuck, execution = started()
        manager.mark_stuck(execution, f"stuck {HOSTILE}", actor=ACTOR)
        cancelled, _ = started()
        manager.set_variables(cancelled, {f"set{RLO}": HOSTILE, "note": f"{OSC_TITLE}[/]"}, actor=ACTOR)
        manager.cancel(cancelled, f"withdrawn {HOSTILE}", actor=ACTOR)
        no_match, execution = started()
        try:
            manager.task_done(execution, {"paid[/]": f"yes {HOSTILE}"}, actor=ACTOR)
        except Exception:  # noqa: BLE001 - NoMatchingConditionError: the instance stopped at the split
            pass
    finally:
        store.close()
    _as_an_older_version_stored_it(path)
    return HostileDatabase(path, failed, operator_failed, stuck, cancelled, no_match)


def _as_an_older_version_stored_it(path: Path) -> None:
    """The blueprint's name column as a database written before names refused control characters."""
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE blueprints SET name = ?", (f"old {HOSTILE}",))


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "hostile.db")
    if target.exists():
        raise SystemExit(f"{target} exists; give a new path")
    built = build(target)
    print(f"{target}: instances {built}")
