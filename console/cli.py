"""``wfconsole``: the command line. With no subcommand it opens the terminal console.

Every subcommand is listed in :data:`COMMANDS`; each lives in a ``console/cli_*.py`` module. Errors are
handled in one place, :class:`WfconsoleGroup.main`: a user's mistake prints one line on stderr, never a
traceback, and sets the exit code:

- 0: done;
- 1: the operation was refused (an invalid blueprint, an engine ``WorkflowError`` such as acting on
  something in the wrong state, an unknown workflow/instance/execution, an unusable database);
- 2: bad usage or bad input (unknown option, bad JSON, missing file, malformed or ambiguous id, a PostgreSQL
  server that cannot be reached or refuses the login, a missing database);
- 3: done, but the instance then stopped FAILED at an exclusive split with no match (``start``, ``done``:
  their output is printed as on success, the way out on stderr);
- 130: interrupted.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from console.cli_blueprints import load_command, validate_command
from console.cli_copy import copy_command
from console.cli_graph import graph_command
from console.cli_input import BadInputError
from console.cli_instances import list_command, show_command, start_command
from console.cli_operate import (
    cancel_command,
    claim_command,
    done_command,
    fail_command,
    release_command,
    retry_command,
    retry_failed_command,
    retry_instance_command,
    send_command,
    set_command,
    unset_command,
)
from console.cli_options import DbOption
from console.cli_repair import batch_command, migrate_command, move_command
from console.cli_reports import blueprints_command, history_command, incidents_command, overview_command
from console.cli_runtime import demo_command, workers_command
from console.cli_tasks import tasks_command
from console.output import print_error
from console.settings import debug_enabled, resolve_db_path
from engine.errors import (
    DatabaseConnectionError,
    DatabasePathError,
    InvalidValueError,
    MalformedExecutionIdError,
    WorkflowError,
)
from engine.workers import WorkerLoadError

try:  # Typer >= 0.20 vendors Click; older versions depend on it.
    from typer._click.exceptions import ClickException, UsageError
except ImportError:  # pragma: no cover
    from click.exceptions import ClickException, UsageError

EXIT_OK, EXIT_REFUSED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130
BAD_INPUT_ERRORS = (BadInputError, MalformedExecutionIdError, InvalidValueError, WorkerLoadError, DatabasePathError,
                    DatabaseConnectionError)


def exit_code_for(error: BaseException) -> int:
    """The exit code of an error raised by a subcommand (see the module docstring)."""
    if isinstance(error, (UsageError, *BAD_INPUT_ERRORS)):
        return EXIT_BAD_INPUT
    if isinstance(error, ClickException):
        return error.exit_code
    return EXIT_REFUSED


def run_guarded(call: Callable[[], Any]) -> int:
    """Run the command line; turn every error into one line on stderr and an exit code."""
    try:
        result = call()
    except typer.Exit as done:  # raised outside Click's own handling, e.g. by a callback
        return done.exit_code
    except UsageError as error:
        hint = f" (see '{error.ctx.command_path} --help')" if error.ctx is not None else ""
        print_error(error.format_message() + hint)
        return EXIT_BAD_INPUT
    except ClickException as error:
        print_error(error.format_message())
        return exit_code_for(error)
    except BrokenPipeError:  # the reader went away (`wfconsole list | head -1`): not an error
        _stdout_to_devnull()
        return EXIT_OK
    except (typer.Abort, KeyboardInterrupt):
        print_error("interrupted")
        return EXIT_INTERRUPTED
    except (*BAD_INPUT_ERRORS, WorkflowError) as error:
        print_error(str(error))
        return exit_code_for(error)
    except Exception as error:  # a bug, not a user's mistake: still one line unless asked for more
        if debug_enabled():
            traceback.print_exc()
        print_error(f"unexpected {type(error).__name__}: {error} (set WFCONSOLE_DEBUG=1 to see the traceback)")
        return EXIT_REFUSED
    if result == EXIT_INTERRUPTED:  # Typer turns Ctrl-C into exit 130 itself, without a word
        print_error("interrupted")
    return result if isinstance(result, int) else EXIT_OK


def _stdout_to_devnull() -> None:
    """Point stdout at /dev/null, so that the interpreter's last flush does not fail on the closed pipe."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no file descriptor (a test runner's buffer)
        pass


class WfconsoleGroup(TyperGroup):
    """The root command: runs in Click's non-standalone mode so that every error goes through :func:`run_guarded`.

    Overriding ``main`` (not only ``__call__``) makes ``typer.testing.CliRunner`` see the same behaviour
    as the installed ``wfconsole`` script.
    """

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True,  # noqa: ANN001
             windows_expand_args=True, **extra: Any) -> Any:
        parent_main = super().main
        code = run_guarded(lambda: parent_main(args=args, prog_name=prog_name, complete_var=complete_var,
                                               standalone_mode=False, windows_expand_args=windows_expand_args,
                                               **extra))
        if standalone_mode:
            sys.exit(code)
        return code


HELP = "\n\n".join([
    "wfconsole: a token-based workflow engine on SQLite or PostgreSQL, and its operations console.",
    "Run it with no subcommand to open the terminal console on the database. The subcommands script everything "
    "an operator does there; read commands take --json, operator commands record --actor. Instance ids may be "
    "shortened to a unique prefix, as `list` shows them.",
    "Exit codes: 0 ok; 1 refused (invalid blueprint, wrong state, unknown id, unusable database); 2 bad usage or "
    "bad input (bad JSON, missing file, malformed or ambiguous id, a database server that cannot be reached or "
    "refuses the login); 3 done, but the instance then stopped at an "
    "exclusive split with no match; 130 interrupted.",
    "Example:  wfconsole load sample_data/*.json",
    "Example:  wfconsole start user_onboarding --context '{\"user_email\": \"ada@example.com\"}'",
    "Example:  wfconsole list --status ACTIVE   then   wfconsole show 3fa85f64",
    "Example:  wfconsole --db ops.db   (opens the console on ops.db)",
])

app = typer.Typer(
    cls=WfconsoleGroup,
    name="wfconsole",
    help=HELP,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)

# The whole command line, in the order `wfconsole --help` lists it.
COMMANDS: list[tuple[str, Callable[..., None]]] = [
    ("validate", validate_command),
    ("load", load_command),
    ("start", start_command),
    ("list", list_command),
    ("show", show_command),
    ("overview", overview_command),
    ("incidents", incidents_command),
    ("history", history_command),
    ("blueprints", blueprints_command),
    ("done", done_command),
    ("fail", fail_command),
    ("retry", retry_command),
    ("retry-failed", retry_failed_command),
    ("retry-instance", retry_instance_command),
    ("cancel", cancel_command),
    ("send", send_command),
    ("tasks", tasks_command),
    ("claim", claim_command),
    ("release", release_command),
    ("set", set_command),
    ("unset", unset_command),
    ("move", move_command),
    ("migrate", migrate_command),
    ("batch", batch_command),
    ("graph", graph_command),
    ("workers", workers_command),
    ("copy", copy_command),
    ("demo", demo_command),
]
for _name, _function in COMMANDS:
    app.command(_name)(_function)


def _print_version(value: bool) -> None:
    if value:
        try:
            typer.echo(f"wfconsole {version('wfconsole')}")
        except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
            typer.echo("wfconsole (not installed)")
        raise typer.Exit(0)


@app.callback(invoke_without_command=True)
def root(
    ctx: typer.Context,
    db: DbOption = None,
    workers: Annotated[str | None, typer.Option(
        "--workers", metavar="MODULE",
        help="With no subcommand: also run the task workers of this Python module (e.g. sample_data.workers).",
    )] = None,
    readonly: Annotated[bool, typer.Option(
        "--readonly", help="Look, do not change: every command and the console read as ever, and every change "
                           "is refused (exit 1; in the console its keys are shown disabled).")] = False,
    show_version: Annotated[bool, typer.Option("--version", callback=_print_version, is_eager=True,
                                               help="Print the version and exit.")] = False,
) -> None:
    """Open the terminal console when no subcommand is given; otherwise pass --db on to the subcommand."""
    ctx.obj = {"db": db, "readonly": readonly}
    if ctx.invoked_subcommand is not None:
        return
    if readonly and workers:
        raise BadInputError("--readonly: a read-only console cannot run workers (they complete and fail tasks); "
                            "leave out --workers")
    open_console(resolve_db_path(db), workers, readonly)


def open_console(db_path: str, workers_module: str | None, readonly: bool = False) -> None:
    """Start the Textual console (imported only now: the subcommands do not need Textual)."""
    try:
        from console.app import run
    except ModuleNotFoundError as error:
        if error.name not in ("console.app", "console"):
            raise
        print_error("the terminal console is not available in this installation (console/app.py is missing); "
                    "use the subcommands, see `wfconsole --help`")
        raise typer.Exit(EXIT_REFUSED) from None
    status = run(db_path, workers_module, readonly)
    if status:
        raise typer.Exit(status)


def main() -> None:
    """Entry point of the ``wfconsole`` script."""
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
