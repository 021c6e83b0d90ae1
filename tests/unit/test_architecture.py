"""The import contracts in pyproject.toml hold, so `pytest` alone enforces the layers.

`make lint` runs lint-imports too; running it here means a change that breaks a layer fails
the tests a developer runs anyway, not only the lint step.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import kiosk

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = Path(kiosk.__file__).parent


def contracts() -> list[dict]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return config["tool"]["importlinter"]["contracts"]


def contract(contract_id: str) -> dict:
    return next(c for c in contracts() if c.get("id") == contract_id)


def top_level_modules() -> set[str]:
    """kiosk's subpackages and modules (kiosk.flow, kiosk.clock, ...)."""
    names = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    names |= {p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    return {f"kiosk.{name}" for name in names}


def test_every_import_contract_is_kept() -> None:
    # in a child process: importlinter configures logging, which would disable the loggers
    # other tests read (caplog) if it ran in this one
    lint = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run(  # noqa: S603 - our own venv's script, fixed arguments
        [str(lint), "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_module_of_the_package_has_a_layer() -> None:
    """A new top-level module must be given its place: one outside the list is unchecked."""
    layered = {name.strip() for layer in contract("layers")["layers"] for name in layer.split("|")}
    assert top_level_modules() - layered == set()
    assert layered - top_level_modules() == set()  # and the list names no module that is gone


def test_the_flow_may_not_import_the_card_jpki_pki_or_verify_layers() -> None:
    pure = contract("pure-flow")
    assert pure["source_modules"] == ["kiosk.flow"]
    assert {"kiosk.card", "kiosk.jpki", "kiosk.pki", "kiosk.verify"} <= set(
        pure["forbidden_modules"]
    )
