"""Who works on a person's task (mixed into the screens that list one): ``c`` claims the selected task for this
operator, or gives it back when it is theirs. The engine refuses a task someone else claimed (its words shown as a
notification); taking one over is ``wfconsole claim --force``, recorded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from console.widgets.executions_table import ExecutionsTable

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
    """``c`` on the instance screen: claim the selected execution, or release it when this operator holds it."""

    def action_claim(self) -> None:
        """Claim the selected task for yourself, or release it if it is yours."""
        execution = self.query_one(ExecutionsTable).selected_execution  # type: ignore[attr-defined]
        if execution is None:
            self.notify("select an execution first (Tab to the executions table)",  # type: ignore[attr-defined]
                        severity="warning")
            return
        self.claim_or_release(execution)
