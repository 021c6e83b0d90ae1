"""Configuration: defaults, the example file, environment overrides, and clear refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiosk import config
from kiosk.config import ConfigError

EXAMPLE = Path(__file__).parents[2] / "packaging" / "kiosk.example.toml"


def test_example_file_loads_and_equals_the_defaults():
    assert config.load(EXAMPLE, env={}) == config.Config()


def test_environment_overrides_the_file(tmp_path):
    f = tmp_path / "k.toml"
    f.write_text('language = "en"\nidle_timeout_s = 30\n')
    cfg = config.load(f, env={"KIOSK_IDLE_TIMEOUT_S": "45", "KIOSK_SOUND": "false"})
    assert (cfg.language, cfg.idle_timeout_s, cfg.sound) == ("en", 45, False)


def test_sqlite_is_the_default_store(tmp_path):
    cfg = config.from_mapping({"data_dir": str(tmp_path)})
    assert cfg.effective_database_url == f"sqlite:///{tmp_path / 'kiosk.sqlite3'}"


def test_the_platform_bounds_the_time_to_read_a_body():
    assert config.Config().platform_body_timeout_s == 5  # a few seconds unless configured
    cfg = config.load(None, env={"KIOSK_PLATFORM_BODY_TIMEOUT_S": "2"})
    assert cfg.platform_body_timeout_s == 2


def test_platform_over_https_or_to_this_machine():
    for url in ("https://platform.example/jpki", "http://127.0.0.1:8700", "http://localhost:8700"):
        cfg = config.from_mapping(
            {"verification": "platform", "platform_url": url, "platform_token": "t"}
        )
        assert cfg.platform_url == url


@pytest.mark.parametrize(
    ("values", "words"),
    [
        ({"langauge": "en"}, "unknown configuration key(s): langauge"),
        ({"idle_timeout_s": "soon"}, "'idle_timeout_s' must be a whole number"),
        ({"idle_timeout_s": -1}, "'idle_timeout_s' must be a whole number"),
        ({"sound": "loud"}, "'sound' must be true or false"),
        ({"verification": "platform"}, "'platform_url' is required"),
        (
            {"verification": "platform", "platform_url": "https://p.example"},
            "'platform_token' is required",
        ),
        (
            {"verification": "platform", "platform_url": "http://p.example", "platform_token": "t"},
            "'platform_url' must use https://",
        ),
        (
            {"verification": "platform", "platform_url": "ftp://p", "platform_token": "t"},
            "'platform_url' must be an https:// URL",
        ),
        ({"verification": "remote"}, "'verification' must be"),
        ({"language": "fr"}, "'language' must be"),
        ({"services": [1, 2]}, "'services' must be a list"),
        ({"staff_pin_sha256": "abc"}, "'staff_pin_sha256' must be 64 hex"),
        ({"platform_body_timeout_s": 0}, "'platform_body_timeout_s' must be at least 1"),
        ({"platform_body_timeout_s": "soon"}, "'platform_body_timeout_s' must be a whole"),
    ],
)
def test_bad_values_are_refused_naming_the_key(values, words):
    with pytest.raises(ConfigError, match=None) as e:
        config.from_mapping(values)
    assert words in str(e.value)


def test_unreadable_and_malformed_files_give_clear_errors(tmp_path):
    with pytest.raises(ConfigError, match="cannot read configuration"):
        config.load(tmp_path / "missing.toml", env={})
    bad = tmp_path / "bad.toml"
    bad.write_text("language = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        config.load(bad, env={})
