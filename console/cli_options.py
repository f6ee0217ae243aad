"""Options shared by the subcommands (``--db``, ``--json``, ``--actor``) and how they are resolved."""

from __future__ import annotations

from typing import Annotated

import typer

from console.settings import resolve_db_path
from engine.manager import default_actor

DbOption = Annotated[
    str | None,
    typer.Option("--db", metavar="PATH",
                 help="Database file, or a PostgreSQL URL (postgresql://user@host:5432/db). Default: $WFCONSOLE_DB, "
                      "else ./wfconsole.db."),
]
JsonOption = Annotated[
    bool,
    typer.Option("--json", help="Print one JSON document on stdout (stable snake_case fields, ISO times)."),
]
WorkflowFilterOption = Annotated[
    str | None, typer.Option("--workflow", "-w", metavar="WORKFLOW", help="Only instances of this workflow_id."),
]
ActorOption = Annotated[
    str | None,
    typer.Option("--actor", metavar="NAME",
                 help="Who is acting, recorded in the history. Default: $WFCONSOLE_USER, else the OS user."),
]


def is_readonly(ctx: typer.Context | None) -> bool:
    """Whether ``wfconsole --readonly`` was given: every command then reads as ever and the engine refuses
    every change (one line, exit 1)."""
    while ctx is not None:
        if isinstance(ctx.obj, dict) and ctx.obj.get("readonly"):
            return True
        ctx = ctx.parent
    return False


def refuse_if_readonly(ctx: typer.Context, what: str) -> None:
    """Stop a command that writes outside the engine's operations (``workers``, ``demo``) under --readonly."""
    if is_readonly(ctx):
        from console.cli_input import BadInputError

        raise BadInputError(f"--readonly: {what}; run it without --readonly")


def db_path(ctx: typer.Context, option: str | None) -> str:
    """The database for a subcommand: its own ``--db``, else ``wfconsole --db``, else the environment/default."""
    parent_db = (ctx.obj or {}).get("db") if isinstance(ctx.obj, dict) else None
    return resolve_db_path(option or parent_db)


def actor_name(option: str | None) -> str:
    """The actor recorded for an operator action: ``--actor``, else ``$WFCONSOLE_USER``, else the OS user."""
    return option.strip() if option and option.strip() else default_actor()
