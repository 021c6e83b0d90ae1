"""The audio outputs Qt would play the spoken guidance to: `kiosk doctor`'s audio check.

Qt Multimedia asks the sound server (PulseAudio's protocol, at $XDG_RUNTIME_DIR/pulse/native
or $PULSE_SERVER) for its outputs, as the kiosk's `QtGuidancePlayer` does when it first plays.
No window is needed: a QCoreApplication is enough. `kiosk doctor` runs this module as a child
process (`python -m kiosk.ui.audio_devices`, which prints the outputs as a JSON list), so the
audio stack is loaded in a process of its own, with the environment the doctor gives it, and a
sound server that hangs costs a timeout, not the doctor.
"""

from __future__ import annotations

import json

from PySide6.QtCore import QCoreApplication
from PySide6.QtMultimedia import QMediaDevices


def audio_outputs() -> list[str]:
    """The descriptions of the audio outputs Qt sees, the default one first (empty: none).
    Starts a QCoreApplication when no application is running."""
    if QCoreApplication.instance() is None:
        QCoreApplication(["kiosk-doctor"])
    default = QMediaDevices.defaultAudioOutput()
    outputs = QMediaDevices.audioOutputs()
    ordered = sorted(outputs, key=lambda device: device.id() != default.id())
    return [device.description() for device in ordered]


def main() -> None:
    print(json.dumps(audio_outputs(), ensure_ascii=False))


if __name__ == "__main__":
    main()
