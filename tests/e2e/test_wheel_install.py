"""The wheel works on its own: built from the checkout, installed into a fresh virtual
environment outside it, and run from a directory outside it.

Issue 15: a wheel used to carry no resources/, so the window failed with FileNotFoundError.
Here `python -m build` makes the sdist and, from the sdist, the wheel (so both must carry the
resources and the migrations); the wheel goes into a new venv under tmp_path with pip
`--no-deps`, and the venv reaches the already-installed third-party packages through a .pth
line naming this venv's site-packages (a .pth line only extends sys.path: the editable
install's finder in there stays inactive, so the checkout's `kiosk` cannot be imported). Then,
with the working directory in tmp_path: `kiosk --help`, `kiosk db upgrade`, and the kiosk
window built by `kiosk.app.start` on the offscreen platform, reading its theme, icons and
sounds from the installed package.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import sysconfig
import tarfile
import venv
from dataclasses import dataclass
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory

from kiosk.flow.machine import Sound
from kiosk.store.engine import alembic_config

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 120  # seconds per command: a bound, not a measurement

#: Run by the installed venv's python: starts the kiosk as `kiosk run` does, on a reader with
#: no card, and reports where its resources came from and whether they loaded.
WINDOW_CHECK = """
import json, sys, time
from importlib.resources import as_file
from pathlib import Path

from PySide6.QtSvgWidgets import QSvgWidget
from PySide6.QtWidgets import QApplication

import kiosk
from kiosk.app import start
from kiosk.card.reader import InProcessReader
from kiosk.config import load
from kiosk.flow.machine import Sound
from kiosk.ui import style

app = QApplication([])
running = start(load("kiosk.toml"), windowed=False, reader=InProcessReader())
window = running.window
deadline = time.monotonic() + 30
while not window.isVisible() and time.monotonic() < deadline:
    app.processEvents()
sounds = {}
for cue in Sound:
    with as_file(style.sound(cue)) as path:
        sounds[cue.value] = [str(path), path.is_file()]
icons = window.findChildren(QSvgWidget)
report = {
    "kiosk": kiosk.__file__,
    "resources": str(style.resources()),
    "visible": window.isVisible(),
    "stylesheet_is_theme": window.styleSheet() == style.theme("default") != "",
    "high_contrast": "QPushButton" in style.theme("high-contrast"),
    "icons": len(icons),
    "icons_valid": all(icon.renderer().isValid() for icon in icons),
    "sounds": sounds,
}
running.stop()
window.staff_exit()
print(json.dumps(report))
"""


@dataclass(frozen=True)
class Installed:
    """The venv the wheel went into, and how to run a command in it from outside the checkout."""

    prefix: Path
    workdir: Path
    env: dict[str, str]

    def run(self, *argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            argv,
            cwd=self.workdir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )


@pytest.fixture(scope="module")
def dists(tmp_path_factory) -> Path:
    """The sdist and the wheel, built from the checkout (the wheel from the sdist)."""
    out = tmp_path_factory.mktemp("dist")
    build = [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(ROOT)]
    done = subprocess.run(build, capture_output=True, text=True, timeout=TIMEOUT)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return out


@pytest.fixture(scope="module")
def installed(dists, test_pki, tmp_path_factory) -> Installed:
    """A fresh venv holding the wheel, with this venv's dependencies reachable through a .pth;
    its configuration names the test PKI's anchors and CRLs, so the kiosk starts for real."""
    base = tmp_path_factory.mktemp("installed")
    prefix = base / "venv"
    venv.create(prefix, with_pip=False, symlinks=True)
    python = prefix / "bin" / "python"
    (wheel,) = dists.glob("*.whl")
    pip = [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps"]
    done = subprocess.run([*pip, str(wheel)], capture_output=True, text=True, timeout=TIMEOUT)
    assert done.returncode == 0, done.stdout + done.stderr
    site = Path(
        subprocess.check_output(
            [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], text=True
        ).strip()
    )
    ours = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    (site / "project_dependencies.pth").write_text("\n".join(sorted(ours)) + "\n")
    workdir = base / "work"
    workdir.mkdir()
    (workdir / "kiosk.toml").write_text(
        f'data_dir = "{workdir / "var"}"\n'
        f'database_url = "sqlite:///{workdir / "kiosk.sqlite3"}"\n'
        f'trust_dir = "{test_pki.trust_dir}"\n'
        f'crl_dir = "{test_pki.crl_dir}"\n'
        "sound = true\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env |= {
        "VIRTUAL_ENV": str(prefix),
        "PATH": f"{prefix / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        "QT_QPA_PLATFORM": "offscreen",
    }
    env = {k: v for k, v in env.items() if not k.startswith("KIOSK_")}
    return Installed(prefix, workdir, env)


def test_the_sdist_carries_resources_and_migrations(dists):
    (sdist,) = dists.glob("*.tar.gz")
    with tarfile.open(sdist) as tar:
        names = {name.split("/", 1)[1] for name in tar.getnames() if "/" in name}
    for kind in ("themes/default.qss", "themes/high-contrast.qss", "icons/card.svg"):
        assert f"kiosk/resources/{kind}" in names
    assert {f"kiosk/resources/sounds/{cue}.wav" for cue in Sound} <= names
    assert "kiosk/store/migrations/env.py" in names
    shipped = {n for n in names if n.startswith("kiosk/store/migrations/versions/")}
    ours = {f"kiosk/store/migrations/versions/{p.name}" for p in _migrations()}
    assert ours <= shipped
    assert {"packaging/make_sounds.py", "packaging/kiosk.example.toml"} <= names  # MANIFEST.in


def test_the_venv_imports_the_wheel_not_the_checkout(installed):
    done = installed.run(
        "python",
        "-c",
        "import kiosk, importlib.resources as r; print(kiosk.__file__); "
        "print(r.files('kiosk.resources'))",
    )
    assert done.returncode == 0, done.stderr
    module, resources = (Path(line) for line in done.stdout.splitlines())
    assert module.is_relative_to(installed.prefix)
    assert resources.is_relative_to(installed.prefix)
    assert not module.is_relative_to(ROOT)


def test_kiosk_help_runs_from_the_wheel(installed):
    done = installed.run("kiosk", "--help")
    assert done.returncode == 0, done.stderr
    assert "run the kiosk" in done.stdout
    assert "manage the linkage store database" in done.stdout


def test_kiosk_db_upgrade_migrates_to_the_shipped_head(installed):
    done = installed.run("kiosk", "db", "upgrade", "--config", "kiosk.toml")
    assert done.returncode == 0, done.stderr
    assert "database schema is up to date" in done.stdout
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    with sqlite3.connect(installed.workdir / "kiosk.sqlite3") as db:
        (version,) = db.execute("SELECT version_num FROM alembic_version").fetchone()
    assert version == head


def test_the_kiosk_window_loads_theme_icons_and_sounds_from_the_package(installed):
    script = installed.workdir / "window_check.py"
    script.write_text(WINDOW_CHECK)
    done = installed.run("python", str(script))
    assert done.returncode == 0, done.stderr[-3000:]
    assert "ERROR" not in done.stderr, done.stderr[-3000:]  # the store, anchors and CRLs opened
    report = json.loads(done.stdout.splitlines()[-1])
    assert Path(report["kiosk"]).is_relative_to(installed.prefix)
    assert Path(report["resources"]).is_relative_to(installed.prefix)
    assert report["visible"]
    assert report["stylesheet_is_theme"]
    assert report["high_contrast"]
    assert report["icons"] > 0 and report["icons_valid"]
    assert set(report["sounds"]) == {cue.value for cue in Sound}
    for path, exists in report["sounds"].values():
        assert exists and Path(path).is_relative_to(installed.prefix)


def _migrations() -> list[Path]:
    return sorted((ROOT / "kiosk" / "store" / "migrations" / "versions").glob("0*.py"))
