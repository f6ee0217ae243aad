"""Workers for the disk-full test of ``wfconsole workers``: importing this module makes the store's first
``WF_DISK_FULL_CLAIMS`` claims fail the way SQLite fails when the disk is full (inside the claim's write
transaction, so the store turns the driver's error into its ``StoreError`` as it would for real)."""

from __future__ import annotations

import os
import sqlite3

from engine.workers import worker
from store.sqlite import SqliteStore

_real_claim = SqliteStore.claim_execution
_failures_left = [int(os.environ.get("WF_DISK_FULL_CLAIMS", "0"))]


def _claim_on_a_full_disk(self, *args, **kwargs):
    if _failures_left[0] > 0:
        _failures_left[0] -= 1
        with self.write():
            raise sqlite3.OperationalError("database or disk is full")
    return _real_claim(self, *args, **kwargs)


SqliteStore.claim_execution = _claim_on_a_full_disk


@worker("do_a", attempts=1)
def do_a(inputs: dict) -> dict:
    return {"local_out": "written"}
