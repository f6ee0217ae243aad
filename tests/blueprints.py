"""Blueprint builders for the tests: small functions that return blueprints as plain dicts (the Go format).

Each builder returns a fresh dict, so a test may change it without affecting another test.
"""

from __future__ import annotations

from typing import Any

Blueprint = dict[str, Any]


# -- nodes and edges ------------------------------------------------------------------------------


def start(node_id: str = "start") -> dict[str, Any]:
    return {"id": node_id, "type": "INTERNAL", "internal_type": "EVENT", "event_type": "START"}


def end(node_id: str = "end") -> dict[str, Any]:
    return {"id": node_id, "type": "INTERNAL", "internal_type": "EVENT", "event_type": "END"}


def task(node_id: str, task_id: str | None = None, inputs: dict[str, str] | None = None,
         outputs: dict[str, str] | None = None) -> dict[str, Any]:
    """A TASK node; ``task_id`` defaults to the node id. ``inputs``/``outputs`` are the mappings."""
    node: dict[str, Any] = {"id": node_id, "type": "TASK", "task_id": task_id or node_id}
    if inputs:
        node["input_mapping"] = dict(inputs)
    if outputs:
        node["output_mapping"] = dict(outputs)
    return node


def gateway(node_id: str, gateway_type: str) -> dict[str, Any]:
    return {"id": node_id, "type": "INTERNAL", "internal_type": "GATEWAY", "gateway_type": gateway_type}


def xsplit(node_id: str = "split") -> dict[str, Any]:
    return gateway(node_id, "EXCLUSIVE_SPLIT")


def xjoin(node_id: str = "xjoin") -> dict[str, Any]:
    return gateway(node_id, "EXCLUSIVE_JOIN")


def psplit(node_id: str = "psplit") -> dict[str, Any]:
    return gateway(node_id, "PARALLEL_SPLIT")


def pjoin(node_id: str = "pjoin") -> dict[str, Any]:
    return gateway(node_id, "PARALLEL_JOIN")


def edge(edge_id: str, source_id: str, target_id: str, condition: str | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {"id": edge_id, "source_id": source_id, "target_id": target_id}
    if condition is not None:
        item["condition"] = condition
    return item


def chain(*node_ids: str, prefix: str = "c") -> list[dict[str, Any]]:
    """Edges ``node_ids[0] -> node_ids[1] -> ...``, named ``<prefix>1``, ``<prefix>2``, ..."""
    return [edge(f"{prefix}{i}", a, b) for i, (a, b) in enumerate(zip(node_ids, node_ids[1:], strict=False), start=1)]


def blueprint(workflow_id: str, nodes: list[dict[str, Any]], edges: list[dict[str, Any]],
              version: int = 1, name: str | None = None) -> Blueprint:
    result: Blueprint = {"workflow_id": workflow_id, "version": version, "nodes": nodes, "edges": edges}
    if name is not None:
        result["name"] = name
    return result


# -- whole blueprints -----------------------------------------------------------------------------


def linear(workflow_id: str = "linear", version: int = 1, task_id: str = "do_a") -> Blueprint:
    """START -> task_a -> END, with ``local_in <- global_input`` and ``local_out -> global_output``."""
    return blueprint(
        workflow_id,
        [start(), task("task_a", task_id, inputs={"local_in": "global_input"},
                       outputs={"local_out": "global_output"}), end()],
        chain("start", "task_a", "end", prefix="e"),
        version=version,
    )


def two_tasks(workflow_id: str = "two_tasks") -> Blueprint:
    """START -> first -> second -> END; ``second`` reads the context key that ``first`` writes."""
    return blueprint(
        workflow_id,
        [start(), task("first", outputs={"value": "shared"}), task("second", inputs={"got": "shared"}), end()],
        chain("start", "first", "second", "end", prefix="e"),
    )


def exclusive(workflow_id: str = "exclusive") -> Blueprint:
    """START -> task_init (writes ok) -> split -> (ok == true: task_yes | ok == false: task_no) -> join -> END."""
    return blueprint(
        workflow_id,
        [start(), task("task_init", "init", outputs={"ok": "ok"}), xsplit("split"),
         task("task_yes", "yes_task"), task("task_no", "no_task"), xjoin("join"), end()],
        [edge("e1", "start", "task_init"), edge("e2", "task_init", "split"),
         edge("e3", "split", "task_yes", "ok == true"), edge("e4", "split", "task_no", "ok == false"),
         edge("e5", "task_yes", "join"), edge("e6", "task_no", "join"), edge("e7", "join", "end")],
    )


def first_true(workflow_id: str = "first_true") -> Blueprint:
    """START -> split -> three conditioned edges, in blueprint order a (x > 1), b (x > 2), c (x > 0) -> END."""
    return blueprint(
        workflow_id,
        [start(), xsplit("split"), task("a"), task("b"), task("c"), end()],
        [edge("e0", "start", "split"),
         edge("to_a", "split", "a", "x > 1"), edge("to_b", "split", "b", "x > 2"),
         edge("to_c", "split", "c", "x > 0"),
         edge("a_end", "a", "end"), edge("b_end", "b", "end"), edge("c_end", "c", "end")],
    )


def default_edge(workflow_id: str = "default_edge", default_first: bool = True) -> Blueprint:
    """START -> split -> (status == 'approved': task_a | default: task_default) -> END.

    With ``default_first`` the default edge comes first in blueprint order, so a machine that took the
    first edge without a condition as "true" would go the wrong way.
    """
    conditioned = edge("e2", "split", "task_a", "status == 'approved'")
    default = edge("e3", "split", "task_default")
    branch = [default, conditioned] if default_first else [conditioned, default]
    return blueprint(
        workflow_id,
        [start(), xsplit("split"), task("task_a", "approved_task"), task("task_default", "default_task"), end()],
        [edge("e1", "start", "split"), *branch, edge("e4", "task_a", "end"), edge("e5", "task_default", "end")],
    )


def no_match(workflow_id: str = "no_match") -> Blueprint:
    """START -> task_init (writes status) -> split -> (approved: task_a | rejected: task_b) -> END; no default."""
    return blueprint(
        workflow_id,
        [start(), task("task_init", "init", outputs={"status": "status"}), xsplit("split"),
         task("task_a", "a"), task("task_b", "b"), end()],
        [edge("e1", "start", "task_init"), edge("e2", "task_init", "split"),
         edge("e3", "split", "task_a", "status == 'approved'"),
         edge("e4", "split", "task_b", "status == 'rejected'"),
         edge("e5", "task_a", "end"), edge("e6", "task_b", "end")],
    )


def parallel(workflow_id: str = "parallel") -> Blueprint:
    """START -> p_split -> (task_a, task_b) -> p_join -> END; each task writes its own context key."""
    return blueprint(
        workflow_id,
        [start(), psplit("p_split"), task("task_a", "work_a", outputs={"v": "a"}),
         task("task_b", "work_b", outputs={"v": "b"}), pjoin("p_join"), end()],
        [edge("e1", "start", "p_split"), edge("e2", "p_split", "task_a"), edge("e3", "p_split", "task_b"),
         edge("e4", "task_a", "p_join"), edge("e5", "task_b", "p_join"), edge("e6", "p_join", "end")],
    )


def parallel_then_task(workflow_id: str = "parallel_then_task") -> Blueprint:
    """Like :func:`parallel`, but the join leads to task ``after`` before END (to see the join fire)."""
    bp = parallel(workflow_id)
    bp["nodes"].insert(-1, task("after", inputs={"a": "a", "b": "b"}))
    bp["edges"][-1] = edge("e6", "p_join", "after")
    bp["edges"].append(edge("e7", "after", "end"))
    return bp


def parallel_with_split(workflow_id: str = "parallel_with_split") -> Blueprint:
    """START -> p_split -> (task_a -> check -> [go == true: p_join | default: end_early], task_b -> p_join)
    -> p_join -> END. ``check`` is an exclusive split inside branch a (used for the no-match-in-branch case).
    """
    return blueprint(
        workflow_id,
        [start(), psplit("p_split"), task("task_a", outputs={"go": "go"}), task("task_b"), xsplit("check"),
         pjoin("p_join"), end()],
        [edge("e1", "start", "p_split"), edge("e2", "p_split", "task_a"), edge("e3", "p_split", "task_b"),
         edge("e4", "task_a", "check"), edge("e5", "check", "p_join", "go == true"),
         edge("e6", "task_b", "p_join"), edge("e7", "p_join", "end")],
    )


def loop(workflow_id: str = "loop") -> Blueprint:
    """START -> join -> work (reads count, writes count) -> split -> (count < 3: back to join | default: END)."""
    return blueprint(
        workflow_id,
        [start(), xjoin("join"), task("work", inputs={"n": "count"}, outputs={"n": "count"}),
         xsplit("split"), end()],
        [edge("e1", "start", "join"), edge("e2", "join", "work"), edge("e3", "work", "split"),
         edge("again", "split", "join", "count < 3"), edge("done", "split", "end")],
    )


def end_in_branch(workflow_id: str = "end_in_branch") -> Blueprint:
    """START -> p_split -> (fast -> END, slow -> END): the first branch to finish ends the instance."""
    return blueprint(
        workflow_id,
        [start(), psplit("p_split"), task("fast"), task("slow"), end()],
        [edge("e1", "start", "p_split"), edge("e2", "p_split", "fast"), edge("e3", "p_split", "slow"),
         edge("e4", "fast", "end"), edge("e5", "slow", "end")],
    )


def verification_flow(workflow_id: str = "verification") -> Blueprint:
    """The Go engine's verification flow (its test suite), in SPEC's format and names.

    START -> init (writes ok) -> split -> ok == true: p_split -> (t1, t2) -> p_join -> e_join
                                       -> ok == false: alt_path -> e_join
    e_join -> END
    """
    return blueprint(
        workflow_id,
        [start(), task("init", "init", outputs={"ok": "ok"}), xsplit("split"), psplit("p_split"),
         task("t1", "task_1"), task("t2", "task_2"), pjoin("p_join"), task("alt_path", "alternative"),
         xjoin("e_join"), end()],
        [edge("e0", "start", "init"), edge("e1", "init", "split"),
         edge("e2", "split", "p_split", "ok == true"), edge("e_alt", "split", "alt_path", "ok == false"),
         edge("e3", "p_split", "t1"), edge("e4", "p_split", "t2"),
         edge("e5", "t1", "p_join"), edge("e6", "t2", "p_join"), edge("e7", "p_join", "e_join"),
         edge("e8", "alt_path", "e_join"), edge("e9", "e_join", "end")],
        name="Verification Flow",
    )


def user_onboarding(workflow_id: str = "user_onboarding", version: int = 1) -> Blueprint:
    """The README's onboarding flow: send a welcome e-mail, then route on its status."""
    return blueprint(
        workflow_id,
        [start(),
         {**task("welcome_email", "send_email", inputs={"email_address": "user_email"},
                 outputs={"status": "email_status"}), "name": "Send welcome e-mail", "x": 150, "y": 100},
         xsplit("route"), task("notify_support", "notify", inputs={"email": "user_email"}), end()],
        [edge("e1", "start", "welcome_email"), edge("e2", "welcome_email", "route"),
         edge("e3", "route", "end", "email_status == 'sent'"), edge("e4", "route", "notify_support"),
         edge("e5", "notify_support", "end")],
        version=version, name="User Onboarding Flow",
    )
