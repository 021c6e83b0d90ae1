"""`kiosk doctor [--config FILE] [--json]`: check an installation, one line per check.

Each line is "ok", "FAIL" or "skip", the check's name, what it found, and for a failure what
to do (`kiosk.doctor`). The exit status is 1 when any check failed, so a monitoring job or an
installer's script can act on it; `--json` prints the findings as one JSON list of
{check, status, detail, remedy} instead.

This module builds the real probes — PC/SC through `kiosk.card.pcsc`, the platform through
its client, TCP connections, `fc-list`, Qt's audio outputs (`kiosk.ui.audio_devices`, in a
child process) — and hands them to the checks.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kiosk.card.connection import CardConnection
    from kiosk.config import Config

#: Seconds the platform has to answer the doctor's challenge request.
PLATFORM_TIMEOUT_S = 5.0
#: Seconds `fc-list` may take.
FC_LIST_TIMEOUT_S = 20.0
#: Seconds Qt may take to list the audio outputs (it starts, and asks the sound server).
AUDIO_TIMEOUT_S = 20.0
#: The kiosk session's runtime directory (jpki-kiosk.service's RuntimeDirectory), where its
#: sound server's socket is: asked when the doctor runs outside the session (over ssh).
SESSION_RUNTIME_DIR = "/run/jpki-kiosk"


def register(subparsers: Any) -> None:
    """Add the `doctor` command."""
    parser = subparsers.add_parser(
        "doctor", help="check this installation: configuration, reader, card, store, platform"
    )
    parser.add_argument("--config", help="configuration file (TOML)")
    parser.add_argument(
        "--json", action="store_true", help="print the findings as JSON (for monitoring)"
    )
    parser.set_defaults(func=doctor_command)


def doctor_command(args: argparse.Namespace) -> int:
    """Run every check; print the findings; 1 when any failed."""
    from kiosk import config, doctor, local
    from kiosk.clock import utc_now

    probes = doctor.Probes(
        readers=PcscReaders(),
        platform=ask_platform,
        tcp=tcp_connect,
        fonts=japanese_fonts,
        audio=audio_outputs,
        env=os.environ,
        now=utc_now,
        anchors=local.trust_store,
    )
    results = doctor.run(lambda: config.load(args.config), probes, args.config or "")
    if args.json:
        print(json.dumps([r.as_json() for r in results], ensure_ascii=False, indent=2))
    else:
        for result in results:
            print(result.line())
    return 1 if doctor.failed(results) else 0


class PcscReaders:
    """The doctor's `Readers` over the PC/SC adapter."""

    def reader_states(self) -> Mapping[str, bytes | None]:
        """Each reader with its card's ATR, or None."""
        from kiosk.card.pcsc import reader_states

        return reader_states()

    @contextmanager
    def open(self, reader: str) -> Iterator[CardConnection]:
        """The card in `reader`, in a transaction (a kiosk's session in progress finishes
        first); closing resets the card, as every kiosk connection does."""
        from kiosk.card.pcsc import connect

        with connect(reader) as connection, connection.transaction():
            yield connection


def ask_platform(cfg: Config) -> None:
    """Ask the platform for a challenge as this kiosk: an authenticated call that changes
    nothing there (a challenge is a signed token, kept nowhere)."""
    from kiosk.clock import utc_now
    from kiosk.platform.client import PlatformClient

    with PlatformClient(
        cfg.platform_url, cfg.platform_token, timeout_s=PLATFORM_TIMEOUT_S
    ) as client:
        client.issue(cfg.provider_id, cfg.terminal_id, utc_now())


def tcp_connect(host: str, port: int, timeout_s: float) -> None:
    """Open and close a TCP connection; OSError when it cannot be made in time."""
    with socket.create_connection((host, port), timeout=timeout_s):
        pass


def japanese_fonts() -> Sequence[str] | None:
    """The families with Japanese glyphs: fontconfig's (`fc-list :lang=ja family`), else,
    without the `fc-list` tool, Qt's font database; None when neither can list them."""
    try:
        listed = subprocess.run(
            ["fc-list", ":lang=ja", "family"],
            capture_output=True,
            text=True,
            timeout=FC_LIST_TIMEOUT_S,
            check=True,
        )
    except FileNotFoundError:
        return qt_japanese_fonts()
    except (OSError, subprocess.SubprocessError):
        return None
    return [line.split(",")[0].strip() for line in listed.stdout.splitlines() if line.strip()]


def qt_japanese_fonts() -> Sequence[str] | None:
    """Qt's families with Japanese glyphs; None when Qt itself cannot start."""
    try:
        from kiosk.ui.font_families import japanese_families

        return japanese_families()
    except (ImportError, RuntimeError):
        return None


def audio_outputs() -> Sequence[str]:
    """The audio outputs Qt sees, asked by a child process (`python -m kiosk.ui.audio_devices`)
    with this environment: the sound server of $PULSE_SERVER or $XDG_RUNTIME_DIR, else the kiosk
    session's (/run/jpki-kiosk), as `sudo -u kiosk kiosk doctor` over ssh has neither.
    AudioUnavailable when Qt does not start or answer."""
    from kiosk.doctor import AudioUnavailable

    env = audio_environment(os.environ)
    try:
        listed = subprocess.run(
            [sys.executable, "-m", "kiosk.ui.audio_devices"],
            capture_output=True,
            text=True,
            timeout=AUDIO_TIMEOUT_S,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired as e:
        raise AudioUnavailable(f"Qt did not answer within {AUDIO_TIMEOUT_S:g} s") from e
    except OSError as e:
        raise AudioUnavailable(f"Qt could not be started: {e.strerror}") from e
    lines = listed.stdout.strip().splitlines()
    try:
        found = json.loads(lines[-1]) if listed.returncode == 0 and lines else None
    except ValueError:
        found = None
    if not isinstance(found, list):
        why = (listed.stderr.strip().splitlines() or [f"status {listed.returncode}"])[-1]
        raise AudioUnavailable(f"Qt's audio could not be asked: {why}")
    return [str(name) for name in found]


def audio_environment(env: Mapping[str, str]) -> dict[str, str]:
    """`env` for the audio probe: unchanged when it names a sound server (PULSE_SERVER, or a
    socket in XDG_RUNTIME_DIR); else pointed at the kiosk session's server when it runs."""
    probe = dict(env)
    runtime = env.get("XDG_RUNTIME_DIR", "")
    if env.get("PULSE_SERVER") or (runtime and os.path.exists(f"{runtime}/pulse/native")):
        return probe
    session = f"{SESSION_RUNTIME_DIR}/pulse/native"
    if os.path.exists(session):
        probe["PULSE_SERVER"] = f"unix:{session}"
    return probe
