"""The kiosk's accessibility tree read through AT-SPI, as a screen reader such as Orca would.

A real X server (Xvfb) and a session D-Bus of the test's own, Qt's AT-SPI bridge switched on
(QT_LINUX_ACCESSIBILITY_ALWAYS_ON), the kiosk window in a child process stopped at the PIN pad
with three digits typed; Debian's python3-pyatspi (not in the venv: /usr/bin/python3 runs the
reader) reads the tree off the AT-SPI bus and prints it as JSON. Every control the person can
press and every piece of text on screen must have a name there, the display must say how many
digits are typed, and none of the typed digits may appear anywhere but on the keys.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent / "atspi"
SYSTEM_PYTHON = "/usr/bin/python3"
TYPED = "567"  # what kiosk_child.py types


def _has_pyatspi() -> bool:
    if not Path(SYSTEM_PYTHON).exists():
        return False
    found = subprocess.run([SYSTEM_PYTHON, "-c", "import pyatspi"], capture_output=True)
    return found.returncode == 0


pytestmark = pytest.mark.skipif(
    not (_has_pyatspi() and shutil.which("Xvfb") and shutil.which("dbus-daemon")),
    reason="needs Xvfb, dbus-daemon and Debian's python3-pyatspi (packaging/setup/system-deps.sh)",
)


@pytest.fixture
def session() -> Iterator[dict[str, str]]:
    """A display and a session bus of this test's own; the environment to reach both."""
    read, write = os.pipe()
    xvfb = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write), "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
        pass_fds=(write,),
        stderr=subprocess.DEVNULL,
    )
    os.close(write)
    with os.fdopen(read) as pipe:
        display = pipe.readline().strip()  # written once the server accepts clients
    bus = subprocess.Popen(
        ["dbus-daemon", "--session", "--nofork", "--print-address=1"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert bus.stdout is not None
    address = bus.stdout.readline().strip()  # written once the bus listens
    env = {
        **os.environ,
        "DISPLAY": f":{display}",
        "DBUS_SESSION_BUS_ADDRESS": address,
        "QT_QPA_PLATFORM": "xcb",
        "QT_LINUX_ACCESSIBILITY_ALWAYS_ON": "1",
        "QT_ACCESSIBILITY": "1",
        "NO_AT_BRIDGE": "0",
    }
    try:
        yield env
    finally:
        for process in (bus, xvfb):
            process.terminate()
            process.wait(timeout=10)


def test_a_screen_reader_reads_the_pin_screen_and_no_digit(session):
    kiosk = subprocess.Popen(
        [sys.executable, str(HERE / "kiosk_child.py")],
        env=session,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert kiosk.stdout is not None
        assert kiosk.stdout.readline().strip() == "READY"
        read = subprocess.run(
            [SYSTEM_PYTHON, str(HERE / "reader.py"), "--app", "jpki-kiosk"]
            + ["--until", "3 of 4 digits entered", "--timeout", "60"],
            env=session,
            capture_output=True,
            text=True,
            timeout=90,
        )
    finally:
        kiosk.terminate()
        kiosk.wait(timeout=30)
    tree = json.loads(read.stdout)
    nodes = tree["nodes"]
    assert tree["found"], read.stderr[-2000:] + json.dumps(nodes, ensure_ascii=False)[:2000]

    # Qt hands a checkable button (the language and display toggles) over as a check box
    buttons = [n for n in nodes if n["role"] in ("push button", "toggle button", "check box")]
    keys = [n for n in buttons if len(n["name"]) == 1 and n["name"].isdigit()]
    assert sorted(n["name"] for n in keys) == sorted("1234567890")
    assert {"Cancel", "OK", "Clear", "Delete", "English", "Larger text"} <= {
        n["name"] for n in buttons
    }
    assert all(n["name"].strip() for n in buttons), [n for n in buttons if not n["name"]]
    labels = [n for n in nodes if n["role"] == "label"]
    assert labels and all(n["name"].strip() for n in labels)
    assert "3 of 4 digits entered" in {n["name"] for n in labels}
    assert any("PIN" in n["name"] for n in labels)  # the title
    assert {n["description"] for n in buttons if n["name"] == "English"} == {
        "Show the screens in English"
    }
    for node in nodes:
        if node in keys or node["role"] == "application":  # its description: the program
            continue
        said = " ".join((node["name"], node["description"], node.get("text", "")))
        assert not any(digit in said for digit in TYPED), node
