"""The spoken guidance's audio: one file per prompt and language, saying today's text."""

from __future__ import annotations

import shutil
from importlib.resources import files

import pytest

from kiosk.flow.machine import Screen
from kiosk.i18n import LANGUAGES
from kiosk.ui import guidance_build, guidance_texts
from kiosk.ui.guidance_build import (
    RATE,
    SPEECH_DIR,
    WAVE_IMA_ADPCM,
    read_manifest,
    stale,
    text_sha256,
    wav_format,
)
from kiosk.ui.guidance_texts import (
    pin_count_prompt,
    pin_refused_prompt,
    prompts,
    screen_prompt_id,
)


def test_every_prompt_has_its_audio_in_all_three_languages():
    speech = files("kiosk.resources") / "speech"  # as the kiosk finds it, package data
    for prompt_id in prompts():
        for language in LANGUAGES:
            wav = speech / language / f"{prompt_id}.wav"
            assert wav.is_file(), f"{language}/{prompt_id}.wav is missing"
            fmt = wav_format(wav.read_bytes())
            assert (fmt.tag, fmt.channels, fmt.rate) == (WAVE_IMA_ADPCM, 1, RATE), wav


def test_every_audio_file_says_the_prompts_current_text():
    """A text changed without `make speech` (or a file swapped by hand) fails here."""
    assert stale(SPEECH_DIR) == []
    manifest = read_manifest(SPEECH_DIR)
    assert set(manifest) == set(prompts())


def test_every_screen_has_a_prompt():
    for screen in Screen:
        assert screen_prompt_id(screen) in prompts()


def test_a_changed_text_makes_its_prompt_stale(tmp_path, monkeypatch):
    speech = tmp_path / "speech"
    shutil.copytree(SPEECH_DIR, speech)
    assert stale(speech) == []
    changed = dict(prompts())
    old = changed["screen.pin"]
    changed["screen.pin"] = type(old)(old.ja, old.en + " Take your time.", old.easy)
    monkeypatch.setattr(guidance_build, "prompts", lambda: changed)
    assert stale(speech) == [("screen.pin", "en")]


def test_a_replaced_audio_file_is_stale_too(tmp_path):
    speech = tmp_path / "speech"
    shutil.copytree(SPEECH_DIR, speech)
    (speech / "ja" / "screen.attract.wav").write_bytes(
        (speech / "ja" / "screen.pin.wav").read_bytes()
    )
    assert stale(speech) == [("screen.attract", "ja")]


def test_the_pin_guidance_says_only_how_many_digits():
    """The count prompts are the only PIN prompts; each is chosen by a count alone, and its
    words hold no digit other than that count."""
    for count in range(guidance_texts.PIN_DIGITS + 1):
        spoken = prompts()[pin_count_prompt(count)]
        for language in LANGUAGES:
            digits = {c for c in spoken.get(language) if c.isdigit()}
            assert digits <= {str(count)}, (count, language, spoken.get(language))
    with pytest.raises(ValueError):
        pin_count_prompt(5)
    refused = {
        pin_refused_prompt(2): {"2"},
        pin_refused_prompt(1): {"1"},
        pin_refused_prompt(7): set(),  # a card with more tries: no count
        pin_refused_prompt(None, malformed=True): {"4"},  # "the PIN has 4 digits"
    }
    for prompt_id, allowed in refused.items():
        for language in LANGUAGES:
            spoken = prompts()[prompt_id].get(language)
            assert {c for c in spoken if c.isdigit()} <= allowed, (prompt_id, spoken)
    pin_prompts = {p for p in prompts() if p.startswith("pin.")}
    assert pin_prompts == {pin_count_prompt(n) for n in range(5)} | set(refused)


def test_nothing_read_from_the_card_is_ever_spoken():
    """The review screen's prompt points at the screen; it carries no field of the 4 info."""
    review = prompts()[screen_prompt_id(Screen.REVIEW)]
    assert "読み上げません" in review.ja and "not read out" in review.en
    assert "{" not in "".join(p.ja + p.en + p.easy for p in prompts().values())


def test_the_generator_speaks_english_through_espeak_as_16_khz_mono(tmp_path):
    """The real synthesiser and sox, on one prompt: a fresh directory gets a file and a
    manifest entry that match (Japanese needs the downloaded voice; `make speech` does it)."""
    out = tmp_path / "speech"
    spoken = prompts()["pin.count.2"].en
    guidance_build.synthesise("en", spoken, out / "en" / "pin.count.2.wav", None)
    fmt = wav_format((out / "en" / "pin.count.2.wav").read_bytes())
    assert (fmt.tag, fmt.channels, fmt.rate) == (WAVE_IMA_ADPCM, 1, RATE)
    assert text_sha256("en", spoken) != text_sha256("ja", spoken)  # settings are hashed too


def test_wav_format_refuses_what_is_not_a_wav():
    with pytest.raises(guidance_build.SpeechBuildError):
        wav_format(b"ID3\x03not a wav")
    with pytest.raises(guidance_build.SpeechBuildError):
        wav_format(b"RIFF\x04\x00\x00\x00WAVE")
