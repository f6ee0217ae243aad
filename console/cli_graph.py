"""``wfconsole graph``: a blueprint (or an instance on it) as a text drawing, Mermaid or Graphviz DOT."""

from __future__ import annotations

import sys
from enum import StrEnum
from typing import Annotated, Any

import typer

from console.cli_input import is_instance_id_prefix, open_operations, read_text_file
from console.cli_options import DbOption, JsonOption, db_path
from console.cli_tables import stdout_console
from console.output import write_json
from engine.errors import UnknownInstanceError, UnknownWorkflowError
from engine.graph import CompiledBlueprint
from engine.operations import Operations
from engine.ports import InstanceView
from engine.validate import compile_blueprint


class GraphFormat(StrEnum):
    TEXT = "text"
    MERMAID = "mermaid"
    DOT = "dot"


def _is_file(target: str) -> bool:
    return target.endswith(".json") or "/" in target or target == "-"


def _resolve(ops: Operations, target: str, version: int | None) -> tuple[CompiledBlueprint, InstanceView | None]:
    """The blueprint (and instance, if any) to draw: a workflow_id first, else an instance id or prefix."""
    if ops.stored_blueprint(target, version) is not None:
        return ops.workflow(target, version), None
    if version is None and is_instance_id_prefix(target):
        try:
            view = ops.instance(ops.resolve_instance(target))
        except UnknownInstanceError:
            raise UnknownWorkflowError(f"no workflow or instance {target!r} in this database") from None
        return ops.workflow(view.workflow_id, view.version), view
    which = f"version {version} of workflow {target!r}" if version else f"workflow {target!r}"
    raise UnknownWorkflowError(f"no {which} in this database")


def _render(model: Any, fmt: GraphFormat) -> str:
    from console.graph import render_dot, render_mermaid, render_text

    return {GraphFormat.TEXT: render_text, GraphFormat.MERMAID: render_mermaid, GraphFormat.DOT: render_dot}[fmt](model)


def _graph_doc(model: Any, fmt: GraphFormat, rendered: str) -> dict[str, Any]:
    return {
        "workflow_id": model.workflow_id, "version": model.version, "title": model.title,
        "instance_id": model.instance_id, "instance_status": model.instance_status, "format": str(fmt),
        "nodes": [{"id": n.id, "label": n.label, "kind": str(n.kind),
                   "state": None if n.state is None else str(n.state), "tokens": n.tokens} for n in model.nodes],
        "edges": [{"id": e.id, "source": e.source, "target": e.target, "condition": e.condition,
                   "is_default": e.is_default, "taken": e.taken} for e in model.edges],
        "rendered": rendered,
    }


def graph_command(
    ctx: typer.Context,
    target: Annotated[str, typer.Argument(metavar="WORKFLOW|INSTANCE|FILE", show_default=False,
                                          help="A loaded workflow_id, an instance id or prefix (its state is "
                                               "drawn on the graph), or a blueprint .json file.")],
    fmt: Annotated[GraphFormat, typer.Option("--format", "-f", case_sensitive=False,
                                             help="text (a drawing for the terminal), mermaid or dot.")
                   ] = GraphFormat.TEXT,
    version: Annotated[int | None, typer.Option("--version", min=1, help="Which version of WORKFLOW. "
                                                "Default: the newest.")] = None,
    db: DbOption = None, as_json: JsonOption = False,
) -> None:
    """Draw a workflow's graph, or an instance's tokens on it, as text, Mermaid or Graphviz DOT.

    A workflow_id is looked up first, then an instance id; a path ending in .json is drawn without a database.

    Example:  wfconsole graph loan_approval

    Example:  wfconsole graph 3fa85f64 --format mermaid > incident.mmd

    Example:  wfconsole graph order_fulfilment --format dot | dot -Tsvg > order.svg
    """
    from console.graph import build_graph, legend_rich, render_rich

    if _is_file(target):
        compiled: CompiledBlueprint = compile_blueprint(read_text_file(target, "blueprint file"), target)
        view = None
    else:
        with open_operations(db_path(ctx, db)) as ops:
            compiled, view = _resolve(ops, target, version)
    model = build_graph(compiled, view)
    rendered = _render(model, fmt)
    if as_json:
        write_json(_graph_doc(model, fmt, rendered))
    elif fmt is GraphFormat.TEXT and sys.stdout.isatty():
        console = stdout_console()
        console.print(render_rich(model), soft_wrap=True)
        if model.has_instance:
            console.print(legend_rich(), soft_wrap=True)
    else:
        legend = "\n\n" + legend_rich().plain if fmt is GraphFormat.TEXT and model.has_instance else ""
        sys.stdout.write(rendered.rstrip("\n") + legend + "\n")
