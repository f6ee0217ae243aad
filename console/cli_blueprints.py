"""Blueprint subcommands: ``validate`` and ``load``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import typer
from rich.text import Text

from console.cli_input import open_operations, read_text_file
from console.cli_options import DbOption, JsonOption, db_path
from console.cli_tables import problems_table, stdout_console
from console.formatting import shown
from console.output import print_error, problem_doc, write_json
from engine.errors import BlueprintError, Problem
from engine.sources import compile_text, parse_text, validate_text

FilesArgument = Annotated[
    list[str], typer.Argument(metavar="FILE", help="Blueprint files: JSON (Go engine format) or BPMN 2.0 XML.",
                              show_default=False),
]


@dataclass
class _Checked:
    """One file's validation: its identity (if it parsed) and every problem found."""

    file: str
    workflow_id: str | None
    version: int | None
    problems: list[Problem]

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity != "error"]

    def doc(self) -> dict[str, Any]:
        return {"file": self.file, "workflow_id": self.workflow_id, "version": self.version,
                "valid": not self.errors, "errors": len(self.errors), "warnings": len(self.warnings),
                "problems": [problem_doc(p) for p in self.problems]}


def _check(file: str, text: str) -> _Checked:
    try:
        blueprint = parse_text(text, file)
        workflow_id, version = blueprint.workflow_id, blueprint.version
    except BlueprintError:
        workflow_id, version = None, None
    return _Checked(file, workflow_id, version, validate_text(text, file))


StrictOption = Annotated[bool, typer.Option(
    "--strict", help="Refuse a file with warnings too (a field wfconsole does not read, a key nothing sets, ...), "
                     "as a pipeline wants: exit 1.")]


def validate_command(files: FilesArgument, as_json: JsonOption = False, strict: StrictOption = False) -> None:
    """Check blueprint files and print every error and warning, each naming its node or edge.

    A file whose text starts with "<" is read as BPMN 2.0 XML: its problems also name the element and line.
    Nothing is stored. Exit code 1 when any file has an error (warnings alone pass, unless --strict).

    Example:  wfconsole validate sample_data/*.json

    Example:  wfconsole validate order.bpmn

    Example:  wfconsole validate --json order_fulfilment.json | jq '.files[].problems'
    """
    texts = [(file, read_text_file(file, "blueprint file")) for file in files]
    checked = [_check(file, text) for file, text in texts]
    valid = not any(c.errors or (strict and c.warnings) for c in checked)
    if as_json:
        write_json({"valid": valid, "files": [c.doc() for c in checked]})
    else:
        console = stdout_console()
        for c in checked:
            name = f"{c.workflow_id} v{c.version}" if c.workflow_id else "unreadable blueprint"
            if c.errors or (strict and c.warnings):
                summary = shown(f"✗ {c.file}: {name}: {len(c.errors)} error(s), {len(c.warnings)} warning(s)"
                                + (" (--strict refuses warnings)" if not c.errors else ""), style="bold red")
            else:
                note = f", {len(c.warnings)} warning(s)" if c.warnings else ""
                summary = shown(f"✓ {c.file}: {name}: valid{note}", style="green")
            console.print(summary)
            if c.problems:
                console.print(problems_table(c.problems))
    if not valid:
        raise typer.Exit(1)


def load_command(ctx: typer.Context, files: FilesArgument, db: DbOption = None, as_json: JsonOption = False,
                 strict: StrictOption = False) -> None:
    """Validate blueprint files and store them in the database (created if missing).

    Every file is validated before anything is stored: if one has an error (with --strict, a warning), or
    differs from a stored blueprint (or from another file) with the same workflow id and version, nothing is
    loaded (exit 1).
    Loading an identical blueprint again is a no-op; a changed blueprint needs a new "version" (in a BPMN
    file, the process's version tag).

    Example:  wfconsole load sample_data/*.json --db ops.db

    Example:  wfconsole load order.bpmn
    """
    texts = [(file, read_text_file(file, "blueprint file")) for file in files]
    compiled, refused = [], []
    for file, text in texts:
        try:
            bp = compile_text(text, file)
        except BlueprintError as error:
            refused.append(str(error))
            continue
        if strict and bp.warnings:
            first = bp.warnings[0]
            refused.append(f"{file}: {len(bp.warnings)} warning(s), refused under --strict: {first.where}: "
                           f"{first.message}" + (" (and more)" if len(bp.warnings) > 1 else ""))
            continue
        compiled.append((file, bp))
    if refused:  # one line per refused file; the last one says that nothing was stored
        refused[-1] += (f"; nothing was loaded ({len(refused)} of {len(texts)} file(s) refused; "
                        "`wfconsole validate` lists every problem)")
        for message in refused:
            print_error(message)
        raise typer.Exit(1)
    with open_operations(db_path(ctx, db), create=True) as ops:  # all or none: a conflict stores nothing
        stored = ops.load_blueprints([(bp.blueprint, file) for file, bp in compiled])
    loaded = [{"file": file, "workflow_id": bp.workflow_id, "version": version, "name": bp.blueprint.name,
               "created": created, "warnings": [problem_doc(p) for p in bp.warnings]}
              for (file, bp), (version, created) in zip(compiled, stored, strict=True)]
    if as_json:
        write_json({"loaded": loaded})
        return
    console = stdout_console()
    for item in loaded:
        result = Text("stored", style="green") if item["created"] else Text("already stored (unchanged)", style="dim")
        console.print(Text.assemble(shown(f"{item['file']}: "), shown(f"{item['workflow_id']} v{item['version']}",
                                                                       "bold"), " ", result))
        for warning in item["warnings"]:
            console.print(Text.assemble("  ", ("warning", "yellow"), " ",
                                        shown(f"{warning['where']}: {warning['message']}")))
