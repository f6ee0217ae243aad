"""Workers for the crash test: ``hold`` blocks until a file appears, so a test can kill it mid-task."""

from __future__ import annotations

import os
import time
from pathlib import Path

from engine.workers import worker


@worker("hold", attempts=1, timeout=120)
def hold(inputs: dict) -> dict:
    marker = Path(os.environ["WF_TEST_DIR"])
    (marker / f"started-{os.getpid()}").write_text(str(inputs))
    while not (marker / "release").exists():
        time.sleep(0.05)
    return {"result": f"done by {os.getpid()}"}
