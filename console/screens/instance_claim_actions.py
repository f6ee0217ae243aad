"""Who works on a person's task (mixed into the screens that list one): ``c`` claims the selected task for this
operator, or gives it back when it is theirs. The engine refuses a task someone else claimed (its words shown as a
notification); taking one over is ``wfconsole claim --force``, recorded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from console.widgets.executions_table import ExecutionsTable
from engine import ExecutionStatus
from engine.actions import Action
from engine.ports import PersonTask

if TYPE_CHECKING:
    from console.backend import ConsoleBackend
    from engine import Execution


class ClaimActions:
    """Claim a task, or release it when this operator holds it, in a worker (:meth:`LiveScreen.perform`)."""

    backend: ConsoleBackend

    def claim_or_release(self, execution: Execution) -> None:
        """Claim ``execution`` for yourself, or release it if it is yours; the outcome is a notification."""
        ops = self.backend.ops
        if execution.assignee == ops.actor:
            self.perform(lambda: ops.release(execution.id), "Release")  # type: ignore[attr-defined]
        else:
            self.perform(lambda: ops.claim(execution.id), "Claim")  # type: ignore[attr-defined]


class InstanceClaimActions(ClaimActions):
    """``c`` on the instance screen: claim the selected execution, or release it when this operator holds it.
    The footer shows ``c`` (Claim or Release) while the selected execution is a person's open task, dimmed when
    someone else holds it."""

    def selected_person_task(self) -> PersonTask | None:
        """The selected execution as a task list row, when it is a person's open task (an ACTIVE execution of
        a task no worker of this console runs); else ``None``."""
        detail = getattr(self, "detail", None)
        if detail is None or not self.is_mounted:  # type: ignore[attr-defined]
            return None
        execution = self.query_one(ExecutionsTable).selected_execution  # type: ignore[attr-defined]
        if execution is None or execution.status is not ExecutionStatus.ACTIVE:
            return None
        runtime = self.console.runtime  # type: ignore[attr-defined]
        local = runtime.registry.task_ids if runtime is not None else ()
        if execution.task_id in local and not (execution.assignee or execution.candidate_group):
            return None  # a worker's
        view = detail.view
        return PersonTask(execution, view.workflow_id, view.version, view.status)

    def _claim_action_of(self, task: PersonTask) -> Action:
        return Action.RELEASE if task.execution.assignee == self.backend.ops.actor else Action.CLAIM

    def claim_refusal(self) -> str | None:
        """Why ``c`` does nothing to the selected execution (the engine's words), or ``None``."""
        task = self.selected_person_task()
        if task is None:
            return "c claims a person's open task: select one in the executions (Tab to the executions table)"
        return self.backend.ops.task_refusal(task, self._claim_action_of(task))

    def claim_shown(self) -> bool | None:
        """check_action of ``c``: shown on a person's open task, dimmed when the engine refuses it."""
        task = self.selected_person_task()
        if task is None:
            return False
        return True if self.backend.ops.task_refusal(task, self._claim_action_of(task)) is None else None

    def footer_label(self, action: str) -> str | None:
        """``c`` says what it does to the selected task: Release on yours, else Claim."""
        if action != "claim":
            return None
        task = self.selected_person_task()
        return "Release" if task is not None and self._claim_action_of(task) is Action.RELEASE else "Claim"

    def action_claim(self) -> None:
        """Claim the selected task for yourself, or release it if it is yours."""
        refusal = self.claim_refusal()
        if refusal is not None:
            self.notify(refusal, severity="warning")  # type: ignore[attr-defined]
            return
        execution = self.query_one(ExecutionsTable).selected_execution  # type: ignore[attr-defined]
        self.claim_or_release(execution)
