"""Where wfconsole finds its database, and other settings read from the environment.

The command line and the console resolve the database the same way: the ``--db`` option, else the
``WFCONSOLE_DB`` environment variable, else ``./wfconsole.db`` in the working directory.
"""

from __future__ import annotations

import os

DB_ENV_VAR = "WFCONSOLE_DB"
DEFAULT_DB_PATH = os.path.join(".", "wfconsole.db")
DEBUG_ENV_VAR = "WFCONSOLE_DEBUG"
BUSY_TIMEOUT_ENV_VAR = "WFCONSOLE_BUSY_TIMEOUT_MS"
DEFAULT_BUSY_TIMEOUT_MS = 30_000


def resolve_db_path(option: str | None) -> str:
    """The database to use: ``option`` if given, else ``$WFCONSOLE_DB``, else ``./wfconsole.db``.

    Empty strings count as not given. The result is a path or an SQLAlchemy SQLite URL, returned as
    written (``~`` is expanded by the store when it opens the file).
    """
    if option:
        return option
    from_env = os.environ.get(DB_ENV_VAR, "").strip()
    if from_env:
        return from_env
    return DEFAULT_DB_PATH


def debug_enabled() -> bool:
    """True when ``$WFCONSOLE_DEBUG`` asks for tracebacks of unexpected errors (any value but ``0``/empty)."""
    return os.environ.get(DEBUG_ENV_VAR, "").strip() not in ("", "0")


def busy_timeout_ms() -> int:
    """How long a command waits for another process's write lock: ``$WFCONSOLE_BUSY_TIMEOUT_MS``, else 30 s.

    A value that is not a non-negative integer is ignored (the default applies): a setting should never
    be the reason a command cannot run.
    """
    text = os.environ.get(BUSY_TIMEOUT_ENV_VAR, "").strip()
    return int(text) if text.isdigit() else DEFAULT_BUSY_TIMEOUT_MS
