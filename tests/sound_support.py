"""A sound server for the tests: the kiosk session's own (packaging/sound/with-sound-server,
Debian's PulseAudio), started unprivileged in a temporary XDG_RUNTIME_DIR with a null sink.

`running_sound_server()` runs the shipped wrapper exactly as jpki-kiosk.service does, around
a command that loads a null sink (`pactl load-module module-null-sink`, an output that plays
into nothing, so no speaker is needed) and then waits; leaving it stops the command and, with
it, the server (the wrapper's doing). As root the server runs as `nobody`. The tests' Qt
clients reach it through PULSE_SERVER (`SoundServer.env`). Without the pulseaudio binary the
test skips with the reason (`make system-deps` installs it); in CI an e2e skip fails the run.

Loaded as a plugin by tests/conftest.py: the fixture `sound_server` is one such server, with
the null sink, for one test.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

WRAPPER = Path(__file__).resolve().parents[1] / "packaging" / "sound" / "with-sound-server"
#: The null sink's name and what Qt calls it (its description).
SINK = "handset"
SINK_DESCRIPTION = "Test-handset"  # no space: a module argument
START_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 15.0


@dataclass(frozen=True)
class SoundServer:
    """A running server: its runtime directory, socket, and the wrapper's process."""

    runtime_dir: Path
    process: subprocess.Popen[str]

    @property
    def socket(self) -> Path:
        return self.runtime_dir / "pulse" / "native"

    @property
    def env(self) -> dict[str, str]:
        """What a client (a Qt process) needs to reach this server."""
        return {"PULSE_SERVER": f"unix:{self.socket}"}


def require_pulseaudio() -> None:
    """Skip the test, saying why, when the server or its command-line client is missing."""
    for tool in ("pulseaudio", "pactl"):
        if shutil.which(tool) is None:
            pytest.skip(
                f"{tool} is not installed (Debian's pulseaudio, pulseaudio-utils: make system-deps)"
            )


def _unprivileged() -> tuple[list[str], int | None, int | None]:
    """The prefix that drops root to `nobody` (none when not root), and its uid and gid."""
    if os.geteuid() != 0:
        return [], None, None
    nobody = pwd.getpwnam("nobody")
    prefix = [
        "setpriv",
        f"--reuid={nobody.pw_uid}",
        f"--regid={nobody.pw_gid}",
        "--clear-groups",
        "--",
    ]
    return prefix, nobody.pw_uid, nobody.pw_gid


@contextmanager
def running_sound_server(*, null_sink: bool = True, command: str = "") -> Iterator[SoundServer]:
    """The shipped wrapper with PulseAudio in a temporary runtime directory, unprivileged,
    around a command that loads the null sink (unless `null_sink` is false) and waits; or
    around `command` (a shell command line), for a test that watches the wrapper itself."""
    require_pulseaudio()
    base = Path(tempfile.mkdtemp(prefix="kiosk-sound-"))
    prefix, uid, gid = _unprivileged()
    try:
        # The wrapper as shipped, copied where `nobody` can read it (a checkout may not be).
        wrapper = base / "with-sound-server"
        shutil.copy(WRAPPER, wrapper)
        wrapper.chmod(0o755)
        runtime = base / "run"
        runtime.mkdir(mode=0o700)
        if uid is not None and gid is not None:
            os.chown(base, uid, gid)
            os.chown(runtime, uid, gid)
        ready = base / "ready"
        load = (
            f"pactl load-module module-null-sink sink_name={SINK} "
            f"sink_properties=device.description={SINK_DESCRIPTION} >/dev/null && "
            if null_sink
            else ""
        )
        # `sleep` in the background and `wait`, so the shell runs its TERM trap at once.
        script = command or (
            f'{load}touch "{ready}" || exit 1; '
            "sleep 3600 & s=$!; trap 'kill $s; exit 0' TERM; wait $s"
        )
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(base),
            "XDG_RUNTIME_DIR": str(runtime),
            "LANG": "C.UTF-8",
        }
        process = subprocess.Popen(
            [*prefix, str(wrapper), "/bin/sh", "-c", script],
            env=env,
            cwd=base,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        server = SoundServer(runtime, process)
        try:
            if not command:
                _wait_ready(server, ready)
            yield server
        finally:
            stop(server)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _wait_ready(server: SoundServer, ready: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while not ready.exists():
        if server.process.poll() is not None:
            out, err = server.process.communicate()
            pytest.fail(f"the sound server wrapper exited ({server.process.returncode}): {err}")
        if time.monotonic() > deadline:
            pytest.fail(f"no null sink on the sound server within {START_TIMEOUT_S:g} s")
        time.sleep(0.05)


def stop(server: SoundServer) -> None:
    """TERM the wrapper, as systemd stops the unit; it stops its command and the server."""
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGTERM)
    try:
        server.process.communicate(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.communicate()


@pytest.fixture
def sound_server() -> Iterator[SoundServer]:
    """A running sound server with a null sink, for one test."""
    with running_sound_server() as server:
        yield server
