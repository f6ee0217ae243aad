"""Read-only operations: every write refused by the engine with one reason, shown beforehand as permissions."""

from __future__ import annotations

import blueprints as bps
import pytest

from engine.actions import EXECUTION_ACTIONS, INSTANCE_ACTIONS, READ_ONLY_REFUSAL
from engine.errors import ReadOnlyError
from engine.operations import Operations


def test_every_write_is_refused_and_nothing_changes(manager, recorder):
    manager.add_workflow(bps.linear())
    instance_id = manager.start_workflow("linear")
    execution_id = recorder.execution_id("task_a")
    looker = Operations(manager, actor="viewer", readonly=True)
    before = looker.instance(instance_id)
    writes = {
        "start": lambda: looker.start("linear"),
        "complete": lambda: looker.complete(execution_id, {}),
        "fail": lambda: looker.fail(execution_id, "no"),
        "retry": lambda: looker.retry(execution_id),
        "cancel": lambda: looker.cancel(instance_id, "no"),
        "set": lambda: looker.set_variables(instance_id, {"a": 1}),
        "unset": lambda: looker.unset_variables(instance_id, ["a"]),
        "resume": lambda: looker.resume(instance_id),
        "move": lambda: looker.move_tokens(instance_id, ["task_a"], []),
        "migrate": lambda: looker.migrate(instance_id, 1),
        "load": lambda: looker.load_blueprints([(bps.two_tasks(), None)]),
        "batch": lambda: looker.batch_action("cancel", reason="no"),
    }
    for name, write in writes.items():
        with pytest.raises(ReadOnlyError, match="read-only") as refused:
            write()
        assert str(refused.value) == READ_ONLY_REFUSAL, name
    assert looker.instance(instance_id) == before
    assert looker.instances  # reads work


def test_read_only_permissions_refuse_every_action_with_the_engines_reason(manager):
    manager.add_workflow(bps.linear())
    instance_id = manager.start_workflow("linear")
    looker = Operations(manager, readonly=True)
    view = looker.instance(instance_id)
    allowed = looker.permissions(view, view.executions[0])
    for action in (*EXECUTION_ACTIONS, *INSTANCE_ACTIONS):
        assert not allowed.allows(action)
        assert allowed.why_not(action) == READ_ONLY_REFUSAL
    writer = Operations(manager)
    assert writer.permissions(view, view.executions[0]).allows(EXECUTION_ACTIONS[0])
