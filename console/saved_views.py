"""Saved views: a name for a view and its filters (``:save failed-loans``), kept per user.

The file is ``views.json`` in the platform's config directory for wfconsole (platformdirs:
``~/.config/wfconsole`` on Linux, ``~/Library/Application Support/wfconsole`` on macOS, ``%LOCALAPPDATA%``
on Windows), or ``$WFCONSOLE_CONFIG_DIR``. Each view is stored as the ``:`` line that shows it
(``{"views": {"failed-loans": "instances status=failed workflow=loan_approval"}}``), so a saved view is
read by the same parser as a typed one. A file that cannot be read is reported and ignored, never fatal:
the console opens without saved views, and saving a view moves the bad file aside (``views.json.bad``)
rather than losing it.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import platformdirs

CONFIG_ENV_VAR = "WFCONSOLE_CONFIG_DIR"
FILE_NAME = "views.json"
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,39}")


def config_dir() -> Path:
    """``$WFCONSOLE_CONFIG_DIR``, else the platform's per-user config directory for wfconsole."""
    from_env = os.environ.get(CONFIG_ENV_VAR, "").strip()
    return Path(from_env).expanduser() if from_env else platformdirs.user_config_path("wfconsole")


class SavedViews:
    """The saved views of one user: ``views`` (name -> ``:`` line), and ``problem`` when the file was bad."""

    def __init__(self, directory: Path | None = None) -> None:
        self.path = (directory or config_dir()) / FILE_NAME
        self.views: dict[str, str] = {}
        self.problem: str | None = None
        self._bad_file = False
        self.load()

    def load(self) -> None:
        """Read the file; a missing one is no saved views, a bad one sets :attr:`problem` and is ignored."""
        self.views, self.problem, self._bad_file = {}, None, False
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return
        except (OSError, UnicodeDecodeError) as error:
            self._fail(f"cannot be read ({error.__class__.__name__}: {error})")
            return
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            self._fail(f"is not JSON (line {error.lineno}, column {error.colno}: {error.msg})")
            return
        views = data.get("views") if isinstance(data, dict) else None
        if not isinstance(views, dict) or not all(isinstance(v, str) for v in views.values()):
            self._fail('is not a saved-views file: expected {"views": {"NAME": ":line", ...}}')
            return
        self.views = {name: line for name, line in views.items() if NAME.fullmatch(name)}

    def _fail(self, why: str) -> None:
        self._bad_file = True
        self.problem = f"saved views: {self.path} {why}; it is ignored (saving a view moves it aside to " \
                       f"{FILE_NAME}.bad)"

    def save(self, name: str, line: str) -> None:
        """Store ``line`` under ``name`` (replacing one of that name); raises ``OSError`` when the file
        cannot be written (the caller says so)."""
        self.views[name] = line
        self._write()

    def delete(self, name: str) -> bool:
        """Forget ``name``; whether it was saved."""
        if self.views.pop(name, None) is None:
            return False
        self._write()
        return True

    def _write(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self._bad_file and self.path.exists():
            self.path.replace(self.path.with_name(FILE_NAME + ".bad"))  # kept for its owner, not overwritten
            self._bad_file = False
        partial = self.path.with_name(FILE_NAME + ".partial")
        partial.write_text(json.dumps({"views": self.views}, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        partial.replace(self.path)  # a crash mid-write leaves the old file whole
