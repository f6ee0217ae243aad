"""The console header's workers line: what this console's runtime is doing."""

from __future__ import annotations

from console.widgets.runtime_bar import RuntimeStatus, counts_line, workers_line
from engine.reports import ExecutionCounts


def test_the_workers_line_shows_zombie_attempts_only_when_there_are_some() -> None:
    running = RuntimeStatus("running", ("charge",), completed=3, failed=1)
    assert "(3 done, 1 failed since start) for 1 task(s)" in workers_line(running).plain
    line = workers_line(RuntimeStatus("running", ("charge",), completed=3, failed=1, zombies=2))
    assert "(3 done, 1 failed since start; 2 zombie attempt(s) still running) for 1 task(s): charge" in line.plain
    assert any("red" in str(span.style) for span in line.spans if "zombie" in line.plain[span.start:span.end])


def test_the_counts_line_shows_overdue_tasks_only_when_there_are_some() -> None:
    from console.widgets.runtime_bar import counts_line
    from engine.reports import ExecutionCounts

    assert "overdue" not in counts_line(RuntimeStatus(counts=ExecutionCounts(waiting=3))).plain
    line = counts_line(RuntimeStatus(counts=ExecutionCounts(waiting=3, overdue=2))).plain
    assert "3 waiting for a person · 2 overdue" in line


def test_a_narrow_header_leaves_out_the_zeros_then_shortens_so_the_incidents_stay_in_view() -> None:
    status = RuntimeStatus(workers="running", task_ids=("charge",),
                           counts=ExecutionCounts(running=0, queued=0, waiting=14, failed=3, stuck=1, overdue=2))
    wide = counts_line(status, 160).plain
    assert wide == ("executions  0 running · 0 queued · 14 waiting for a person · 2 overdue  │  incidents  3 failed"
                    " · 1 stuck")
    assert counts_line(status).plain == wide  # no width: everything
    assert counts_line(status, 82).plain == ("executions  14 waiting for a person · 2 overdue  │  incidents  3 failed"
                                             " · 1 stuck")
    narrow = counts_line(status, 70).plain
    assert narrow == "executions 14 for a person · 2 overdue │ incidents 3 failed · 1 stuck" and len(narrow) <= 70
    busy = RuntimeStatus(workers="running", counts=ExecutionCounts(running=2, queued=3, waiting=14, failed=3,
                                                                   stuck=1, overdue=2))
    assert counts_line(busy, 78).plain == "2 running · 3 queued · 14 for a person · 2 overdue │ 3 failed · 1 stuck"
    quiet = RuntimeStatus(counts=ExecutionCounts())  # nothing open: a group of zeros says so
    assert counts_line(quiet, 40).plain == "executions  none  │  incidents  none"
    assert counts_line(RuntimeStatus(counts=ExecutionCounts(waiting=2)), 60).plain == \
        "executions  2 waiting for a person  │  incidents  none"
