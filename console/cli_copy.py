"""``wfconsole copy``: a whole database into another, SQLite to PostgreSQL (moving up) or back."""

from __future__ import annotations

from typing import Annotated

import typer

from console.cli_input import open_operations
from console.cli_options import JsonOption
from console.output import print_notice, write_json


def copy_command(
    source: Annotated[str, typer.Option("--from", metavar="DB", help="The database to copy: a file or a URL.")],
    target: Annotated[str, typer.Option("--to", metavar="DB", help="The database to copy into: a file or a URL "
                                        "(postgresql://user@host:5432/db); made if it is a new file.")],
    force: Annotated[bool, typer.Option("--force", help="Copy into a database that is not empty: what it holds is "
                                        "deleted first (in the copy's transaction).")] = False,
    as_json: JsonOption = False,
) -> None:
    """Copy every blueprint, instance, execution and the full history from one database into another (SQLite to PostgreSQL, or back), then verify the copy: the row counts, and every instance reads back as in the source and its history replays. A target that is not empty is refused unless --force. Nothing is written to the target unless the whole copy succeeds; the source is only read.

    Example:  wfconsole copy --from wfconsole.db --to postgresql://wf@db.example.com:5432/wfconsole

    Example:  wfconsole copy --from postgresql://wf@db.example.com/wfconsole --to backup.db
    """
    with open_operations(source) as origin, open_operations(target, create=True) as destination:
        report = destination.copy_from(origin, force=force)
        names = (origin.source, destination.source)
    if as_json:
        write_json({"from": names[0], "to": names[1], "rows": report.rows, "verified_instances": report.verified,
                    "replaced_rows": report.replaced})
        return
    if report.replaced:
        print_notice(f"deleted what {names[1]} held first: "
                     + ", ".join(f"{count} {table}" for table, count in report.replaced.items()))
    rows = ", ".join(f"{count} {table}" for table, count in report.rows.items())
    typer.echo(f"copied {names[0]} to {names[1]}: {rows}; {report.verified} instance(s) verified "
               "(read back as in the source, history replayed)")
