"""Sound cues: the WAV files through ALSA's `aplay` when present, else the system beep.

PySide6-Essentials (what the kiosk installs) ships no QtMultimedia, so the cues are played by
`aplay` in the background; a machine without it falls back to QApplication.beep(). Every cue
is also on screen (take-your-card, warnings), so a silent kiosk loses nothing but the sound.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from contextlib import ExitStack
from importlib.resources import as_file
from pathlib import Path

from PySide6.QtWidgets import QApplication

from kiosk.ui import style

log = logging.getLogger(__name__)


class SoundPlayer:
    """Plays a named cue without blocking the GUI; `enabled=False` makes it silent."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self._aplay = shutil.which("aplay")
        # `aplay` needs a real file that outlives the call: an installed package is one already;
        # from a zip, as_file extracts a copy that lives as long as this player (until close()).
        self._files = ExitStack()
        self._paths: dict[str, Path] = {}
        self._playing: list[subprocess.Popen[bytes]] = []
        self.played: list[str] = []

    def play(self, cue: str) -> None:
        """Play `cue` (kiosk/resources/sounds/<cue>.wav) in the background."""
        self.played.append(cue)
        del self.played[:-20]
        if not self.enabled:
            return
        path = self._path(cue)
        self._playing = [p for p in self._playing if p.poll() is None]  # reap finished ones
        if self._aplay and path is not None and path.exists():
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

    def _path(self, cue: str) -> Path | None:
        """A file-system path of `cue`'s WAV, made once and kept while the player lives."""
        if cue not in self._paths:
            try:
                self._paths[cue] = self._files.enter_context(as_file(style.sound(cue)))
            except OSError as e:  # a cue the package does not carry: the beep stands in
                log.warning("no sound file for %s: %s", cue, e.strerror)
                return None
        return self._paths[cue]

    def close(self) -> None:
        """Let go of any extracted copies of the cues (none for an installed package)."""
        self._paths.clear()
        self._files.close()
