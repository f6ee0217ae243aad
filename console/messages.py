"""Messages that travel across the whole app (widget-specific ones are declared inside their widget)."""

from __future__ import annotations

from textual.message import Message


class DataChanged(Message):
    """Someone committed to the database (this console, a worker, the CLI): reload what is on screen."""


class OpenInstance(Message):
    """Show the detail screen of an instance (with ``execution_id`` selected in its executions, if given)."""

    def __init__(self, instance_id: str, execution_id: str | None = None) -> None:
        super().__init__()
        self.instance_id = instance_id
        self.execution_id = execution_id


class WorkerOutcome(Message):
    """A worker of this console's runtime finished an attempt (posted from a worker thread)."""

    def __init__(self, execution: object, outcome: str, error: str | None) -> None:
        super().__init__()
        self.execution = execution
        self.outcome = outcome
        self.error = error
