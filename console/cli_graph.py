"""``wfconsole graph``: a blueprint (or an instance on it) as a text drawing, Mermaid, Graphviz DOT or BPMN 2.0."""

from __future__ import annotations

import shutil
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
from engine.sources import compile_text


class GraphFormat(StrEnum):
    TEXT = "text"
    MERMAID = "mermaid"
    DOT = "dot"
    BPMN = "bpmn"


def _is_file(target: str) -> bool:
    return target.endswith((".json", ".bpmn", ".xml")) or "/" in target or target == "-"


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


PIPED_GRAPH_WIDTH, PIPED_GRAPH_HEIGHT = 100, 50  # the terminal to fit when stdout is not one


def _terminal_size(width: int | None) -> tuple[int, int | None]:
    """The columns to fit (``width``, else the terminal's) and the rows to prefer to fit (the terminal's);
    a terminal of :data:`PIPED_GRAPH_WIDTH` x :data:`PIPED_GRAPH_HEIGHT` when stdout is not one."""
    if not sys.stdout.isatty():
        return width or PIPED_GRAPH_WIDTH, PIPED_GRAPH_HEIGHT
    size = shutil.get_terminal_size()
    return width or size.columns, size.lines


def _graph_doc(model: Any, fmt: GraphFormat, rendered: str, drawing: Any) -> dict[str, Any]:
    fitted = {} if drawing is None else {"zoom": str(drawing.zoom), "orientation": str(drawing.orientation),
                                         "width": drawing.size[0], "height": drawing.size[1]}
    return {
        "workflow_id": model.workflow_id, "version": model.version, "title": model.title,
        "instance_id": model.instance_id, "instance_status": model.instance_status, "format": str(fmt), **fitted,
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
                                               "drawn on the graph), or a blueprint file (.json or .bpmn).")],
    fmt: Annotated[GraphFormat, typer.Option("--format", "-f", case_sensitive=False,
                                             help="text (a drawing for the terminal), mermaid, dot or bpmn "
                                                  "(BPMN 2.0 XML with the diagram laid out as in the terminal, "
                                                  "for bpmn.io or Camunda Modeler).")
                   ] = GraphFormat.TEXT,
    version: Annotated[int | None, typer.Option("--version", min=1, help="Which version of WORKFLOW. "
                                                "Default: the newest.")] = None,
    width: Annotated[int | None, typer.Option("--width", min=20, show_default=False,
                                              help="Columns the text drawing must fit: the most detailed zoom "
                                                   "(full labels, short labels, symbols) and the orientation "
                                                   "(left to right, top to bottom) that fit are chosen. Default: "
                                                   f"the terminal's width, {PIPED_GRAPH_WIDTH} when piped.")
                     ] = None,
    db: DbOption = None, as_json: JsonOption = False,
) -> None:
    """Draw a workflow's graph, or an instance's tokens on it, as text, Mermaid, Graphviz DOT or BPMN 2.0.

    A workflow_id is looked up first, then an instance id; a path ending in .json or .bpmn is drawn without a
    database. BPMN is the blueprint alone (an instance's state has no place in it); loading the file back gives
    the same blueprint.

    Example:  wfconsole graph loan_approval

    Example:  wfconsole graph loan_approval --width 80

    Example:  wfconsole graph 3fa85f64 --format mermaid > incident.mmd

    Example:  wfconsole graph order_fulfilment --format dot | dot -Tsvg > order.svg

    Example:  wfconsole graph loan_approval --format bpmn > loan_approval.bpmn
    """
    from console.graph import build_graph

    if _is_file(target):
        compiled: CompiledBlueprint = compile_text(read_text_file(target, "blueprint file"), target)
        view = None
    else:
        with open_operations(db_path(ctx, db)) as ops:
            compiled, view = _resolve(ops, target, version)
    model = build_graph(compiled, view)
    if fmt is not GraphFormat.TEXT:
        _write_export(model, compiled, fmt, as_json)
    else:
        _write_text(model, *_terminal_size(width), as_json)


def _write_export(model: Any, compiled: CompiledBlueprint, fmt: GraphFormat, as_json: bool) -> None:
    from console.graph import render_dot, render_mermaid

    if fmt is GraphFormat.BPMN:
        from console.graph.bpmn import render_bpmn

        rendered = render_bpmn(model, compiled)
    else:
        rendered = (render_mermaid if fmt is GraphFormat.MERMAID else render_dot)(model)
    if as_json:
        write_json(_graph_doc(model, fmt, rendered, None))
    else:
        sys.stdout.write(rendered)


def _write_text(model: Any, width: int, height: int | None, as_json: bool) -> None:
    """The drawing that fits ``width`` (a note on stderr when even symbols do not), with its legend."""
    from console.graph.fit import draw_for_terminal
    from console.graph.text import drawing_rich, drawing_text, legend_rich
    from console.graph.zoom import Zoom

    drawing = draw_for_terminal(model, width, height)
    if drawing.size[0] > width:
        print(f"note: the graph needs {drawing.size[0]} columns even as symbols; it is wider than {width}",
              file=sys.stderr)
    legend = legend_rich(drawing.zoom, model.has_instance, width, model) if model.has_instance or \
        drawing.zoom is not Zoom.FULL else None
    if as_json:
        write_json(_graph_doc(model, GraphFormat.TEXT, drawing_text(drawing, width=width), drawing))
    elif sys.stdout.isatty():
        console = stdout_console()
        console.print(drawing_rich(drawing, width=width), soft_wrap=True)
        if legend is not None:
            console.print(legend, soft_wrap=True)
    else:
        text = drawing_text(drawing, width=width).rstrip("\n") + ("\n\n" + legend.plain if legend else "")
        sys.stdout.write(text + "\n")
