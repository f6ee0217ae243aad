"""A peer for the engine benchmark: SpiffWorkflow 3.x running the verification flow as a host application
would run it durably: after each step the workflow is serialized (Spiff's JSON serializer) and written to
SQLite in one ``BEGIN IMMEDIATE`` transaction with the store's pragmas, one row per instance.

The flow is the one of :data:`bench.preload.VERIFICATION_FLOW`, as BPMN: init, an exclusive split on ``ok``,
t1 and t2 in parallel, the join, the alternative path, the exclusive join, the end; tasks are user tasks,
completed by the host with the same outputs as the engine's benchmark (``ok = True`` for init).
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="defs"
    targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="verification" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>e0</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="init"><bpmn:incoming>e0</bpmn:incoming><bpmn:outgoing>e1</bpmn:outgoing></bpmn:userTask>
    <bpmn:exclusiveGateway id="split"><bpmn:incoming>e1</bpmn:incoming><bpmn:outgoing>e2</bpmn:outgoing>
      <bpmn:outgoing>e_alt</bpmn:outgoing></bpmn:exclusiveGateway>
    <bpmn:parallelGateway id="p_split"><bpmn:incoming>e2</bpmn:incoming><bpmn:outgoing>e3</bpmn:outgoing>
      <bpmn:outgoing>e4</bpmn:outgoing></bpmn:parallelGateway>
    <bpmn:userTask id="t1"><bpmn:incoming>e3</bpmn:incoming><bpmn:outgoing>e5</bpmn:outgoing></bpmn:userTask>
    <bpmn:userTask id="t2"><bpmn:incoming>e4</bpmn:incoming><bpmn:outgoing>e6</bpmn:outgoing></bpmn:userTask>
    <bpmn:parallelGateway id="p_join"><bpmn:incoming>e5</bpmn:incoming><bpmn:incoming>e6</bpmn:incoming>
      <bpmn:outgoing>e7</bpmn:outgoing></bpmn:parallelGateway>
    <bpmn:userTask id="alt_path"><bpmn:incoming>e_alt</bpmn:incoming><bpmn:outgoing>e8</bpmn:outgoing>
      </bpmn:userTask>
    <bpmn:exclusiveGateway id="e_join"><bpmn:incoming>e7</bpmn:incoming><bpmn:incoming>e8</bpmn:incoming>
      <bpmn:outgoing>e9</bpmn:outgoing></bpmn:exclusiveGateway>
    <bpmn:endEvent id="end"><bpmn:incoming>e9</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="e0" sourceRef="start" targetRef="init"/>
    <bpmn:sequenceFlow id="e1" sourceRef="init" targetRef="split"/>
    <bpmn:sequenceFlow id="e2" sourceRef="split" targetRef="p_split">
      <bpmn:conditionExpression>ok == True</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="e_alt" sourceRef="split" targetRef="alt_path">
      <bpmn:conditionExpression>ok == False</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="e3" sourceRef="p_split" targetRef="t1"/>
    <bpmn:sequenceFlow id="e4" sourceRef="p_split" targetRef="t2"/>
    <bpmn:sequenceFlow id="e5" sourceRef="t1" targetRef="p_join"/>
    <bpmn:sequenceFlow id="e6" sourceRef="t2" targetRef="p_join"/>
    <bpmn:sequenceFlow id="e7" sourceRef="p_join" targetRef="e_join"/>
    <bpmn:sequenceFlow id="e8" sourceRef="alt_path" targetRef="e_join"/>
    <bpmn:sequenceFlow id="e9" sourceRef="e_join" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>
"""


class SpiffPeer:
    """Verification flows in SpiffWorkflow, each serialized to SQLite after every step."""

    def __init__(self, path: Path, durability: str, pragmas: tuple[str, ...]) -> None:
        from SpiffWorkflow.bpmn.parser import BpmnParser
        from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer

        bpmn_file = path.with_suffix(".bpmn")
        bpmn_file.write_text(BPMN)
        parser = BpmnParser()
        parser.add_bpmn_file(str(bpmn_file))
        self.spec = parser.get_spec("verification")
        self.serializer = BpmnWorkflowSerializer()
        self.connection = sqlite3.connect(path, isolation_level=None, timeout=30)
        for pragma in pragmas:
            self.connection.execute("PRAGMA " + pragma.format(durability=durability))
        self.connection.execute("CREATE TABLE IF NOT EXISTS workflows (id INTEGER PRIMARY KEY, state TEXT NOT NULL)")
        self.pending: list[int] = []  # instances with a ready task, in the order they became ready
        self.started = 0

    def _save(self, number: int, workflow: Any, new: bool) -> None:
        state = self.serializer.serialize_json(workflow)
        cursor = self.connection.cursor()
        cursor.execute("BEGIN IMMEDIATE")
        if new:
            cursor.execute("INSERT INTO workflows (id, state) VALUES (?, ?)", (number, state))
        else:
            cursor.execute("UPDATE workflows SET state = ? WHERE id = ?", (state, number))
        cursor.execute("COMMIT")

    def start(self, count: int) -> int:
        from SpiffWorkflow.bpmn.workflow import BpmnWorkflow

        for number in range(self.started, self.started + count):
            workflow = BpmnWorkflow(self.spec)
            workflow.data["customer"] = f"c-{number:06d}"
            workflow.do_engine_steps()
            self._save(number, workflow, new=True)
            self.pending.extend([number] * len(self._ready(workflow)))
        self.started += count
        return count

    @staticmethod
    def _ready(workflow: Any) -> list[Any]:
        from SpiffWorkflow.util.task import TaskState

        return workflow.get_tasks(state=TaskState.READY, manual=True)

    def run(self, count: int) -> int:
        """Complete ``count`` ready tasks: load the instance, complete its first ready task, save it."""
        done = 0
        while self.pending and done < count:
            number = self.pending.pop(0)
            row = self.connection.execute("SELECT state FROM workflows WHERE id = ?", (number,)).fetchone()
            workflow = self.serializer.deserialize_json(row[0])
            task = self._ready(workflow)[0]
            ready_before = len(self._ready(workflow))
            task.data.update({"ok": True} if task.task_spec.name == "init" else {"status": "done"})
            task.run()
            workflow.do_engine_steps()
            self._save(number, workflow, new=False)
            self.pending.extend([number] * (len(self._ready(workflow)) - ready_before + 1))
            done += 1
        return done

    def completed(self) -> int:
        from SpiffWorkflow.bpmn.workflow import BpmnWorkflow  # noqa: F401 - the serializer needs the classes

        rows = self.connection.execute("SELECT state FROM workflows").fetchall()
        return sum(self.serializer.deserialize_json(r[0]).is_completed() for r in rows)

    def close(self) -> None:
        self.connection.close()


def measure_peer(workdir: str, durability: str, instances: int, segment: int) -> dict[str, Any]:
    """The engine (one thread) and the Spiff peer, interleaved in segments; both start then complete."""
    from bench.engine import PRAGMAS, Engine, _remove_db, interleave

    work = Path(workdir)
    for name in ("peer-engine.db", "peer-spiff.db"):
        _remove_db(work / name)
    workers = {"engine": Engine(work / "peer-engine.db", durability),
               "spiff": SpiffPeer(work / "peer-spiff.db", durability, PRAGMAS)}
    started = time.perf_counter()
    starts = interleave(workers, {"engine": instances, "spiff": instances}, segment, method="start")
    runs = interleave(workers, {"engine": 3 * instances, "spiff": 3 * instances}, segment)
    result = {"starts": starts, "runs": runs, "seconds": time.perf_counter() - started,
              "engine_completed": workers["engine"].completed_instances(),
              "spiff_completed": workers["spiff"].completed()}
    for worker in workers.values():
        worker.close()
    for name in ("peer-engine.db", "peer-spiff.db"):
        _remove_db(work / name)
    return result
