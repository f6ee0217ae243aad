"""The SQLite implementation of the reports (:class:`engine.ports.Reports`): incidents, execution counts,
activity, history search. :class:`~store.sqlite.SqliteStore` exposes them as its methods.

Each report runs a few queries in one read transaction and returns plain values. None of them loads whole
tables: every query is bounded by an index range, a ``GROUP BY`` over a covering index, or a ``LIMIT``.
The plans were checked with ``EXPLAIN QUERY PLAN`` on a database of 100,000 instances and 1,000,000
history rows (see ``tests/store/test_reports.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from engine.model import HistoryEntry, HistoryKind, InstanceStatus
from engine.ports import BlueprintSummary, PersonTask, TaskPage, TaskQuery
from engine.reports import (
    MINUTES,
    Activity,
    ExecutionCounts,
    HistoryHit,
    HistoryQuery,
    Incident,
    IncidentKind,
    IncidentPage,
    OpenTask,
)
from store.codec import dump_json, dump_time, like_pattern, load_json, load_time
from store.history import HISTORY_COLUMNS, NOTABLE_KINDS, history_entries
from store.tables import OPEN_EXECUTIONS

if TYPE_CHECKING:
    from store.sqlite import _Transaction


# -- executions and incidents -------------------------------------------------------------------------


def _incident_counts(cur) -> dict[str, int]:
    """FAILED and STUCK incidents: an execution's token counts once, the tokens stuck at one join once."""
    tokens = _incident_tokens(cur)
    return _count_incidents(tokens, _executions_by_id(cur, [t[0] for t in tokens]))


def _count_incidents(tokens: list[tuple], executions: dict[str, tuple]) -> dict[str, int]:
    counts: dict[str, set] = {"FAILED": set(), "STUCK": set()}
    for token_id, instance_id, node_id, status, *_ in tokens:
        counts[status].add(token_id if token_id in executions else (instance_id, node_id))
    return {status: len(keys) for status, keys in counts.items() if keys}


def _incident_tokens(cur) -> list[tuple]:
    """Every FAILED or STUCK token: (id, instance id, node id, status, created_at, workflow id, version,
    instance error). ix_instances_token_marks finds the few instances that have one."""
    found = []
    for instance_id, workflow_id, version, error, tokens in cur.execute(
            "SELECT id, workflow_id, version, error, tokens FROM instances INDEXED BY ix_instances_token_marks "
            "WHERE token_marks IS NOT NULL AND (token_marks LIKE '%FAILED%' OR token_marks LIKE '%STUCK%')"):
        for token_id, node_id, status, created_at in load_json(tokens):
            if status == "FAILED" or status == "STUCK":
                found.append((token_id, instance_id, node_id, status, created_at, workflow_id, version, error))
    return found


def _executions_by_id(cur, ids: list[str]) -> dict[str, tuple]:
    """(task_id, attempt, error, updated_at) of the executions with these ids (those that exist), by id
    (primary-key lookups)."""
    found: dict[str, tuple] = {}
    for first in range(0, len(ids), 500):
        chunk = ids[first:first + 500]
        marks = ", ".join("?" for _ in chunk)
        for row in cur.execute(
                f"SELECT id, task_id, attempt, error, updated_at FROM executions WHERE id IN ({marks})", chunk):
            found[row[0]] = row[1:]
    return found


def _join_stuck_entry(cur, instance_id: str, node_id: str) -> tuple[datetime | None, str]:
    """When and why the join was marked stuck, from the instance's history (ix_history_instance_no_seq)."""
    for row in cur.execute(f"SELECT {HISTORY_COLUMNS} FROM history WHERE instance_no = "
                           "(SELECT no FROM instances WHERE id = ?) AND notable IS NOT NULL "
                           "AND entries LIKE '%\"JOIN\\_STUCK\"%' ESCAPE '\\' "
                           "ORDER BY seq DESC", (instance_id,)):
        for entry in reversed(history_entries(row)):
            if entry.kind == HistoryKind.JOIN_STUCK and entry.node_id == node_id:
                return entry.at, str(entry.details.get("reason") or "parallel join can no longer fire")
    return None, "parallel join can no longer fire"


# -- activity and counts ------------------------------------------------------------------------------


def _open_tasks(cur, now: datetime) -> list[OpenTask]:
    """Open executions per task (the partial index ix_executions_open holds exactly them)."""
    counts: dict[str, dict[str, int]] = {}
    oldest: dict[str, datetime | None] = {}
    at = dump_time(now)
    for task_id, status, leased, count, first, late in cur.execute(
            "SELECT task_id, status, lease_until IS NOT NULL AND lease_until >= ?, COUNT(*), MIN(created_at), "
            "SUM(CASE WHEN status = 'ACTIVE' AND due_at IS NOT NULL AND due_at < ? THEN 1 ELSE 0 END) "
            "FROM executions WHERE status IN ('ACTIVE', 'FAILED', 'STUCK') GROUP BY 1, 2, 3", (at, at)):
        name = "failed" if status == "FAILED" else "stuck" if status == "STUCK" else "running" if leased else "waiting"
        task = counts.setdefault(task_id, {})
        task[name] = task.get(name, 0) + count
        if late:
            task["overdue"] = task.get("overdue", 0) + int(late)
        if name == "waiting":
            oldest[task_id] = load_time(first)
    return [OpenTask(task_id, oldest=oldest.get(task_id), **task) for task_id, task in sorted(counts.items())]


def _per_minute(rows: list[tuple[str, int]], since: datetime, minutes: int) -> list[int]:
    series = [0] * minutes
    first = dump_time(since)[:16]
    for minute, count in rows:
        index = _minutes_between(first, minute)
        if 0 <= index < minutes:
            series[index] += count
    return series


def _minutes_between(first: str, minute: str) -> int:
    start = datetime.fromisoformat(first)
    return int((datetime.fromisoformat(minute) - start).total_seconds() // 60)


# -- person's tasks -------------------------------------------------------------------------------------


def _task_filter(query: TaskQuery) -> tuple[str, list]:
    """The WHERE of a task list over ``executions e JOIN instances i``: what execution_counts counts as waiting
    (ACTIVE, no live lease, not a local worker's task) and the query's filters. The open executions' partial
    index (status, created_at) gives the rows oldest first; each filter is a test on a row it found."""
    waiting = query.waiting
    clauses = [f"e.status = 'ACTIVE' AND e.{OPEN_EXECUTIONS}", "(e.lease_until IS NULL OR e.lease_until < ?)"]
    params: list = [dump_time(waiting.now)]
    if waiting.local_task_ids:
        marks = ", ".join("?" for _ in waiting.local_task_ids)
        clauses.append(f"e.task_id NOT IN ({marks})")
        params.extend(waiting.local_task_ids)
    for column, value in (("e.assignee", query.assignee), ("e.candidate_group", query.candidate_group),
                          ("e.task_id", query.task_id), ("i.workflow_id", query.workflow_id)):
        if value:
            clauses.append(f"{column} = ?")
            params.append(value)
    if query.unassigned:
        clauses.append("e.assignee IS NULL")
    if query.overdue_at is not None:
        clauses.append("e.due_at IS NOT NULL AND e.due_at < ?")
        params.append(dump_time(query.overdue_at))
    return " AND ".join(clauses), params


# -- the reports, as methods of the store --------------------------------------------------------------


class SqliteReports:
    """The reports of :class:`engine.ports.Reports`, as methods of :class:`~store.sqlite.SqliteStore`."""

    read: Callable[[], _Transaction]  # SqliteStore's: a read transaction, as a context manager

    def execution_counts(self, local_task_ids: Collection[str], now: datetime) -> ExecutionCounts:
        """Count the open executions; ``local_task_ids`` are the tasks this process runs workers for."""
        running = queued = waiting = overdue = 0
        stamp = dump_time(now)
        with self.read() as cur:
            # Uses ix_executions_open for status = 'ACTIVE'; a row lookup per ACTIVE execution only.
            for task_id, leased, count, late in cur.execute(
                    "SELECT task_id, lease_until IS NOT NULL AND lease_until >= ?, COUNT(*), "
                    "SUM(CASE WHEN due_at IS NOT NULL AND due_at < ? THEN 1 ELSE 0 END) FROM executions "
                    f"WHERE status = 'ACTIVE' AND {OPEN_EXECUTIONS} GROUP BY 1, 2", (stamp, stamp)):
                overdue += late or 0
                if leased:
                    running += count
                elif task_id in local_task_ids:
                    queued += count
                else:
                    waiting += count
            incidents = _incident_counts(cur)
        return ExecutionCounts(running, queued, waiting, incidents.get("FAILED", 0), incidents.get("STUCK", 0),
                               overdue)

    def list_tasks(self, query: TaskQuery) -> TaskPage:
        """The person's tasks the query keeps, oldest first, and how many it keeps in all (two walks of
        ix_executions_open's ACTIVE range, each a row lookup per ACTIVE execution and one of its instance)."""
        from store.sqlite import _EXECUTION_COLUMNS, _execution  # the store's row format (it imports this module)

        where, params = _task_filter(query)
        execution_columns = ", ".join(f"e.{name}" for name in _EXECUTION_COLUMNS.split(", "))
        source = "executions e INDEXED BY ix_executions_open JOIN instances i ON i.id = e.instance_id"
        with self.read() as cur:
            rows = cur.execute(f"SELECT {execution_columns}, i.workflow_id, i.version, i.status FROM {source} "
                               f"WHERE {where} ORDER BY e.created_at, e.id LIMIT ? OFFSET ?",
                               (*params, query.limit, query.offset)).fetchall()
            total = cur.execute(f"SELECT COUNT(*) FROM {source} WHERE {where}", params).fetchone()[0]
        width = len(_EXECUTION_COLUMNS.split(", "))
        tasks = [PersonTask(_execution(row[:width]), row[width], row[width + 1], InstanceStatus(row[width + 2]))
                 for row in rows]
        return TaskPage(tasks, total)

    def list_incidents(self, limit: int = 500) -> IncidentPage:
        """Every FAILED or STUCK token (execution, split or join), oldest incident first, at most ``limit``."""
        with self.read() as cur:
            tokens = _incident_tokens(cur)
            executions = _executions_by_id(cur, [t[0] for t in tokens])
            rows = []
            for token in tokens:
                execution = executions.get(token[0])
                rows.append((*token, token[0] if execution else None, *(execution or (None,) * 4)))
            rows.sort(key=lambda r: (r[12] or r[4], r[0]))  # the execution's time, else the token's; then the id
            counts = _count_incidents(tokens, executions)
            del rows[limit:]
            incidents: list[Incident] = []
            seen_joins: set[tuple[str, str]] = set()
            for (token_id, instance_id, node_id, status, token_at, workflow_id, version, instance_error,
                 execution_id, task_id, attempt, execution_error, execution_at) in rows:
                if execution_id is not None:
                    incidents.append(Incident(IncidentKind(status), token_id, instance_id, workflow_id, version,
                                              node_id, load_time(execution_at), execution_error or "", execution_id,
                                              task_id, attempt))
                elif status == "FAILED":
                    incidents.append(Incident(IncidentKind.NO_MATCH, token_id, instance_id, workflow_id, version,
                                              node_id, load_time(token_at), instance_error or "no condition matched"))
                elif (instance_id, node_id) not in seen_joins:
                    seen_joins.add((instance_id, node_id))
                    at, reason = _join_stuck_entry(cur, instance_id, node_id)
                    incidents.append(Incident(IncidentKind.JOIN_STUCK, token_id, instance_id, workflow_id, version,
                                              node_id, at or load_time(token_at), reason))
        return IncidentPage(incidents, counts.get("FAILED", 0), counts.get("STUCK", 0))

    def activity(self, now: datetime, minutes: int = MINUTES) -> Activity:
        """Instances started, instances completed and tasks completed per minute over the last ``minutes``
        minutes (the current minute last), and the instance counts by status and by workflow."""
        since = now.replace(second=0, microsecond=0) - timedelta(minutes=minutes - 1)
        until = since + timedelta(minutes=minutes)
        bounds = (dump_time(since), dump_time(until))
        with self.read() as cur:
            # Each a range of one index, grouped by the minute: the first 16 characters of the ISO time.
            started = cur.execute("SELECT substr(created_at, 1, 16), COUNT(*) FROM instances "
                                  "WHERE created_at >= ? AND created_at < ? GROUP BY 1", bounds).fetchall()
            # INDEXED BY: without statistics SQLite would take (status, created_at) and read every completed one.
            completed = cur.execute("SELECT substr(ended_at, 1, 16), COUNT(*) FROM instances "
                                    "INDEXED BY ix_instances_completed "
                                    "WHERE status = 'COMPLETED' AND ended_at >= ? AND ended_at < ? GROUP BY 1",
                                    bounds).fetchall()
            tasks = cur.execute("SELECT substr(updated_at, 1, 16), COUNT(*) FROM executions "
                                "WHERE status = 'COMPLETED' AND updated_at >= ? AND updated_at < ? GROUP BY 1",
                                bounds).fetchall()
            by_workflow: dict[str, dict[str, int]] = {}
            by_status: dict[str, int] = {}
            for workflow_id, status, count in cur.execute(
                    "SELECT workflow_id, status, COUNT(*) FROM instances GROUP BY 1, 2"):  # covering index scan
                by_workflow.setdefault(workflow_id, {})[status] = count
                by_status[status] = by_status.get(status, 0) + count
            open_tasks = _open_tasks(cur, now)
        return Activity(since, _per_minute(started, since, minutes), _per_minute(completed, since, minutes),
                        _per_minute(tasks, since, minutes), by_status, by_workflow, open_tasks)

    def blueprint_summaries(self) -> list[BlueprintSummary]:
        """Every stored version of every workflow with its instances per status, like ``list_blueprints``
        but without reading every instance row: a workflow with one version takes its counts from the covering
        index on (workflow_id, status); only a workflow with several versions is counted per version."""
        with self.read() as cur:
            rows = cur.execute("SELECT workflow_id, version, name, node_count, edge_count, warnings, created_at "
                               "FROM blueprints ORDER BY workflow_id, version").fetchall()
            versions: dict[str, int] = {}
            for row in rows:
                versions[row[0]] = versions.get(row[0], 0) + 1
            counts: dict[tuple[str, int], dict[str, int]] = {}
            for workflow_id, status, count in cur.execute(
                    "SELECT workflow_id, status, COUNT(*) FROM instances GROUP BY 1, 2"):
                if versions.get(workflow_id) == 1:
                    only = next(r[1] for r in rows if r[0] == workflow_id)
                    counts.setdefault((workflow_id, only), {})[status] = count
            for workflow_id, number in versions.items():
                if number > 1:
                    for version, status, count in cur.execute(
                            "SELECT version, status, COUNT(*) FROM instances WHERE workflow_id = ? GROUP BY 1, 2",
                            (workflow_id,)):
                        counts.setdefault((workflow_id, version), {})[status] = count
        return [BlueprintSummary(workflow_id=r[0], version=r[1], name=r[2], nodes=r[3], edges=r[4],
                                 warnings=len(load_json(r[5]) or []), created_at=load_time(r[6]),
                                 instances=counts.get((r[0], r[1]), {})) for r in rows]

    def search_history(self, query: HistoryQuery) -> list[HistoryHit]:
        """The newest history entries matching ``query``, at most ``query.limit``.

        Within an instance the search uses ix_history_instance_no_seq; across instances it walks the history
        from the newest entry backwards (the primary key) and stops at the limit, so a search that matches
        often returns at once and one that matches rarely reads the history once. A row holds a run of entries
        (see ``store.tables.HistoryRow``): SQL keeps the rows whose JSON text holds what is looked for, and
        the entries are then matched one by one.
        """
        clauses, params = [], []
        if query.instance_id:
            clauses.append("instance_no = (SELECT no FROM instances WHERE id = ?)")
            params.append(query.instance_id)
        kind = str(query.kind) if query.kind else None
        notable = kind in NOTABLE_KINDS
        if notable:
            clauses.append("notable IS NOT NULL")  # the partial index ix_history_notable holds these rows
        if kind:
            clauses.append("entries LIKE ? ESCAPE '\\'")
            params.append(like_pattern(dump_json(kind)))
        node, actor = (text.lower() if text else None for text in (query.node, query.actor))
        for text in (query.node, query.actor):
            if text:
                clauses.append("entries LIKE ? ESCAPE '\\'")
                params.append(like_pattern(dump_json(text)[1:-1]))
        if query.since is not None:
            clauses.append("at >= ?")  # every entry of a row has the row's time
            params.append(dump_time(query.since))
        if query.until is not None:
            clauses.append("at < ?")
            params.append(dump_time(query.until))
        where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
        found: list[HistoryEntry] = []
        with self.read() as cur:
            if query.limit > 0:
                # Across instances, a notable kind reads the few rows of its index; any other search walks the
                # history from the newest row and stops at the limit.
                source = " INDEXED BY ix_history_notable" if notable and not query.instance_id else ""
                for row in cur.execute(f"SELECT {HISTORY_COLUMNS} FROM history{source}{where} ORDER BY seq DESC",
                                       params):
                    for entry in reversed(history_entries(row)):
                        if ((kind is None or entry.kind == kind)
                                and (node is None or node in (entry.node_id or "").lower())
                                and (actor is None or actor in (entry.actor or "").lower())):
                            found.append(entry)
                    if len(found) >= query.limit:
                        break
            del found[query.limit:]
            instance_ids = sorted({entry.instance_id for entry in found})
            workflows: dict[str, str] = {}
            for start in range(0, len(instance_ids), 500):
                chunk = instance_ids[start:start + 500]
                marks = ", ".join("?" for _ in chunk)
                workflows.update(cur.execute(f"SELECT id, workflow_id FROM instances WHERE id IN ({marks})", chunk))
        return [HistoryHit(entry, workflows.get(entry.instance_id or "", "?")) for entry in found]
