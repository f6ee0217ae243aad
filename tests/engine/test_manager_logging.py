"""Engine log records carry the instance id, so one instance's lines can be filtered out."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from engine import WorkflowManager
from store import open_store

FLOW = {
    "workflow_id": "w",
    "nodes": [
        {"id": "start", "type": "INTERNAL", "internal_type": "EVENT", "event_type": "START"},
        {"id": "t", "type": "TASK", "task_id": "t"},
        {"id": "end", "type": "INTERNAL", "internal_type": "EVENT", "event_type": "END"},
    ],
    "edges": [{"id": "e1", "source_id": "start", "target_id": "t"}, {"id": "e2", "source_id": "t", "target_id": "end"}],
}


def test_log_records_can_be_filtered_by_instance(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store = open_store(tmp_path / "wf.db")
    manager = WorkflowManager(store)
    manager.add_workflow(FLOW)
    first = manager.start_workflow("w", {})
    second = manager.start_workflow("w", {})
    with caplog.at_level(logging.DEBUG, logger="wfconsole.engine"):
        for instance_id in (first, second):
            manager.task_done(manager.get_status(instance_id).executions[0].id, {})
    mine = [r for r in caplog.records if getattr(r, "instance_id", None) == first]
    assert mine and all(first in r.getMessage() for r in mine)
    assert any(getattr(r, "status", None) == "COMPLETED" for r in mine)
    assert not any(second in r.getMessage() for r in mine)
