"""Run by install-test-inside.sh with the installed venv's python: every PySide6 module the
installed kiosk package imports loads, i.e. the package's Depends bring every system library
those Qt modules link against (a missing one is an ImportError only when the module is first
imported: QtMultimedia, say, when spoken guidance first plays). Prints the modules; exits 1
naming each one that fails."""

from __future__ import annotations

import importlib
import re
import sys
from importlib.resources import files

IMPORTED = re.compile(r"\bPySide6\.(Qt\w+)|\bfrom PySide6 import ([\w, ]+)")


def modules_used() -> set[str]:
    """The PySide6 modules named in the kiosk package's source, as installed."""
    used: set[str] = set()
    stack = [files("kiosk")]
    while stack:
        node = stack.pop()
        if node.is_dir():
            stack.extend(node.iterdir())
        elif node.name.endswith(".py"):
            for dotted, listed in IMPORTED.findall(node.read_text(encoding="utf-8")):
                used.update([dotted] if dotted else [n.strip() for n in listed.split(",")])
    return {name for name in used if name.startswith("Qt")}


failures = []
used = sorted(modules_used())
for name in used:
    try:
        importlib.import_module(f"PySide6.{name}")
    except ImportError as e:
        failures.append(f"PySide6.{name}: {e}")
print("Qt modules: " + " ".join(used))
for failure in failures:
    print(failure)
sys.exit(1 if failures or not used else 0)
