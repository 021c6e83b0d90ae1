"""Spoken guidance reaches a sound server as the installed kiosk's session runs it (issue 17).

The kiosk session starts its own PulseAudio through packaging/sound/with-sound-server; here the
same wrapper starts it unprivileged in a temporary XDG_RUNTIME_DIR with a null sink standing in
for the speaker or handset (tests/sound_support.py). Then, each in a process of its own (Qt's
audio stack is made once a process, for the server the environment names):
  - Qt sees the output, and `QtGuidancePlayer`, the kiosk's real player, plays a guidance WAV
    through it to the end; the null sink's monitor records what it played: the prompt, not
    silence;
  - `kiosk doctor`'s audio probe finds the output, and with no output (a server without a
    sink) or no server the audio check fails with what to do;
  - the wrapper stops the server when its command ends and passes on the command's status;
    without pulseaudio it runs the command anyway (silent), saying why.
"""

from __future__ import annotations

import array
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sound_support import SINK, SINK_DESCRIPTION, WRAPPER, SoundServer, running_sound_server

from kiosk import config
from kiosk.commands.doctor import audio_outputs
from kiosk.doctor import Status, check_audio

pytestmark = pytest.mark.e2e

PROMPT = "pin.count.1"  # a short one: about 2.1 s
CHILD_TIMEOUT_S = 60
#: A 16-bit sample above this is sound, not the null sink's silence (the prompt peaks far above).
LOUD = 1000

#: The kiosk's player in a child process: the outputs Qt sees, then one prompt played through
#: `QtGuidancePlayer` until the end of the media (or a timeout), as JSON on the last line.
PLAY = """
import json, sys
from PySide6.QtCore import QCoreApplication, QTimer
from PySide6.QtMultimedia import QMediaPlayer
from kiosk.ui.audio_devices import audio_outputs
from kiosk.ui.guidance import QtGuidancePlayer, speech

app = QCoreApplication(["guidance-sound-test"])
outputs = audio_outputs()
player = QtGuidancePlayer()
seen = {"outputs": outputs, "states": [], "statuses": [], "errors": []}
player.play(speech("ja", sys.argv[1]))
media = player._player  # made by the first play
seen["states"].append(media.playbackState().name)
media.playbackStateChanged.connect(lambda s: seen["states"].append(s.name))
media.errorOccurred.connect(lambda e, m: seen["errors"].append(m))

def status(s):
    seen["statuses"].append(s.name)
    if s == QMediaPlayer.MediaStatus.EndOfMedia:
        seen["duration_ms"] = media.duration()
        app.quit()

media.mediaStatusChanged.connect(status)
QTimer.singleShot(int(sys.argv[2]) * 1000, app.quit)
app.exec()
player.close()
print(json.dumps(seen))
"""


def child_env(server: SoundServer | None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PULSE_SERVER", "XDG_RUNTIME_DIR")}
    env.update(server.env if server else {}, **extra)
    return env


def record(server: SoundServer) -> subprocess.Popen[bytes]:
    """What the null sink plays, from its monitor: 16-bit mono at 16 kHz, raw, on stdout."""
    return subprocess.Popen(
        ["parec", f"--device={SINK}.monitor", "--raw", "--format=s16le"]
        + ["--channels=1", "--rate=16000", "--latency-msec=50"],
        env=child_env(server),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def test_qt_sees_the_sound_server_and_the_guidance_plays_through_it(sound_server) -> None:
    recorder = record(sound_server)
    time.sleep(0.5)  # the recording stream is connected before the prompt starts
    played = subprocess.run(
        [sys.executable, "-c", PLAY, PROMPT, str(CHILD_TIMEOUT_S // 2)],
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT_S,
        env=child_env(sound_server, QT_QPA_PLATFORM="offscreen"),
        check=False,
    )
    time.sleep(0.3)
    recorder.terminate()
    audio, _ = recorder.communicate(timeout=10)
    assert played.returncode == 0, played.stderr[-2000:]
    seen = json.loads(played.stdout.strip().splitlines()[-1])
    assert seen["outputs"] and seen["outputs"][0] == SINK_DESCRIPTION, seen
    assert seen["errors"] == [], seen
    assert "PlayingState" in seen["states"], seen
    assert "EndOfMedia" in seen["statuses"], seen  # (close() then stops it: LoadedMedia)
    assert 1500 <= seen["duration_ms"] <= 4000, seen  # the prompt: about 2.1 s
    samples = array.array("h", audio[: len(audio) // 2 * 2])
    assert len(samples) > 16000, "at least a second of the sink's output was recorded"
    loud = sum(1 for s in samples if abs(s) > LOUD)
    assert loud > 1600, f"the sink played silence ({loud} loud samples of {len(samples)})"


def write_config(tmp_path: Path, text: str) -> config.Config:
    path = tmp_path / "kiosk.toml"
    path.write_text(text, encoding="utf-8")
    return config.load(path, env={})


def test_the_doctor_finds_the_output_and_fails_without_one(
    sound_server, tmp_path, monkeypatch
) -> None:
    cfg = write_config(tmp_path, 'audio_output = "handset"\n')
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    monkeypatch.setenv("PULSE_SERVER", sound_server.env["PULSE_SERVER"])
    found = check_audio(cfg, audio_outputs)
    assert found.status is Status.OK, found.line()
    assert found.detail.startswith(SINK_DESCRIPTION)

    with running_sound_server(null_sink=False) as no_sink:
        monkeypatch.setenv("PULSE_SERVER", no_sink.env["PULSE_SERVER"])
        silent = check_audio(cfg, audio_outputs)
    assert silent.status is Status.FAIL, silent.line()
    assert silent.detail.startswith("no audio output")
    assert "is the sound server running" in silent.remedy

    monkeypatch.setenv("PULSE_SERVER", f"unix:{tmp_path / 'no-server'}")
    nobody_there = check_audio(cfg, audio_outputs)
    assert nobody_there.status is Status.FAIL and "no audio output" in nobody_there.detail


def test_the_wrapper_stops_the_server_with_its_command(tmp_path) -> None:
    """The wrapped command sees the server (its socket answers pactl), ends with status 3; the
    wrapper then stops the server (its socket is gone) and exits with 3."""
    command = 'pactl info >/dev/null && test -S "$XDG_RUNTIME_DIR/pulse/native" && exit 3'
    with running_sound_server(command=command) as server:
        status = server.process.wait(timeout=30)
        err = server.process.stderr.read() if server.process.stderr else ""
        assert status == 3, err
        assert not server.socket.exists(), "the server outlived the command"


def test_without_pulseaudio_the_wrapper_runs_the_command_silently(tmp_path) -> None:
    """A kiosk without the server still runs (silent; the doctor says so): the wrapper says why
    and passes the command's status on. Without XDG_RUNTIME_DIR it refuses to start."""
    wrapper = str(WRAPPER)
    env = {"PATH": str(tmp_path), "XDG_RUNTIME_DIR": str(tmp_path)}  # no pulseaudio on it
    done = subprocess.run(
        ["/bin/sh", wrapper, "/bin/sh", "-c", "exit 4"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 4, done.stderr
    assert "pulseaudio is not installed: the kiosk will be silent" in done.stderr
    unset = subprocess.run(
        ["/bin/sh", wrapper, "/bin/true"],
        env={"PATH": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert unset.returncode != 0 and "XDG_RUNTIME_DIR" in unset.stderr
