"""Sound cues: the WAV files through ALSA's `aplay` when present, else the system beep.

PySide6-Essentials (what the kiosk installs) ships no QtMultimedia, so the cues are played by
`aplay` in the background; a machine without it falls back to QApplication.beep(). Every cue
is also on screen (take-your-card, warnings), so a silent kiosk loses nothing but the sound.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from pathlib import Path

from PySide6.QtWidgets import QApplication

from kiosk.ui.style import RESOURCES, sound_path

log = logging.getLogger(__name__)


class SoundPlayer:
    """Plays a named cue without blocking the GUI; `enabled=False` makes it silent."""

    def __init__(self, enabled: bool = True, resources: Path = RESOURCES) -> None:
        self.enabled = enabled
        self._resources = resources
        self._aplay = shutil.which("aplay")
        self._playing: list[subprocess.Popen[bytes]] = []
        self.played: list[str] = []

    def play(self, cue: str) -> None:
        """Play `cue` (resources/sounds/<cue>.wav) in the background."""
        self.played.append(cue)
        del self.played[:-20]
        if not self.enabled:
            return
        path = sound_path(cue, self._resources)
        self._playing = [p for p in self._playing if p.poll() is None]  # reap finished ones
        if self._aplay and path.exists():
            try:
                player = subprocess.Popen(  # fixed program, our own file
                    [self._aplay, "-q", str(path)],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            except OSError as e:
                log.warning("cannot play sound %s: %s", cue, e.strerror)
            else:
                self._playing.append(player)
                return
        QApplication.beep()
