"""`kiosk doctor` as an installer runs it: the command in its own process, over the real pcscd
with the virtual card in the vpcd reader, a store migrated by `kiosk db upgrade`, the test
PKI's anchors and CRLs, a network printer, a reception drop directory, and a sound server with
an output (the kiosk session's own, with a null sink: tests/sound_support.py)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.reader]

COMMAND_TIMEOUT_S = 120


@pytest.fixture
def printer_port() -> Iterator[int]:
    """A port on 127.0.0.1 that accepts connections, as a network receipt printer does."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server.getsockname()[1]


def kiosk(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`kiosk ARGV…` in a fresh process, its output captured."""
    return subprocess.run(
        [sys.executable, "-m", "kiosk.cli", *argv],
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_S,
        env=env,
        check=False,
    )


def installed(tmp_path: Path, test_pki, reader_name: str, printer_port: int) -> Path:
    """A configuration as an installer writes it, and its store created by `kiosk db upgrade`."""
    drop = tmp_path / "reception"
    drop.mkdir()
    path = tmp_path / "kiosk.toml"
    path.write_text(
        f'data_dir = "{tmp_path / "data"}"\n'
        f'trust_dir = "{test_pki.trust_dir}"\n'
        f'crl_dir = "{test_pki.crl_dir}"\n'
        f'reader = "{reader_name}"\n'
        "[receipt]\n"
        f'printer = "network"\nhost = "127.0.0.1"\nport = {printer_port}\n'
        "[reception]\n"
        f'delivery = "file"\ndirectory = "{drop}"\n'
    )
    upgraded = kiosk("db", "upgrade", "--config", str(path))
    assert upgraded.returncode == 0, upgraded.stderr
    return path


def offscreen() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["QT_QPA_PLATFORM"] = "offscreen"
    return env


def test_every_check_passes_with_the_virtual_card_inserted(
    inserted_card, reader_name, test_pki, tmp_path, printer_port, sound_server
) -> None:
    path = installed(tmp_path, test_pki, reader_name, printer_port)
    done = kiosk("doctor", "--config", str(path), env=offscreen() | sound_server.env)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert not [line for line in lines if line.startswith("FAIL")]
    found = {line.split()[1]: line for line in lines}
    assert found["card"].startswith("ok") and "JPKIAPICCTOKEN2" in found["card"]
    assert reader_name in found["readers"]
    for check in ("config", "pcscd", "trust_anchors", "crl", "database", "printer", "reception"):
        assert found[check].startswith("ok"), found[check]
    assert found["display"].startswith("ok") and "offscreen" in found["display"]
    assert found["platform"].startswith("skip")  # a local verifier uses none
    assert found["audio"].startswith("ok"), found["audio"]

    as_json = kiosk("doctor", "--config", str(path), "--json", env=offscreen() | sound_server.env)
    assert as_json.returncode == 0, as_json.stderr
    statuses = {f["check"]: f["status"] for f in json.loads(as_json.stdout)}
    assert statuses["card"] == "ok" and "FAIL" not in statuses.values()


def test_without_a_card_the_card_check_skips(
    reader_name, test_pki, tmp_path, printer_port, sound_server
) -> None:
    path = installed(tmp_path, test_pki, reader_name, printer_port)
    done = kiosk("doctor", "--config", str(path), env=offscreen() | sound_server.env)
    assert done.returncode == 0, done.stdout + done.stderr
    card = next(line for line in done.stdout.splitlines() if line.split()[1] == "card")
    assert card.startswith("skip") and "no card inserted" in card


def test_a_broken_configuration_names_the_key_without_a_traceback(reader_name, tmp_path) -> None:
    path = tmp_path / "kiosk.toml"
    path.write_text('verification = "local"\nchallenge_ttl_s = "two minutes"\n')
    done = kiosk("doctor", "--config", str(path), env=offscreen())
    assert done.returncode != 0
    first = done.stdout.splitlines()[0]
    assert first.startswith("FAIL  config") and "challenge_ttl_s" in first
    assert "Traceback" not in done.stdout + done.stderr
    pcscd = next(line for line in done.stdout.splitlines() if line.split()[1] == "pcscd")
    assert pcscd.startswith("ok")  # the checks that need no configuration still run
