"""The invariants every stored instance must satisfy, whatever happened to it.

Shared by the property tests, the racing and crash tests and ``bench/soak.py``. Import it as
``from reliability.invariants import ...`` (``tests/`` is on ``sys.path``, see ``tests/conftest.py``).

Each check returns a list of problems (empty when all holds) so that a soak run can report them all;
:func:`assert_instance` turns them into one assertion for the tests.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from engine.blueprint import NodeKind
from engine.graph import CompiledBlueprint
from engine.model import HistoryEntry, HistoryKind
from engine.ports import InstanceView
from engine.replay import differences

OPEN = ("ACTIVE", "FAILED", "STUCK")
FINISHED = ("COMPLETED", "CANCELLED")


def check_instance(view: InstanceView, bp: CompiledBlueprint, previous: list[HistoryEntry] | None = None,
                   *, structured: bool = False) -> list[str]:
    """Every problem of one instance: token placement, executions, status, history, replay.

    ``previous`` is the history read earlier: it must be a prefix of the current one (append-only).
    ``structured`` adds the checks that hold for well-formed (block-structured) blueprints only: a branch
    never reaches a parallel join twice before the join fires.
    """
    problems: list[str] = []
    problems += _check_tokens(view, bp)
    problems += _check_executions(view)
    problems += _check_status(view, bp)
    problems += check_history_append_only(previous or [], view.history)
    problems += _scan_history(view.history, bp, structured)
    problems += [f"replay: {d}" for d in differences(view)]
    return [f"instance {view.id}: {p}" for p in problems]


def assert_instance(view: InstanceView, bp: CompiledBlueprint, previous: list[HistoryEntry] | None = None,
                    *, structured: bool = False) -> None:
    problems = check_instance(view, bp, previous, structured=structured)
    assert not problems, "\n".join(problems)


def _check_tokens(view: InstanceView, bp: CompiledBlueprint) -> list[str]:
    problems = []
    executions = {e.id: e for e in view.executions}
    for token in view.tokens:
        kind = bp.kinds.get(token.node_id)
        status = str(token.status)
        if kind is NodeKind.TASK:
            if status not in OPEN:
                problems.append(f"token {token.id} at task {token.node_id!r} is {status}")
            execution = executions.get(token.id)
            if execution is None:
                problems.append(f"token {token.id} at task {token.node_id!r} has no execution")
            elif str(execution.status) != status or execution.node_id != token.node_id:
                problems.append(f"token {token.id} is {status} at {token.node_id!r}, its execution is "
                                f"{execution.status} at {execution.node_id!r}")
        elif kind is NodeKind.PARALLEL_JOIN:
            if status not in ("WAITING", "STUCK"):
                problems.append(f"token {token.id} at parallel join {token.node_id!r} is {status}")
        elif kind in (NodeKind.TIMER, NodeKind.MESSAGE):
            waits = [w for w in view.waits if w.token_id == token.id]
            if status == "FAILED" and kind is NodeKind.TIMER:  # a time the context could not give: halted there
                if view.status != "FAILED" or waits:
                    problems.append(f"halted timer token {token.id} with instance {view.status} and waits {waits}")
            elif status != "ACTIVE" or len(waits) != 1 or str(waits[0].kind) != kind.value:
                problems.append(f"token {token.id} at {kind} node {token.node_id!r} is {status} with waits {waits}")
        elif kind is NodeKind.EXCLUSIVE_SPLIT:
            if status != "FAILED" or view.status != "FAILED":
                problems.append(f"token {token.id} at exclusive split {token.node_id!r} is {status} while the "
                                f"instance is {view.status}")
        else:
            problems.append(f"token {token.id} rests on {kind} node {token.node_id!r}")
    if len({t.id for t in view.tokens}) != len(view.tokens):
        problems.append("duplicate token ids")
    token_ids = {t.id for t in view.tokens}
    for wait in view.waits:  # every wait belongs to a token: a token's waits end with it
        if wait.token_id not in token_ids:
            problems.append(f"wait {wait.id} at {wait.node_id!r} outlived its token {wait.token_id}")
    return problems


def _check_executions(view: InstanceView) -> list[str]:
    problems = []
    ids = [e.id for e in view.executions]
    duplicated = [i for i, n in Counter(ids).items() if n > 1]
    if duplicated:
        problems.append(f"execution ids not unique: {duplicated}")
    token_ids = {t.id for t in view.tokens}
    for execution in view.executions:
        if not execution.id.startswith(f"{view.id}:{execution.node_id}:"):
            problems.append(f"execution id {execution.id} does not name its instance and node")
        if str(execution.status) in OPEN and execution.id not in token_ids:
            problems.append(f"execution {execution.id} is {execution.status} but has no token")
    return problems


def _check_status(view: InstanceView, bp: CompiledBlueprint) -> list[str]:
    problems = []
    status = str(view.status)
    open_executions = [e.id for e in view.executions if str(e.status) in OPEN]
    if status in FINISHED:
        if view.tokens:
            problems.append(f"{status} instance still has tokens {[t.node_id for t in view.tokens]}")
        if open_executions:
            problems.append(f"{status} instance still has open executions {open_executions}")
        if view.ended_at is None:
            problems.append(f"{status} instance has no ended_at")
    elif status == "ACTIVE":
        if not view.tokens:
            problems.append("ACTIVE instance has no token")
        if view.error:
            problems.append(f"ACTIVE instance carries an error: {view.error}")
    elif status == "FAILED":
        stopped = [t for t in view.tokens if str(t.status) == "FAILED"
                   and bp.kinds.get(t.node_id) is NodeKind.EXCLUSIVE_SPLIT]
        if not stopped:
            problems.append("FAILED instance has no FAILED token at an exclusive split")
        if not view.error:
            problems.append("FAILED instance has no error")
    else:
        problems.append(f"unknown instance status {status}")
    return problems


def check_history_append_only(before: list[HistoryEntry], after: list[HistoryEntry]) -> list[str]:
    """``after`` extends ``before`` (entries unchanged) and its ``seq`` strictly increases."""
    problems = []
    if after[:len(before)] != before:
        problems.append(f"history rewritten: the first {len(before)} entries changed")
    seqs = [h.seq for h in after]
    if any(s is None for s in seqs) or any(a >= b for a, b in zip(seqs, seqs[1:], strict=False)):
        problems.append("history seq does not strictly increase")
    return problems


def _scan_history(history: list[HistoryEntry], bp: CompiledBlueprint, structured: bool) -> list[str]:
    """Walk the history once, checking what each entry says against what came before it."""
    problems: list[str] = []
    context: dict[str, Any] = {}
    created: set[str] = set()
    completed: set[str] = set()
    tokens: dict[str, tuple[str, str]] = {}
    # The tokens a join consumes are removed right before its JOIN_FIRED entry: the run of WAITING (or STUCK)
    # tokens removed at that join just before it. (Counting every removal since it last fired also counted an
    # operator's removal of a waiting token, in a move or a migration, as consumed by the next firing.)
    run: tuple[str | None, int] = (None, 0)
    arrived: dict[str, Counter] = {}  # join -> incoming edge id -> arrivals not yet consumed
    ended = False
    repaired = False  # an operator moved tokens: a join may get a token no edge brought
    for h in history:
        d = h.details
        if h.kind is not HistoryKind.TOKEN_REMOVED and h.kind is not HistoryKind.JOIN_FIRED:
            run = (None, 0)
        if h.kind in (HistoryKind.INSTANCE_MODIFIED, HistoryKind.INSTANCE_MIGRATED):
            repaired = True
        if ended and h.kind is not HistoryKind.HANDLER_ERROR:
            problems.append(f"seq {h.seq}: {h.kind} after the instance finished")
        if h.kind is HistoryKind.INSTANCE_STARTED:
            context.update(d.get("context") or {})
        elif h.kind is HistoryKind.CONTEXT_SET:
            context.update(d["values"])
        elif h.kind is HistoryKind.EXECUTION_CREATED:
            if h.execution_id in created:
                problems.append(f"seq {h.seq}: execution {h.execution_id} created twice")
            created.add(h.execution_id)
            node = bp.nodes[h.node_id]
            expected = {local: context.get(key) for local, key in node.input_mapping.items()}
            if d["inputs"] != expected:
                problems.append(f"seq {h.seq}: inputs of {h.execution_id} are {d['inputs']}, the mapping over "
                                f"the context gives {expected}")
        elif h.kind is HistoryKind.EXECUTION_COMPLETED:
            if h.execution_id in completed:
                problems.append(f"seq {h.seq}: execution {h.execution_id} completed twice")
            completed.add(h.execution_id)
            node = bp.nodes[h.node_id]
            expected = {key: d["outputs"][local] for local, key in node.output_mapping.items()
                        if local in d["outputs"]}
            if d["written"] != expected:
                problems.append(f"seq {h.seq}: {h.execution_id} wrote {d['written']}, its output mapping "
                                f"gives {expected}")
        elif h.kind is HistoryKind.TOKEN_CREATED:
            if d["token_id"] in tokens:
                problems.append(f"seq {h.seq}: token {d['token_id']} created twice")
            tokens[d["token_id"]] = (h.node_id, d["status"])
        elif h.kind is HistoryKind.TOKEN_STATUS:
            tokens[d["token_id"]] = (tokens.get(d["token_id"], (h.node_id, ""))[0], d["status"])
        elif h.kind is HistoryKind.TOKEN_REMOVED:
            node_id, status = tokens.pop(d["token_id"], (h.node_id, "?"))
            if bp.kinds.get(node_id) is NodeKind.PARALLEL_JOIN and status in ("WAITING", "STUCK"):
                run = (node_id, run[1] + 1 if run[0] == node_id else 1)
            else:
                run = (None, 0)
        elif h.kind is HistoryKind.EDGE_TAKEN:
            if bp.kinds.get(h.node_id) is NodeKind.PARALLEL_JOIN:
                pending = arrived.setdefault(h.node_id, Counter())
                if structured and pending[d["edge_id"]]:
                    problems.append(f"seq {h.seq}: branch {d['edge_id']!r} reached join {h.node_id!r} twice "
                                    "before it fired")
                pending[d["edge_id"]] += 1
        elif h.kind is HistoryKind.JOIN_FIRED:
            incoming = [e.id for e in bp.incoming[h.node_id]]
            pending = arrived.setdefault(h.node_id, Counter())
            missing = [e for e in incoming if pending[e] < 1]
            if missing and not repaired:
                problems.append(f"seq {h.seq}: join {h.node_id!r} fired before branches {missing} arrived")
            for e in incoming:
                pending[e] -= 1
            consumed = run[1] if run[0] == h.node_id else 0
            if d.get("arrived") != len(incoming) or consumed != len(incoming):
                problems.append(f"seq {h.seq}: join {h.node_id!r} fired consuming {consumed} tokens "
                                f"(recorded {d.get('arrived')}) for {len(incoming)} incoming edges")
            run = (None, 0)
        elif h.kind in (HistoryKind.INSTANCE_COMPLETED, HistoryKind.INSTANCE_CANCELLED):
            ended = True
    return problems


def check_completions_once(history: list[HistoryEntry]) -> list[str]:
    """Every execution completed at most once (the racing and crash tests' main promise)."""
    counts = Counter(h.execution_id for h in history if h.kind is HistoryKind.EXECUTION_COMPLETED)
    return [f"execution {e} completed {n} times" for e, n in counts.items() if n > 1]
