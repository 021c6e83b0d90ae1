"""Write the kiosk's sound cues (16-bit mono WAV) from plain sine tones; run to regenerate.

A tool of the source tree, not of the package: it writes into kiosk/resources/sounds/ of the
checkout it sits in (`python packaging/make_sounds.py`).
"""

from __future__ import annotations

import math
import struct
import wave
from pathlib import Path

RATE = 22050
#: cue → (frequency Hz, duration s) per tone; a short fade avoids clicks.
CUES = {
    "attention": [(880, 0.12), (0, 0.06), (880, 0.12)],
    "done": [(660, 0.10), (990, 0.18)],
    "error": [(330, 0.25), (0, 0.05), (262, 0.30)],
    "take_card": [(784, 0.15), (659, 0.15), (523, 0.15), (0, 0.10), (784, 0.15), (659, 0.15)],
}


def tone(freq: float, seconds: float, volume: float = 0.4) -> bytes:
    """Samples of one sine tone (silence for freq 0) with 10 ms fades."""
    count = int(RATE * seconds)
    fade = int(RATE * 0.01)
    out = bytearray()
    for i in range(count):
        gain = min(1.0, i / fade, (count - i) / fade) if fade else 1.0
        value = math.sin(2 * math.pi * freq * i / RATE) if freq else 0.0
        out += struct.pack("<h", int(32767 * volume * gain * value))
    return bytes(out)


def main() -> None:
    here = Path(__file__).resolve().parents[1] / "kiosk" / "resources" / "sounds"
    for name, tones in CUES.items():
        with wave.open(str(here / f"{name}.wav"), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(RATE)
            w.writeframes(b"".join(tone(f, s) for f, s in tones))


if __name__ == "__main__":
    main()
