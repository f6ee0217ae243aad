"""The repair half of the front ends' one door (mixed into :class:`engine.operations.Operations`): moving
tokens and migrating versions with their previews, batches over any filtered set of instances, the checks of a
completion by hand, what a stopped split needs, and a variable's history.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from difflib import get_close_matches
from typing import TYPE_CHECKING, Any

from engine.actions import OPEN, Action
from engine.errors import InvalidStateError, InvalidValueError, WorkflowError
from engine.kinds import Family, spec
from engine.model import HistoryKind
from engine.outcomes import ActionResult
from engine.ports import InstanceQuery
from engine.reports import HistoryQuery
from engine.soundness import Finding

if TYPE_CHECKING:
    from datetime import datetime

    from engine.graph import CompiledBlueprint
    from engine.manager import WorkflowManager

PAGE = 1000  # instances read per query when a batch collects the ones a filter matches


class UnmappedOutputsError(InvalidValueError):
    """Outputs typed by hand that the task's output mapping does not map (``keys``): they would be dropped."""

    def __init__(self, message: str, keys: list[str]) -> None:
        super().__init__(message)
        self.keys = keys


@dataclass(frozen=True)
class RepairPreview:
    """What a move or a migration would leave, for a dry run: the tokens (node, status), the executions it
    creates and cancels (node ids), the instance's status and version, and the findings."""

    instance_id: str
    tokens: list[tuple[str, str]]
    created: list[str]
    cancelled: list[str]
    status: str
    version: int
    findings: list[Finding]

    @property
    def refused(self) -> bool:
        """Whether applying it would be refused unless forced."""
        return any(f.blocking for f in self.findings)


@dataclass
class BatchResult:
    """What a batch did: the ids done, those refused with why, those an earlier run of the same batch had done
    (``skipped``), and whether it was stopped before the end."""

    batch_id: str
    done: list[str] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    stopped: bool = False

    @property
    def total(self) -> int:
        return len(self.done) + len(self.refused)


@dataclass(frozen=True)
class VariableChange:
    """One change of a variable: when, by whom, how (``started``, ``set``, ``output`` of an execution, ``unset``)
    and the value it took (``None`` for an unset)."""

    at: datetime
    actor: str | None
    how: str
    value: Any
    execution_id: str | None = None


class RepairOperations:
    """Mixed into :class:`~engine.operations.Operations` (which provides ``manager``, ``actor`` and the rest)."""

    manager: WorkflowManager
    actor: str
    instance: Callable[..., Any]
    instances: Callable[..., Any]
    workflow: Callable[..., CompiledBlueprint]
    search_history: Callable[..., Any]
    writing: Callable[[], None]  # raises ReadOnlyError when the operations are read-only

    # -- moving tokens and migrating ------------------------------------------------------------------

    def move_tokens(self, instance_id: str, remove: list[str] = (), add: list[str] = (), *,
                    forced: bool = False) -> ActionResult:
        """Remove the tokens on ``remove``, place tokens on ``add``, in one step; refused (nothing changes) when
        the instance could never finish afterwards, unless ``forced``."""
        self.writing()
        self.manager.move_tokens(instance_id, list(remove), list(add), actor=self.actor, forced=forced)
        moved = " and ".join(part for part in (
            f"removed the token at {', '.join(remove)}" if remove else "",
            f"placed a token on {', '.join(add)}" if add else "") if part)
        return ActionResult(Action.MOVE_TOKENS, instance_id, True,
                            f"instance {instance_id[:8]}: {moved}{' (forced)' if forced else ''}")

    def migrate(self, instance_id: str, to_version: int, mapping: dict[str, str] | None = None, *,
                forced: bool = False) -> ActionResult:
        """Move the instance to version ``to_version`` of its workflow (``mapping``: old node -> new node)."""
        self.writing()
        before = self.instance(instance_id, history_limit=0).version
        self.manager.migrate(instance_id, to_version, mapping, actor=self.actor, forced=forced)
        return ActionResult(Action.MIGRATE, instance_id, True, f"instance {instance_id[:8]} migrated from version "
                            f"{before} to {to_version}{' (forced)' if forced else ''}")

    def preview_move(self, instance_id: str, remove: list[str] = (), add: list[str] = ()) -> RepairPreview:
        """What :meth:`move_tokens` would leave, applying nothing."""
        return self._preview(instance_id, self.manager.preview_repair(instance_id, list(remove), list(add),
                                                                      actor=self.actor))

    def preview_migration(self, instance_id: str, to_version: int,
                          mapping: dict[str, str] | None = None) -> RepairPreview:
        """What :meth:`migrate` would leave, applying nothing."""
        return self._preview(instance_id, self.manager.preview_repair(instance_id, to_version=to_version,
                                                                      mapping=mapping, actor=self.actor))

    @staticmethod
    def _preview(instance_id: str, repair: Any) -> RepairPreview:
        state, changes = repair.transition.state, repair.transition.changes
        return RepairPreview(
            instance_id, sorted((t.node_id, str(t.status)) for t in state.tokens.values()),
            [e.node_id for e in changes.executions_added],
            [e.node_id for e in changes.executions_updated if e.status == "CANCELLED"],
            str(state.status), state.version, list(repair.findings))

    # -- batches --------------------------------------------------------------------------------------

    def matching_ids(self, query: InstanceQuery, limit: int | None = None) -> list[str]:
        """Every instance id the query matches now (its limit and offset ignored), newest first: the set a batch
        acts on is fixed before it starts, so acting cannot move rows in or out of it."""
        ids: list[str] = []
        offset = 0
        while limit is None or len(ids) < limit:
            # Every filter of the query kept (a new one included), only the paging replaced.
            page = self.instances(replace(query, limit=PAGE, offset=offset))
            offset += len(page)
            ids += [summary.id for summary in page]
            if len(page) < PAGE:
                break
        ids = list(dict.fromkeys(ids))  # a row that moved between two pages is acted on once
        return ids[:limit] if limit is not None else ids

    def batch_action(self, action: str, **options: Any) -> Callable[[str], ActionResult]:
        """The action a batch does to each instance id: ``cancel`` (reason), ``retry`` (every FAILED or STUCK
        execution), ``resume``, ``migrate`` (to_version, mapping, forced), ``set`` (values) or ``move``
        (remove, add, forced)."""
        self.writing()
        actions: dict[str, Callable[[str], ActionResult]] = {
            "cancel": lambda i: self.cancel(i, options["reason"]),
            "retry": self._retry_instance_incidents,
            "resume": lambda i: self.resume(i),
            "migrate": lambda i: self.migrate(i, options["to_version"], options.get("mapping"),
                                              forced=options.get("forced", False)),
            "set": lambda i: self.set_variables(i, options["values"]),
            "move": lambda i: self.move_tokens(i, options.get("remove", ()), options.get("add", ()),
                                               forced=options.get("forced", False)),
        }
        if action not in actions:
            close = get_close_matches(action, list(actions), n=1)
            raise InvalidValueError(f"unknown batch action {action!r}"
                                    + (f"; did you mean {close[0]!r}?" if close else f"; one of {', '.join(actions)}"))
        return actions[action]

    def batch(self, instance_ids: list[str], act: Callable[[str], ActionResult], *, batch_id: str | None = None,
              should_stop: Callable[[], bool] | None = None,
              progress: Callable[[int, int], None] | None = None) -> BatchResult:
        """``act`` on each instance, each in its own transaction (never one long write lock), recorded in its
        history as an item of the batch (its id, the actor). Going on past refusals; stopped when
        ``should_stop()`` says so. Given the id of an earlier run, the instances it already did are skipped:
        a batch stopped half-way is resumed with nothing done twice."""
        self.writing()
        result = BatchResult(batch_id or uuid.uuid4().hex[:12])
        done_before = self.batch_items(result.batch_id) if batch_id else set()
        with self.manager.batch(result.batch_id):
            for number, instance_id in enumerate(instance_ids, start=1):
                if should_stop is not None and should_stop():
                    result.stopped = True
                    break
                if instance_id in done_before:
                    result.skipped.append(instance_id)
                else:
                    self._batch_item(result, instance_id, act)
                if progress is not None:
                    progress(number, len(instance_ids))
        return result

    def _batch_item(self, result: BatchResult, instance_id: str, act: Callable[[str], ActionResult]) -> None:
        try:
            outcome = act(instance_id)
        except WorkflowError as error:
            result.refused.append((instance_id, str(error)))
        except Exception as error:  # noqa: BLE001 - reported with the others; the batch goes on
            result.refused.append((instance_id, f"{type(error).__name__}: {error}"))
        else:
            (result.done if outcome.applied else result.refused).append(
                instance_id if outcome.applied else (instance_id, outcome.message))  # type: ignore[arg-type]

    def batch_items(self, batch_id: str) -> set[str]:
        """The instances a batch has acted on, from their histories."""
        hits = self.search_history(HistoryQuery(kind=HistoryKind.BATCH_ITEM, limit=10_000_000))
        return {hit.entry.instance_id for hit in hits if hit.entry.details.get("batch_id") == batch_id}

    def _retry_instance_incidents(self, instance_id: str) -> ActionResult:
        view = self.instance(instance_id, history_limit=0)
        failed = [e for e in view.executions if e.status in ("FAILED", "STUCK")]
        if not failed:
            raise InvalidStateError(f"instance {instance_id[:8]} has no FAILED or STUCK execution to retry")
        results = [self.retry(e.id) for e in failed]
        return ActionResult(Action.RETRY, instance_id, True, "; ".join(r.message for r in results))

    # -- completing by hand ---------------------------------------------------------------------------

    def check_outputs(self, execution_id: str, outputs: dict[str, Any]) -> None:
        """Refuse outputs typed by hand that the task's output mapping does not map
        (:class:`UnmappedOutputsError`, naming each key and the nearest mapped one)."""
        execution = self.manager.get_execution(execution_id)
        view = self.instance(execution.instance_id, history_limit=0)
        node = self.workflow(view.workflow_id, view.version).node(execution.node_id)
        mapped = list(node.output_mapping)
        unmapped = [key for key in outputs if key not in node.output_mapping]
        if not unmapped:
            return
        problems = []
        for key in unmapped:
            close = get_close_matches(key, mapped, n=1)
            problems.append(f"{key}: not an output of {execution.node_id}"
                            + (f"; did you mean {close[0]}?" if close else ""))
        maps = f"it maps {', '.join(mapped)}" if mapped else "it maps no output"
        raise UnmappedOutputsError("; ".join(problems) + f" ({maps}; unmapped outputs are dropped)", unmapped)

    def completion_warnings(self, execution_id: str, outputs: dict[str, Any]) -> list[str]:
        """What to say before a completion by hand: the next exclusive splits' conditions read variables that
        neither the context nor these outputs set (they would be null there)."""
        execution = self.manager.get_execution(execution_id)
        view = self.instance(execution.instance_id, history_limit=0)
        bp = self.workflow(view.workflow_id, view.version)
        written = {bp.node(execution.node_id).output_mapping[k] for k in outputs
                   if k in bp.node(execution.node_id).output_mapping}
        known = set(view.context) | written
        warnings = []
        for split_id in _next_splits(bp, execution.node_id):
            for edge in bp.outgoing.get(split_id, []):
                condition = bp.conditions.get(edge.id)
                for name in _context_names(condition):
                    if name not in known:
                        warnings.append(f"split {split_id!r} tests {name!r} (edge {edge.id!r}), which neither the "
                                        "context nor these outputs set: it will be null there")
        return list(dict.fromkeys(warnings))

    # -- what a stopped split needs, and a variable's story -------------------------------------------

    def split_variables(self, instance_id: str) -> dict[str, dict[str, Any]]:
        """For each exclusive split the instance stopped FAILED at, the variables its conditions read and their
        current values (``None`` when unset): what to set before resuming it."""
        view = self.instance(instance_id, history_limit=0)
        bp = self.workflow(view.workflow_id, view.version)
        found: dict[str, dict[str, Any]] = {}
        for token in view.tokens:
            if str(token.status) != "FAILED" or not spec(bp.kinds[token.node_id]).chooses:
                continue
            names: dict[str, Any] = {}
            for edge in bp.outgoing.get(token.node_id, []):
                condition = bp.conditions.get(edge.id)
                for name in _context_names(condition):
                    names[name] = view.context.get(name)
            found[token.node_id] = names
        return found

    def variable_history(self, instance_id: str, name: str) -> list[VariableChange]:
        """Every change of the variable ``name`` of an instance, oldest first, with who and when."""
        view = self.instance(instance_id)
        changes: list[VariableChange] = []
        for entry in view.history:
            details = entry.details
            if entry.kind is HistoryKind.INSTANCE_STARTED and name in (details.get("context") or {}):
                changes.append(VariableChange(entry.at, entry.actor, "started", details["context"][name]))
            elif entry.kind is HistoryKind.CONTEXT_SET and name in details.get("values", {}):
                how = "output" if entry.execution_id else "set"
                changes.append(VariableChange(entry.at, entry.actor, how, details["values"][name], entry.execution_id))
            elif entry.kind is HistoryKind.CONTEXT_UNSET and name in details.get("keys", []):
                changes.append(VariableChange(entry.at, entry.actor, "unset", None))
        if not changes and name not in view.context:
            close = get_close_matches(name, list(view.context), n=1)
            raise InvalidValueError(f"instance {instance_id[:8]} has never had a variable {name!r}"
                                    + (f"; did you mean {close[0]!r}?" if close else ""))
        return changes


def _next_splits(bp: CompiledBlueprint, node_id: str) -> Iterator[str]:
    """The exclusive splits a token leaving ``node_id`` meets before any task."""
    seen: set[str] = set()
    stack = [edge.target_id for edge in bp.outgoing.get(node_id, [])]
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        entry = spec(bp.kinds[current])
        if entry.chooses:
            yield current
        elif entry.family is not Family.TASK and not entry.ends:
            stack.extend(edge.target_id for edge in bp.outgoing.get(current, []))


def _context_names(condition: Any) -> list[str]:
    """The context's names a compiled condition reads (its comprehension variables left out)."""
    if condition is None:
        return []
    return list(condition.reads) if condition.reads is not None else list(condition.variables)


__all__ = ["OPEN", "BatchResult", "RepairOperations", "RepairPreview", "UnmappedOutputsError", "VariableChange"]
