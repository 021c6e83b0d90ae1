"""Configuration: defaults, the example file, environment overrides, and clear refusals."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from kiosk import config
from kiosk.config import ConfigError
from kiosk.flow.staff import Credential

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
        ({"staff_call_url": "http://counter.example/call"}, "'staff_call_url' must use https"),
        ({"staff_call_url": "counter"}, "'staff_call_url' must be an https:// URL"),
        ({"staff_call_timeout_s": 0}, "'staff_call_timeout_s' must be 1 to 30"),
        ({"staff": {"id": "1"}}, "'staff' must be a list of [[staff]] tables"),
        ({"staff": [{"id": "1"}]}, "'staff[0]' must have exactly 'id' and 'credential'"),
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


# --- staff ---------------------------------------------------------------------------------

PIN = "24681357"
#: The cheapest parameters the kiosk accepts (tests only: fast, yet not refused as weak).
CHEAP = {"n": 2**14, "r": 8, "p": 5}


@pytest.fixture(scope="module")
def credential() -> str:
    return Credential.make(PIN, **CHEAP).encode()


def staff_file(tmp_path, *tables: tuple[str, str], extra: str = "") -> Path:
    body = extra + "".join(f'\n[[staff]]\nid = "{i}"\ncredential = "{c}"\n' for i, c in tables)
    path = tmp_path / "kiosk.toml"
    path.write_text(body, encoding="utf-8")
    return path


def test_staff_credentials_load_from_staff_tables(tmp_path, credential):
    path = staff_file(tmp_path, ("1021", credential), ("7", credential))
    cfg = config.load(path, env={})
    assert [m.staff_id for m in cfg.staff] == ["1021", "7"]
    assert cfg.staff[0].credential.matches(PIN)
    assert not cfg.staff[0].credential.matches("24681358")
    assert PIN not in repr(cfg)


def test_the_old_sha256_staff_pin_is_refused_with_how_to_migrate(tmp_path):
    digest = hashlib.sha256(b"2468").hexdigest()
    path = tmp_path / "old.toml"
    path.write_text(f'staff_pin_sha256 = "{digest}"\n', encoding="utf-8")
    for load in (
        lambda: config.load(path, env={}),
        lambda: config.load(None, env={"KIOSK_STAFF_PIN_SHA256": digest}),
        lambda: config.from_mapping({"staff_pin_sha256": ""}),
    ):
        with pytest.raises(ConfigError) as e:
            load()
        assert "'staff_pin_sha256' is no longer accepted" in str(e.value)
        assert "kiosk staff credential" in str(e.value) and "[[staff]]" in str(e.value)


@pytest.mark.parametrize(
    ("staff_id", "text", "words"),
    [
        ("12a", None, "'staff[0]'.id must be a staff number of 1 to 10 digits"),
        ("12345678901", None, "'staff[0]'.id must be a staff number"),
        ("1", "sha256$abc", "'staff[0]'.credential: a credential reads"),
        ("1", "scrypt$n=16384,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA$" + "A" * 43, "too weak"),
        ("1", "scrypt$n=1000,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA$" + "A" * 43, "power of two"),
        ("1", "scrypt$n=1048576,r=32,p=1$AAAAAAAAAAAAAAAAAAAAAA$" + "A" * 43, "256 MiB"),
        ("1", "scrypt$n=131072,r=8,p=1$AAAA$" + "A" * 43, "salt must be"),
        ("1", "scrypt$n=131072,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA$A+A=", "base64url"),
    ],
)
def test_bad_staff_tables_are_refused_naming_the_entry(tmp_path, credential, staff_id, text, words):
    path = staff_file(tmp_path, (staff_id, text or credential))
    with pytest.raises(ConfigError) as e:
        config.load(path, env={})
    assert words in str(e.value)


def test_a_staff_number_given_twice_is_refused(tmp_path, credential):
    path = staff_file(tmp_path, ("5", credential), ("5", credential))
    with pytest.raises(ConfigError, match="'staff\\[1\\]'.id 5 appears twice"):
        config.load(path, env={})


def test_staff_are_configured_in_the_file_only(tmp_path):
    with pytest.raises(ConfigError, match="configuration file only"):
        config.load(None, env={"KIOSK_STAFF": "1"})


def test_the_staff_call_goes_to_https_or_this_machine():
    for url in ("https://counter.clinic.example/call", "http://127.0.0.1:9000/call"):
        assert config.from_mapping({"staff_call_url": url}).staff_call_url == url
    assert config.Config().staff_call_timeout_s == 3
