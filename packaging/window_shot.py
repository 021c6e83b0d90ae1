"""Run `kiosk run` in a real window on the current X display and save a screenshot of it.

Used by `kiosk demo` when there is no display (under xvfb-run): it shows the real kiosk
window talking to the real PC/SC stack, with the card the demo inserted.

    python packaging/window_shot.py --config var/demo/kiosk.toml --out var/demo/screenshots
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path


def _settle(app: object, seconds: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and (proc is None or proc.poll() is None):
        app.processEvents()  # type: ignore[attr-defined]
        time.sleep(0.1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--settle", type=float, default=4.0, help="seconds to let it start")
    args = parser.parse_args(argv)

    from PySide6.QtGui import QGuiApplication

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    kiosk = subprocess.Popen([sys.executable, "-m", "kiosk.cli", "run", "--config", args.config])
    try:
        app = QGuiApplication(sys.argv[:1])
        _settle(app, args.settle, kiosk)
        if kiosk.poll() is not None:
            print(f"kiosk run exited early with code {kiosk.returncode}", file=sys.stderr)
            return 1
        screen = app.primaryScreen()
        shots = [out / "window-over-pcsc-1-attract.png"]
        screen.grabWindow(0).save(str(shots[0]))
        if shutil.which("xdotool"):
            # Touch the start button, then the demo clinic's second service (the insurance
            # check): the kiosk finds the card in the reader through pcscd, and the PIN pad
            # shows the retries it read from the card.
            size = screen.geometry()
            taps = (
                ("2-services", (size.width() // 2, int(size.height() * 0.8))),
                ("3-pin", (size.width() // 2, int(size.height() * 0.52))),
            )
            for name, (x, y) in taps:
                subprocess.run(["xdotool", "mousemove", str(x), str(y), "click", "1"], check=False)
                _settle(app, 1.5)
                shots.append(out / f"window-over-pcsc-{name}.png")
                screen.grabWindow(0).save(str(shots[-1]))
        for shot in shots:
            print(f"the real kiosk window over PC/SC with the virtual card: {shot}")
        return 0
    finally:
        kiosk.terminate()
        try:
            kiosk.wait(timeout=10)
        except subprocess.TimeoutExpired:
            kiosk.kill()


if __name__ == "__main__":
    sys.exit(main())
