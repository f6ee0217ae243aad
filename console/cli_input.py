"""Turning what a user typed into values the engine takes: JSON options, ``KEY=JSON`` pairs, files, ids.

Everything here raises :class:`BadInputError` (exit code 2) for input that cannot be used, with a message
that names the option, file or position; the engine's own errors (exit code 1) pass through.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from console.cli_options import is_readonly
from console.output import print_notice
from console.settings import busy_timeout_ms
from engine import WorkflowManager
from engine.errors import json_kind
from engine.operations import Operations
from engine.validate import MAX_JSON_BYTES
from store import open_store

_ID_PREFIX = re.compile(r"[0-9a-f-]{1,36}")


class BadInputError(Exception):
    """Input the command cannot use (bad JSON, a missing file, a malformed id): exit code 2."""


# -- JSON -----------------------------------------------------------------------------------------


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def parse_json(text: str, what: str) -> Any:
    """Parse strict JSON (no NaN or Infinity); raise :class:`BadInputError` naming ``what`` and the position."""
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as error:
        raise BadInputError(f"{what}: invalid JSON at line {error.lineno}, column {error.colno}: {error.msg}") from None
    except ValueError as error:
        raise BadInputError(f"{what}: {error}") from None
    except RecursionError:
        raise BadInputError(f"{what}: JSON nested too deeply") from None


def parse_json_object(text: str, what: str) -> dict[str, Any]:
    """Parse ``text`` as a JSON object (``{...}``); anything else is a :class:`BadInputError`."""
    value = parse_json(text, what)
    if not isinstance(value, dict):
        raise BadInputError(f"{what}: expected a JSON object like {{\"key\": \"value\"}}, got {json_kind(value)}")
    return value


def parse_assignments(items: list[str]) -> dict[str, Any]:
    """``["amount=5000", "status=approved", "tags=[\\"a\\"]"]`` -> ``{"amount": 5000, ...}``.

    The value after the first ``=`` is JSON; a value that is not JSON and does not start like JSON
    (``{``, ``[`` or ``"``) is taken as a plain string, so ``status=approved`` sets ``"approved"``.
    """
    values: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise BadInputError(f"{item!r}: expected KEY=VALUE, e.g. amount=5000 or status=approved")
        if key in values:
            raise BadInputError(f"{key!r} is given twice")
        stripped = raw.strip()
        if stripped[:1] in ("{", "[", '"'):
            values[key] = parse_json(stripped, f"value of {key!r}")
            continue
        try:
            values[key] = json.loads(stripped, parse_constant=_refuse_constant)
        except (ValueError, RecursionError):
            values[key] = raw  # a bare word is a string
    return values


# -- files ----------------------------------------------------------------------------------------


def read_text_file(path: str, what: str = "file", limit: int = MAX_JSON_BYTES, too_large: str | None = None) -> str:
    """The UTF-8 text of ``path`` (``-`` reads stdin); :class:`BadInputError` if it cannot be read.

    A file of more than ``limit`` bytes is refused unread, saying so, and ``too_large`` if given (the limit
    of what the file holds, when that is another)."""
    try:
        if path == "-":  # the same limit and decoding as a file
            path, data = "stdin", sys.stdin.buffer.read(limit + 1)
        else:
            with Path(path).expanduser().open("rb") as handle:
                data = handle.read(limit + 1)
    except FileNotFoundError:
        raise BadInputError(f"{path}: no such {what}") from None
    except IsADirectoryError:
        raise BadInputError(f"{path}: is a directory, not a {what}") from None
    except PermissionError:
        raise BadInputError(f"{path}: permission denied") from None
    except OSError as error:
        raise BadInputError(f"{path}: cannot read the {what}: {error.strerror}") from None
    if len(data) > limit:
        raise BadInputError(f"{path}: larger than the {limit // (1024 * 1024)} MiB limit"
                            + (f"; {too_large}" if too_large else ""))
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise BadInputError(f"{path}: not UTF-8 text (byte {error.start})") from None


MAX_FILTER_CHARS = 1000


def filter_text(option: str, value: str | None) -> str | None:
    """A text filter as given (stripped; ``None`` when empty), or a :class:`BadInputError` naming ``option``:
    bytes that are not text, or more than :data:`MAX_FILTER_CHARS` characters."""
    if value is None or not value.strip():
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise BadInputError(f"{option}: not valid text (bytes that are not UTF-8)") from None
    if len(value) > MAX_FILTER_CHARS:
        raise BadInputError(f"{option}: {len(value):,} characters; at most {MAX_FILTER_CHARS:,}")
    return value.strip()


def has_terminal() -> bool:
    """Whether standard input and output are a terminal, which the console needs."""
    return sys.stdin.isatty() and sys.stdout.isatty()


def require_terminal() -> None:
    """A :class:`BadInputError` unless :func:`has_terminal`: the console must not run blind in a script."""
    if not has_terminal():
        raise BadInputError("the console needs a terminal (standard input and output are not one); in a script "
                            "use a subcommand instead, see `wfconsole --help`")


# -- database -------------------------------------------------------------------------------------


def require_database(db: str, *, create: bool = False) -> None:
    """A :class:`BadInputError` unless ``db`` names an existing database file (or a URL / ``:memory:``).

    With ``create``, a file that does not exist yet will do, in a directory that does.
    """
    if "://" in db or db == ":memory:":
        return
    path = Path(db).expanduser()
    if path.exists() and not path.is_file() and not path.is_dir():
        return  # a FIFO, a socket, /dev/null: open_store names what it is (a DatabasePathError, exit 2)
    if create:
        if not path.exists() and not path.resolve().parent.is_dir():
            raise BadInputError(f"{db}: the directory {path.resolve().parent} does not exist")
        return
    if not path.exists():
        raise BadInputError(f"{db}: no such database; load a blueprint first (wfconsole load FILE --db {db}) "
                            "or point --db / $WFCONSOLE_DB at an existing one")
    if path.stat().st_size == 0:  # opening it would make it a new, empty database
        raise BadInputError(f"{db}: is an empty file, not a wfconsole database")


_WARNED: set[str] = set()


def print_store_warnings(store: object) -> None:
    """Print each of the store's warnings (``SqliteStore.warnings``: a database file other users can read)
    as one line on stderr, once per process: ``demo`` opens its database twice."""
    for warning in getattr(store, "warnings", ()):
        if warning not in _WARNED:
            _WARNED.add(warning)
            print_notice(f"warning: {warning}")


@contextmanager
def open_operations(db: str, *, create: bool = False, actor: str | None = None) -> Iterator[Operations]:
    """The engine's :class:`~engine.operations.Operations` on the database ``db``, closed afterwards; ``actor``
    is recorded with every action (default: $WFCONSOLE_USER, else the OS user). Under ``wfconsole --readonly``
    they are read-only: the engine refuses every change.

    Unless ``create`` is set, a database file that does not exist is a :class:`BadInputError` rather than
    a new empty database: a typo in ``--db`` should not look like an empty system. Database problems
    (corrupt, read-only, locked past ``$WFCONSOLE_BUSY_TIMEOUT_MS``, newer schema) raise ``engine.StoreError``.
    """
    require_database(db, create=create)
    store = open_store(db, busy_timeout_ms=busy_timeout_ms())
    print_store_warnings(store)
    try:
        yield Operations(WorkflowManager(store), actor, readonly=is_readonly(_current_context()))
    finally:
        store.close()


def _current_context():  # noqa: ANN202 - Click's Context, vendored by Typer >= 0.20
    try:
        from typer._click.globals import get_current_context
    except ImportError:  # pragma: no cover
        from click import get_current_context
    return get_current_context(silent=True)


# -- ids ------------------------------------------------------------------------------------------


def is_instance_id_prefix(text: str) -> bool:
    """Whether ``text`` could be an instance id or a prefix of one (hex digits and ``-``)."""
    return bool(_ID_PREFIX.fullmatch(text.strip().lower()))
