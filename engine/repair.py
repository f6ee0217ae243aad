"""Repairs an operator makes to a running instance, as Camunda Operate allows and checked as it does not:
move tokens (cancel the tokens on some nodes and place tokens on others in one step) and migrate an instance
to another version of its workflow. Pure, like :mod:`engine.machine`: (blueprint, state, what to change,
event) -> :class:`~engine.model.Transition`.

Every repair is checked on the state it would leave (:func:`engine.soundness.check_tokens`): a finding that
leaves the instance unable to finish refuses it (:class:`RepairRefusedError`, nothing changes) unless the
operator forces it, which the history records with the findings. :func:`preview` gives the same transition
and findings without applying anything: what a dry run shows.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from difflib import get_close_matches

from engine.actions import Action, instance_refusal
from engine.errors import InvalidStateError, InvalidValueError
from engine.graph import CompiledBlueprint
from engine.kinds import Family, spec
from engine.machine import OPEN_EXECUTION, Event, _payload, _refuse, _Step
from engine.model import (
    ExecutionStatus,
    HistoryEntry,
    HistoryKind,
    InstanceState,
    InstanceStatus,
    TokenStatus,
    Transition,
)
from engine.soundness import Finding, check_tokens


class RepairRefusedError(InvalidStateError):
    """The repair would leave the instance unable to finish; ``findings`` says why. Nothing was changed."""

    def __init__(self, findings: list[Finding], hint: str = "force it to apply it all the same (recorded as forced)"
                 ) -> None:
        self.findings = findings
        blocking = "; ".join(str(f) for f in findings if f.blocking)
        why = "; ".join(str(f) for f in findings if not f.blocking)
        cannot_force = any(f.kind == "no_tokens" for f in findings)
        super().__init__(f"refused: {blocking}" + (f" ({why})" if why else "") + ("" if cannot_force else f"; {hint}"))


@dataclass(frozen=True)
class Repair:
    """A repair's transition (applied or not) and the findings on the state it leaves."""

    transition: Transition
    findings: list[Finding]

    @property
    def blocking(self) -> list[Finding]:
        return [f for f in self.findings if f.blocking]


# -- moving tokens -------------------------------------------------------------------------------------


def move_tokens(bp: CompiledBlueprint, state: InstanceState, remove: list[str], add: list[str], event: Event,
                *, forced: bool = False) -> Transition:
    """Remove every token on the nodes ``remove`` (cancelling their open executions) and place a token on each
    node of ``add`` (it arrives there as any token would: a task gets a new execution, dispatched after
    commit), in one step. Refused when the result leaves the instance unable to finish, unless ``forced``."""
    repair = _moved(bp, state, remove, add, event)
    return _checked(repair, event, forced, HistoryKind.INSTANCE_MODIFIED, removed=list(remove), added=list(add))


def _moved(bp: CompiledBlueprint, state: InstanceState, remove: list[str], add: list[str], event: Event) -> Repair:
    _refuse(instance_refusal(Action.MOVE_TOKENS, state.id, state.status))
    if not remove and not add:
        raise InvalidValueError("name a node to remove a token from or to place one on")
    for node_id in (*remove, *add):
        _require_node(bp, node_id)
    holding = {t.node_id for t in state.tokens.values()}
    empty = [node_id for node_id in remove if node_id not in holding]
    if empty:
        where = ", ".join(sorted(repr(n) for n in holding)) or "nowhere"
        raise InvalidStateError(f"instance {state.id[:8]} holds no token at {', '.join(repr(n) for n in empty)}; "
                                f"its tokens are at {where}")
    step = _Step(bp, state, event)
    reason = f"token moved by {event.actor or 'an operator'}"
    for node_id in dict.fromkeys(remove):
        _remove_tokens_at(step, node_id, reason)
    _resume_if_unblocked(bp, step, state)
    queue = list(add)
    for node_id in queue:
        if step.status not in (InstanceStatus.ACTIVE, InstanceStatus.FAILED):
            break  # an END reached by an earlier one completed the instance
        step.leave(node_id, reenter=True)
    return Repair(step.finish(), check_tokens(bp, step.tokens.values()))


def _remove_tokens_at(step: _Step, node_id: str, reason: str) -> None:
    for token in [t for t in step.tokens.values() if t.node_id == node_id]:
        execution = step.executions.get(token.id)
        if execution is not None and execution.status in OPEN_EXECUTION:
            step.update_execution(execution, status=ExecutionStatus.CANCELLED, error=reason)
            step.record(HistoryKind.EXECUTION_CANCELLED, node_id=node_id, execution_id=execution.id, reason=reason)
        step.remove_token(token.id)


def _resume_if_unblocked(bp: CompiledBlueprint, step: _Step, state: InstanceState) -> None:
    """An instance that stopped FAILED at a split whose failed token was moved away is ACTIVE again; its
    executions left waiting while it was FAILED are dispatched again (as ``retry_instance`` does)."""
    if step.status is not InstanceStatus.FAILED:
        return
    if any(t.status is TokenStatus.FAILED and spec(bp.kinds[t.node_id]).halts for t in step.tokens.values()):
        return
    step.set_status(InstanceStatus.ACTIVE, HistoryKind.INSTANCE_RESUMED, clear_error=True)
    for execution in step.executions.values():
        if execution.status is ExecutionStatus.ACTIVE and execution.id in state.executions:
            step.dispatch.append(_payload(execution))


# -- migrating -----------------------------------------------------------------------------------------


def migrate(source: CompiledBlueprint, target: CompiledBlueprint, state: InstanceState, mapping: dict[str, str],
            event: Event, *, forced: bool = False) -> Transition:
    """Move the instance to ``target``, another version of its workflow. Each token goes to the node of the same
    id, or to ``mapping[node]`` for nodes renamed or removed; a token with no node in ``target`` refuses the whole
    migration, naming each. A task's execution is kept when its node and task stay; otherwise it is cancelled
    and a new one made at the target node (inputs from the current context)."""
    repair = _migrated(source, target, state, mapping, event)
    return _checked(repair, event, forced, HistoryKind.INSTANCE_MIGRATED, from_version=source.version,
                    to_version=target.version, mapping=dict(mapping))


def _migrated(source: CompiledBlueprint, target: CompiledBlueprint, state: InstanceState, mapping: dict[str, str],
              event: Event) -> Repair:
    _refuse(instance_refusal(Action.MIGRATE, state.id, state.status))
    if target.workflow_id != state.workflow_id:
        raise InvalidValueError(f"instance {state.id[:8]} runs {state.workflow_id!r}; {target.workflow_id!r} is "
                                "another workflow")
    if target.version == state.version:
        raise InvalidStateError(f"instance {state.id[:8]} is on version {state.version} already")
    for old, new in mapping.items():
        _require_node(target, new, f"mapping {old}={new}: version {target.version}")
    placed = _targets(source, target, state, mapping)
    step = _Step(target, state, event)
    step.changes.version = target.version
    reason = f"migrated to version {target.version}"
    for token in list(state.tokens.values()):
        node_id = placed[token.id]
        execution = state.executions.get(token.id)
        kept = node_id == token.node_id and (execution is None or execution.task_id == target.plans[node_id].task_id)
        if kept:
            continue
        if execution is not None and execution.status in OPEN_EXECUTION:
            step.update_execution(execution, status=ExecutionStatus.CANCELLED, error=f"{reason}: now at {node_id!r}")
            step.record(HistoryKind.EXECUTION_CANCELLED, node_id=token.node_id, execution_id=execution.id,
                        reason=f"{reason}: now at {node_id!r}")
        step.remove_token(token.id)
        if spec(target.kinds[node_id]).family is Family.TASK:
            step.create_execution(node_id)
        elif target.plans[node_id].timer is not None:  # a timer starts again, from the migration
            step.leave(node_id, reenter=True)
        else:
            step.add_token(f"{state.id}:{node_id}:{event.new_uuid()}", node_id, token.status)
    transition = step.finish()
    transition = replace(transition, state=replace(transition.state, version=target.version))
    return Repair(transition, check_tokens(target, transition.state.tokens.values()))


def _targets(source: CompiledBlueprint, target: CompiledBlueprint, state: InstanceState,
             mapping: dict[str, str]) -> dict[str, str]:
    """Where each token goes in ``target``; refuse naming every token without a place, or a kind that changes."""
    placed: dict[str, str] = {}
    problems: list[str] = []
    for token in state.tokens.values():
        node_id = mapping.get(token.node_id, token.node_id)
        if node_id not in target.nodes:
            kind = source.kinds[token.node_id]
            new = [n for n, k in target.kinds.items() if k is kind and n not in source.nodes]  # the likely renames
            hint = f" (new {spec(kind).description} nodes there: {', '.join(map(repr, new))})" if new else ""
            problems.append(f"the token at {token.node_id!r} has no node in version {target.version}{hint}: map it "
                            f"to one")
            continue
        before, after = source.kinds[token.node_id], target.kinds[node_id]
        if before is not after:
            problems.append(f"the token at {token.node_id!r} ({spec(before).description}) cannot go to {node_id!r} "
                            f"({spec(after).description})")
            continue
        placed[token.id] = node_id
    if problems:
        raise InvalidStateError(f"instance {state.id[:8]} cannot migrate to version {target.version}: "
                                + "; ".join(problems))
    return placed


# -- shared ----------------------------------------------------------------------------------------------


def preview(bp: CompiledBlueprint, state: InstanceState, remove: list[str], add: list[str], event: Event) -> Repair:
    """What :func:`move_tokens` would do, without refusing on findings: the dry run."""
    return _moved(bp, state, remove, add, event)


def preview_migration(source: CompiledBlueprint, target: CompiledBlueprint, state: InstanceState,
                      mapping: dict[str, str], event: Event) -> Repair:
    """What :func:`migrate` would do, without refusing on findings: the dry run."""
    return _migrated(source, target, state, mapping, event)


def _checked(repair: Repair, event: Event, forced: bool, kind: HistoryKind, **details: object) -> Transition:
    if repair.blocking and (not forced or any(f.kind == "no_tokens" for f in repair.blocking)):
        raise RepairRefusedError(repair.findings)  # an instance left without a token cannot even be forced
    transition = repair.transition
    entry_details = {**details, "forced": bool(forced and repair.blocking),
                     "problems": [str(f) for f in repair.findings]}
    history = transition.changes.history  # the marker first: what the operator did, then how the tokens moved
    history.insert(0, HistoryEntry(kind=kind, at=event.at, details=entry_details, actor=event.actor,
                                   instance_id=transition.state.id))
    return transition


def _require_node(bp: CompiledBlueprint, node_id: str, where: str | None = None) -> None:
    if node_id in bp.nodes:
        return
    close = get_close_matches(node_id, list(bp.nodes), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise InvalidValueError(f"{where or f'version {bp.version} of {bp.workflow_id!r}'} has no node {node_id!r}{hint}")
