"""The screenshot tour that `make demo` and `make screenshots` run keeps working.

It drives the real window through every screen with the flow's own events, so a change to the
events or the screens that the tour was not moved along with breaks the demo; this runs it
(English only, offscreen, in a child process as the Makefile does) and checks every screen
was written.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # started first when the suite is shared out

ROOT = Path(__file__).resolve().parents[2]


def test_the_tour_writes_every_screen(tmp_path):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run(
        [sys.executable, str(ROOT / "packaging" / "screenshots.py"), "--languages", "en"]
        + ["--out", str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    shots = sorted((tmp_path / "en").glob("*.png"))
    assert len(shots) == 29, [s.name for s in shots]
    assert all(s.stat().st_size > 1000 for s in shots)
