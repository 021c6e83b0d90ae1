"""GUI benchmark: cold start of the kiosk to its attract screen, and the kiosk's peak RSS.

Run: .venv/bin/python bench/gui_bench.py [--runs 5] [--write]

Each run starts a fresh interpreter (QT_QPA_PLATFORM=offscreen) that starts the kiosk as
`kiosk run` does (`kiosk.app.start`: configuration, the flow, the window and every page; the
store, trust anchors and CRLs open just after the attract screen is up) and reports when the
attract screen is exposed; it then waits for the store so that its memory counts too.
The baseline, measured in the same run, is a bare PySide6 window with one label: the part of
the start-up that is Python and Qt themselves. Peak RSS is the child's (`wait4`), so the
parent's memory never counts. Targets: < 1.5 s and < 250 MB.
`--write` replaces the "## GUI" section of bench/RESULTS.md with the figures.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_S = 1.5
TARGET_MB = 250


def when(condition: Callable[[], bool], then: Callable[[], None]) -> None:
    """Call `then` from the event loop as soon as `condition` holds (checked every 1 ms)."""
    from PySide6.QtCore import QTimer

    timer = QTimer()
    timer.setInterval(1)

    def check() -> None:
        if condition():
            timer.stop()
            then()

    timer.timeout.connect(check)
    timer.start()
    _timers.append(timer)


_timers: list[object] = []


def ready() -> None:
    print("READY", flush=True)


def child_kiosk(config_path: str) -> None:
    """Start the kiosk as `kiosk run` does; print READY when the attract screen shows."""
    from PySide6.QtWidgets import QApplication

    app = QApplication([])
    from kiosk import config
    from kiosk.app import start
    from kiosk.card.reader import InProcessReader

    # The reader is in-process: PC/SC starts on its own thread and is no part of this cost.
    kiosk = start(config.load(config_path), windowed=False, reader=InProcessReader())
    window, state = kiosk.window, kiosk.controller.state

    def shown() -> bool:
        return window.isVisible() and window.current_page() is window.pages[state.screen]

    def then_wait_for_the_store() -> None:
        ready()
        when(lambda: bool(kiosk.closers), lambda: app.exit(0))  # the store counts in the peak

    when(shown, then_wait_for_the_store)
    app.exec()  # exit(), not quit(): quit() asks the windows to close, and the kiosk refuses
    kiosk.stop()


def child_baseline() -> None:
    """A bare PySide6 window with one Japanese label, full screen."""
    from PySide6.QtWidgets import QApplication, QLabel

    app = QApplication([])
    label = QLabel("マイナンバーカードで手続き")
    label.showFullScreen()
    when(label.isVisible, lambda: (ready(), app.exit(0)))
    app.exec()


def measure(args: list[str]) -> tuple[float, float]:
    """Seconds from spawn to READY, and the child's peak RSS in MB."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    start = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, __file__, *args], stdout=subprocess.PIPE, text=True, env=env
    )
    assert child.stdout is not None
    line = child.stdout.readline()
    elapsed = time.perf_counter() - start
    child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    if not line.startswith("READY") or os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"child {args} failed: {line!r}")
    return elapsed, usage.ru_maxrss / 1024


def prepare(directory: Path) -> Path:
    """A TEST PKI and a kiosk configuration using it (local verification, SQLite)."""
    from kiosk.pki.authority import init_pki

    pki = init_pki(directory / "pki")
    config_path = directory / "kiosk.toml"
    config_path.write_text(
        f'data_dir = "{directory}"\ntrust_dir = "{pki.trust_dir}"\ncrl_dir = "{pki.crl_dir}"\n',
        encoding="utf-8",
    )
    return config_path


def report(runs: int) -> str:
    """Measure both, `runs` times each, and return the RESULTS.md section."""
    sys.path.insert(0, str(ROOT))
    with tempfile.TemporaryDirectory() as tmp:
        config_path = prepare(Path(tmp))
        measure(["--child-kiosk", str(config_path)])  # first run creates the database
        kiosk = [measure(["--child-kiosk", str(config_path)]) for _ in range(runs)]
        base = [measure(["--child-baseline"]) for _ in range(runs)]

    def line(name: str, figures: list[tuple[float, float]]) -> str:
        seconds = [s for s, _ in figures]
        rss = max(mb for _, mb in figures)
        return (
            f"| {name} | {statistics.median(seconds):.2f} s | {max(seconds):.2f} s | {rss:.0f} MB |"
        )

    kiosk_s = statistics.median(s for s, _ in kiosk)
    kiosk_mb = max(mb for _, mb in kiosk)
    verdict = "met" if kiosk_s < TARGET_S and kiosk_mb < TARGET_MB else "NOT met"
    return "\n".join(
        [
            "## GUI",
            "",
            f"`.venv/bin/python bench/gui_bench.py --runs {runs}` on {platform.machine()}, "
            f"{os.cpu_count()} CPUs, Python {platform.python_version()}, offscreen Qt; "
            f"{time.strftime('%Y-%m-%d')}.",
            "",
            "| start-up to the first screen | median | worst | peak RSS |",
            "|---|---|---|---|",
            line("kiosk.app.start → attract screen (the store opens just after)", kiosk),
            line("baseline: bare PySide6 window with one label", base),
            "",
            f"Targets < {TARGET_S} s and < {TARGET_MB} MB: {verdict}. The kiosk's own share "
            f"is the difference to the baseline.",
            "",
        ]
    )


def write_section(section: str, path: Path = ROOT / "bench" / "RESULTS.md") -> None:
    """Replace (or add) the "## GUI" section of RESULTS.md, keeping the others."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmark results\n\n"
    start = text.find("## GUI\n")
    if start < 0:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        end = text.find("\n## ", start + 1)
        rest = "" if end < 0 else "\n" + text[end + 1 :]
        text = text[:start] + section.rstrip("\n") + "\n" + rest
    path.write_text(text, encoding="utf-8")


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child-kiosk":
        sys.path.insert(0, str(ROOT))
        child_kiosk(sys.argv[2])
        return 0
    if len(sys.argv) > 1 and sys.argv[1] == "--child-baseline":
        child_baseline()
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    args = parser.parse_args()
    section = report(args.runs)
    print(section)
    if args.write:
        write_section(section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
