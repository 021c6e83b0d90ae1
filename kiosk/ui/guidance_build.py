"""Build-time generator of the spoken guidance's audio (`make speech`); never run by the kiosk.

    python -m kiosk.ui.guidance_build [--all] [--check] [--voice PATH]

Every prompt of kiosk.ui.guidance_texts is synthesised in each of the kiosk's languages by
real synthesisers that the setup installs (packaging/setup/system-deps.sh):

- Japanese and やさしい日本語: Debian's Open JTalk (`open_jtalk`) with Debian's NAIST
  dictionary and the HTS voice "Mei" (mei_normal.htsvoice, CC BY 3.0), which Debian does not
  package. The voice ships inside pyopenjtalk's source distribution (there is no wheel for
  CPython 3.11 on Linux); this script has pip download that archive, checks its hash and
  reads the one voice file out of it. Nothing is compiled and nothing is installed.
- English: Debian's espeak-ng.

sox turns each into a 16 kHz mono WAV coded as IMA ADPCM (4 bits a sample: a quarter of the
size of plain PCM, still a WAV that Qt's multimedia module plays) under
kiosk/resources/speech/<language>/<prompt-id>.wav. manifest.json beside them records, for
each file, the hash of the text it says (with the synthesiser settings) and the hash of the
file itself: only prompts whose text changed are made again, and
tests/unit/test_speech_catalogue.py fails when a text changed but its audio did not.

The audio is committed, not made at install time: a kiosk (and a wheel or Debian package of
it) then needs no synthesiser and no voice download, and what a person hears is what was
reviewed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from kiosk.i18n import LANGUAGES, Language
from kiosk.ui.guidance_texts import prompts

#: kiosk/resources/speech in this source tree (the generator writes into the checkout).
SPEECH_DIR = Path(__file__).resolve().parents[1] / "resources" / "speech"
MANIFEST = "manifest.json"
#: Where the downloaded voice is kept between runs (var/ of the checkout, ignored by git).
CACHE_DIR = Path(__file__).resolve().parents[2] / "var" / "speech-build"

#: The source archive that carries the voice, and the hashes it and the voice must have.
VOICE_PACKAGE = "pyopenjtalk==0.4.1"
VOICE_ARCHIVE = "pyopenjtalk-0.4.1.tar.gz"
VOICE_ARCHIVE_SHA256 = "d5ada46f7fc2b52c1c79c273eb9668ff6ad7ab276a8db9d8be119ef93440f0dc"
VOICE_MEMBER = "pyopenjtalk-0.4.1/pyopenjtalk/htsvoice/mei_normal.htsvoice"
VOICE_SHA256 = "f3be49a6838904a6c218790b64e07c3e83c1886e995dca284b413caab19184de"
#: Debian's open-jtalk-mecab-naist-jdic.
JTALK_DICTIONARY = Path("/var/lib/mecab/dic/open-jtalk/naist-jdic")

#: The audio format: 16 kHz, mono, IMA ADPCM (WAVE format tag 0x11).
RATE = 16000
WAVE_IMA_ADPCM = 0x11
#: Everything besides the text that decides how a prompt sounds; part of each text's hash,
#: so changing a setting here makes every prompt stale.
SETTINGS: Mapping[Language, str] = {
    "ja": "open_jtalk mei_normal r=0.95 | sox -R 16k mono ima-adpcm gain-n-3",
    "ja-easy": "open_jtalk mei_normal r=0.9 | sox -R 16k mono ima-adpcm gain-n-3",
    "en": "espeak-ng en-us s=150 | sox -R 16k mono ima-adpcm gain-n-3",
}


class SpeechBuildError(Exception):
    """A synthesiser, the voice or the speech directory is not as expected."""


@dataclass(frozen=True, slots=True)
class WavFormat:
    """What a WAV file's fmt chunk says."""

    tag: int
    channels: int
    rate: int


def text_sha256(language: Language, spoken: str) -> str:
    """The hash recorded for a prompt's text: the synthesiser settings and the text."""
    return hashlib.sha256(f"{SETTINGS[language]}\0{spoken}".encode()).hexdigest()


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def wav_path(speech_dir: Path, language: Language, prompt_id: str) -> Path:
    """Where the audio of `prompt_id` in `language` lives."""
    return speech_dir / language / f"{prompt_id}.wav"


def wav_format(data: bytes) -> WavFormat:
    """The format of a RIFF/WAVE file (the `wave` module reads only plain PCM)."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise SpeechBuildError("not a RIFF/WAVE file")
    offset = 12
    while offset + 8 <= len(data):
        kind, size = (
            data[offset : offset + 4],
            int.from_bytes(data[offset + 4 : offset + 8], "little"),
        )
        body = data[offset + 8 : offset + 8 + size]
        if kind == b"fmt ":
            if len(body) < 8:
                raise SpeechBuildError("fmt chunk too short")
            return WavFormat(
                int.from_bytes(body[0:2], "little"),
                int.from_bytes(body[2:4], "little"),
                int.from_bytes(body[4:8], "little"),
            )
        offset += 8 + size + (size & 1)
    raise SpeechBuildError("no fmt chunk")


def read_manifest(speech_dir: Path) -> dict[str, dict[str, dict[str, str]]]:
    """prompt id -> language -> {"text_sha256", "wav_sha256"} (empty when there is none)."""
    path = speech_dir / MANIFEST
    if not path.exists():
        return {}
    loaded = json.loads(path.read_text(encoding="utf-8"))
    found = loaded.get("prompts") if isinstance(loaded, dict) else None
    if not isinstance(found, dict):
        raise SpeechBuildError(f"{path} has no 'prompts' table")
    return found


def stale(speech_dir: Path) -> list[tuple[str, Language]]:
    """The (prompt, language) pairs whose audio is missing or says an older text."""
    manifest = read_manifest(speech_dir)
    out: list[tuple[str, Language]] = []
    for prompt_id, spoken in prompts().items():
        for language in LANGUAGES:
            recorded = manifest.get(prompt_id, {}).get(language, {})
            path = wav_path(speech_dir, language, prompt_id)
            if (
                recorded.get("text_sha256") != text_sha256(language, spoken.get(language))
                or not path.exists()
                or recorded.get("wav_sha256") != file_sha256(path)
            ):
                out.append((prompt_id, language))
    return out


# --- the synthesisers -----------------------------------------------------------------------


def _run(args: list[str], stdin: str | None = None) -> None:
    try:
        subprocess.run(
            args, input=None if stdin is None else stdin.encode(), check=True, capture_output=True
        )
    except FileNotFoundError as e:
        raise SpeechBuildError(f"{args[0]} is not installed (make system-deps)") from e
    except subprocess.CalledProcessError as e:
        detail = e.stderr.decode(errors="replace").strip()[-300:]
        raise SpeechBuildError(f"{args[0]} failed ({e.returncode}): {detail}") from e


def fetch_voice(cache: Path = CACHE_DIR) -> Path:
    """The Mei voice file: read out of pyopenjtalk's source archive (downloaded once by pip)."""
    voice = cache / "mei_normal.htsvoice"
    if voice.exists() and file_sha256(voice) == VOICE_SHA256:
        return voice
    cache.mkdir(parents=True, exist_ok=True)
    archive = cache / VOICE_ARCHIVE
    if not archive.exists():
        # pip prepares the archive's metadata (its build requirements come as wheels) but
        # builds and installs nothing.
        _run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "-q",
                "--no-deps",
                "--no-binary",
                "pyopenjtalk",
                "-d",
                str(cache),
                VOICE_PACKAGE,
            ]
        )
    if file_sha256(archive) != VOICE_ARCHIVE_SHA256:
        raise SpeechBuildError(f"{archive} is not the expected {VOICE_PACKAGE} source archive")
    with tarfile.open(archive, "r:gz") as tar:
        member = tar.extractfile(VOICE_MEMBER)  # one regular file, read as bytes
        if member is None:
            raise SpeechBuildError(f"{VOICE_MEMBER} is not a file in {archive}")
        data = member.read()
    if hashlib.sha256(data).hexdigest() != VOICE_SHA256:
        raise SpeechBuildError(f"{VOICE_MEMBER} in {archive} is not the expected voice")
    voice.write_bytes(data)
    return voice


def synthesise(language: Language, spoken: str, out: Path, voice: Path | None) -> None:
    """Speak `spoken` in `language` into `out` (16 kHz mono IMA ADPCM WAV)."""
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.wav"
        if language == "en":
            _run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(raw), "--stdin"], spoken)
        else:
            if voice is None:
                raise SpeechBuildError("Japanese needs the Open JTalk voice")
            rate = "0.9" if language == "ja-easy" else "0.95"
            _run(
                [
                    "open_jtalk",
                    "-x",
                    str(JTALK_DICTIONARY),
                    "-m",
                    str(voice),
                    "-r",
                    rate,
                    "-ow",
                    str(raw),
                ],
                spoken,
            )
        out.parent.mkdir(parents=True, exist_ok=True)
        _run(
            [
                "sox",
                "-R",  # repeatable: the same dither each run, so a file is remade byte for byte
                str(raw),
                "-r",
                str(RATE),
                "-c",
                "1",
                "-e",
                "ima-adpcm",
                str(out),
                "gain",
                "-n",
                "-3",
            ]
        )


def generate(speech_dir: Path, *, everything: bool = False, voice: Path | None = None) -> int:
    """Make the audio that is missing or stale (all of it with `everything`); return how many
    files were made. Files of prompts no longer in the catalogue are removed."""
    todo = [(p, lang) for p in prompts() for lang in LANGUAGES] if everything else stale(speech_dir)
    catalogue = prompts()
    manifest = {p: v for p, v in read_manifest(speech_dir).items() if p in catalogue}
    if any(lang != "en" for _, lang in todo) and voice is None:
        voice = fetch_voice()
    for prompt_id, language in todo:
        spoken = catalogue[prompt_id].get(language)
        path = wav_path(speech_dir, language, prompt_id)
        synthesise(language, spoken, path, voice)
        manifest.setdefault(prompt_id, {})[language] = {
            "text_sha256": text_sha256(language, spoken),
            "wav_sha256": file_sha256(path),
        }
    for language in LANGUAGES:
        for old in sorted((speech_dir / language).glob("*.wav")):
            if old.stem not in catalogue:
                old.unlink()
    body = {
        "format": f"WAV, {RATE} Hz, mono, IMA ADPCM",
        "settings": dict(SETTINGS),
        "prompts": manifest,
    }
    speech_dir.mkdir(parents=True, exist_ok=True)
    (speech_dir / MANIFEST).write_text(
        json.dumps(body, ensure_ascii=False, indent=1, sort_keys=True) + "\n", encoding="utf-8"
    )
    return len(todo)


def main(argv: list[str] | None = None) -> int:
    """The command line: make what is stale, or (--check) only say what is."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--all", action="store_true", help="make every prompt again")
    parser.add_argument("--check", action="store_true", help="list stale audio, exit 1 if any")
    parser.add_argument("--voice", type=Path, help="an mei_normal.htsvoice to use")
    parser.add_argument("--dir", type=Path, default=SPEECH_DIR, help="the speech directory")
    args = parser.parse_args(argv)
    try:
        if args.check:
            left = stale(args.dir)
            for prompt_id, language in left:
                print(f"stale: {language}/{prompt_id}")
            return 1 if left else 0
        made = generate(args.dir, everything=args.all, voice=args.voice)
    except SpeechBuildError as e:
        print(f"speech: {e}", file=sys.stderr)
        return 1
    print(f"speech: {made} file(s) made in {args.dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
