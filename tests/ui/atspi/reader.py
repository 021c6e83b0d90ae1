"""Read the kiosk's accessibility tree through AT-SPI, as Orca would, and print it as JSON.

Run with Debian's /usr/bin/python3 (pyatspi is a Debian package, not in the venv) on the
kiosk's session bus. It waits, up to --timeout seconds, for the application named --app to
show an object named --until, then prints every showing object of that application: role,
name, description and, where it has one, its text.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import pyatspi


def showing_nodes(root):
    """Every object under `root` that is on screen (depth first)."""
    found = []
    stack = [root]
    while stack:
        node = stack.pop()
        try:
            states = node.getState()
            if node is not root and not states.contains(pyatspi.STATE_SHOWING):
                continue
            found.append(node)
            stack.extend(node[i] for i in range(node.childCount - 1, -1, -1))
        except Exception:  # noqa: BLE001 - an object that went away while walking
            continue
    return found


def describe(node):
    entry = {
        "role": node.getRoleName(),
        "name": node.name or "",
        "description": node.description or "",
    }
    try:
        text = node.queryText()
        entry["text"] = text.getText(0, text.characterCount)
    except NotImplementedError:
        pass
    return entry


def find_app(name):
    desktop = pyatspi.Registry.getDesktop(0)
    for i in range(desktop.childCount):
        app = desktop[i]
        if app is not None and app.name == name:
            return app
    return None


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--app", required=True)
    parser.add_argument("--until", required=True, help="the name of an object to wait for")
    parser.add_argument("--timeout", type=float, default=30.0)
    args = parser.parse_args()
    deadline = time.monotonic() + args.timeout
    nodes = []
    while time.monotonic() < deadline:
        app = find_app(args.app)
        if app is not None:
            nodes = [describe(n) for n in showing_nodes(app)]
            if any(n["name"] == args.until for n in nodes):
                json.dump({"found": True, "nodes": nodes}, sys.stdout, ensure_ascii=False)
                return 0
        time.sleep(0.2)  # polling the bus, bounded by the deadline
    json.dump({"found": False, "nodes": nodes}, sys.stdout, ensure_ascii=False)
    return 1


if __name__ == "__main__":
    sys.exit(main())
