"""Configuration: defaults, the example file, environment overrides, and clear refusals."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import get_args

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
        ({"staff": [{"id": "1"}]}, "staff[0].credential: is required"),
        ({"staff": ["1"]}, "staff[0]: must be a table of 'id' and 'credential'"),
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


# --- the typed sections: every key at every depth is known, or refused with its path ---------

SHA = hashlib.sha256(b"token").hexdigest()
KEY_ID = "1ac100f596a3bc8c4b3df195e32699249e9e308a"


def load_text(tmp_path, text: str) -> config.Config:
    path = tmp_path / "kiosk.toml"
    path.write_text(text, encoding="utf-8")
    return config.load(path, env={})


def test_the_sections_load_typed(tmp_path):
    cfg = load_text(
        tmp_path,
        f"""challenge_keys = ["{"ab" * 32}", "{"CD" * 32}"]

[providers]
demo-clinic = "みなと診療所"
"clinic.east" = "東診療所"

[ocsp]
"{KEY_ID.upper()}" = "http://ocsp.example/"

[platform_tokens]
demo-clinic = "{SHA.upper()}"

[platform_peers.demo-clinic]
url = "https://bank-platform.example/"
token = "peer-token"
""",
    )
    assert cfg.challenge_keys == (bytes.fromhex("ab" * 32), bytes.fromhex("cd" * 32))
    assert dict(cfg.providers) == {"demo-clinic": "みなと診療所", "clinic.east": "東診療所"}
    assert dict(cfg.ocsp) == {KEY_ID: "http://ocsp.example/"}  # key ids lower-case
    assert dict(cfg.platform_tokens) == {"demo-clinic": SHA}  # digests lower-case
    assert dict(cfg.platform_peers) == {
        "demo-clinic": config.PeerConfig("https://bank-platform.example/", "peer-token")
    }
    assert "peer-token" not in repr(cfg) and "abab" not in repr(cfg)  # secrets stay out


@pytest.mark.parametrize(
    ("text", "words"),
    [
        # a misspelt section is an unknown key at the top
        ("[platform_tokns]\nx = 1\n", "unknown configuration key(s): platform_tokns"),
        ("[ocps]\n", "unknown configuration key(s): ocps"),
        ("[provider]\n", "unknown configuration key(s): provider"),
        ('challenge_key = ["00"]\n', "unknown configuration key(s): challenge_key"),
        # one level down: the keys of a section are provider ids or CA key ids
        (
            '[platform_tokens]\n"demo clinic" = "' + SHA + '"\n',
            'platform_tokens."demo clinic": unknown key',
        ),
        ('[providers]\n"demo clinic" = "A"\n', 'providers."demo clinic": unknown key'),
        ('[ocsp]\nresponder = "http://ocsp.example/"\n', "ocsp.responder: unknown key"),
        (
            '[platform_peers."demo clinic"]\nurl = "https://b.example"\n',
            'platform_peers."demo clinic": unknown key',
        ),
        # two levels down
        (
            '[platform_peers.demo-clinic]\nurl = "https://b.example"\ntokn = "t"\n',
            "platform_peers.demo-clinic.tokn: unknown key",
        ),
        ('[[staff]]\nid = "1"\ncredentail = "x"\n', "staff[0].credentail: unknown key"),
        (
            '[platform_tokens.demo-clinic]\nsha256 = "' + SHA + '"\n',
            "platform_tokens.demo-clinic: must be a string",
        ),
        ('[providers.demo-clinic]\nname = "A"\n', "providers.demo-clinic: must be a string"),
        ('[payment]\ngatway = "http"\n', "payment.gatway: unknown key"),
        ('[pos]\nlisten_on = "127.0.0.1:1"\n', "pos.listen_on: unknown key"),
        ('[pos_tokens]\n"a shop" = "' + SHA + '"\n', 'pos_tokens."a shop": unknown key'),
        ('[receipt]\nprinter = "none"\nhots = "x"\n', "unknown key receipt.hots"),
        (
            '[ocsp."' + KEY_ID + '"]\nurl = "http://o.example/"\n',
            f"ocsp.{KEY_ID}: must be a string",
        ),
    ],
)
def test_a_misspelt_key_at_any_depth_is_refused_with_its_path(tmp_path, text, words):
    with pytest.raises(ConfigError) as e:
        load_text(tmp_path, text)
    assert words in str(e.value)


@pytest.mark.parametrize(
    ("values", "words"),
    [
        ({"providers": {}}, "providers: must name at least one provider"),
        ({"providers": {"a": " "}}, "providers.a: must not be blank"),
        ({"providers": ["a"]}, "providers: must be a table"),
        ({"challenge_keys": "zz"}, "challenge_keys[0]: must be 64 hex digits"),
        ({"challenge_keys": ["00" * 32, "00" * 31]}, "challenge_keys[1]: must be 64 hex digits"),
        ({"challenge_keys": []}, "challenge_keys: must be a list"),
        ({"challenge_keys": {"k": "00"}}, "challenge_keys: must be a list"),
        ({"ocsp": {KEY_ID: "ocsp.example"}}, f"ocsp.{KEY_ID}: must be an http:// or https:// URL"),
        ({"ocsp": {KEY_ID: "ftp://ocsp.example/"}}, f"ocsp.{KEY_ID}: must be an http"),
        ({"ocsp": {KEY_ID: "http://o.example:port/"}}, f"ocsp.{KEY_ID}: must be an http"),
        ({"ocsp": {KEY_ID: 1}}, f"ocsp.{KEY_ID}: must be a string"),
        ({"ocsp": {"abc": "http://o.example/"}}, "ocsp.abc: unknown key"),
        ({"ocsp": {KEY_ID: "http://a/", KEY_ID.upper(): "http://b/"}}, "names a CA given already"),
        ({"platform_tokens": {"a": "ab" * 31}}, "platform_tokens.a: must be 64 hex digits"),
        (
            {"platform_tokens": {"a": SHA, "b": SHA.upper()}},
            "platform_tokens.b: the same token as a",
        ),
    ],
)
def test_bad_section_values_are_refused_with_the_key_path(values, words):
    with pytest.raises(ConfigError) as e:
        config.from_mapping(values)
    assert words in str(e.value)


def test_the_old_extra_table_is_refused_naming_the_new_tables(tmp_path):
    with pytest.raises(ConfigError) as e:
        load_text(tmp_path, f'[extra.platform_tokens]\ndemo-clinic = "{SHA}"\n')
    assert "[extra.platform_tokens] is now [platform_tokens]" in str(e.value)
    with pytest.raises(ConfigError) as e:
        load_text(tmp_path, "[extra]\nchallenge_keys = []\n[extra.ocsp]\n")
    assert "[extra.ocsp] is now [ocsp]" in str(e.value)
    assert "[extra.challenge_keys] is now challenge_keys = [...]" in str(e.value)
    with pytest.raises(ConfigError, match=r"\[extra.platform_peers\] is now \[platform_peers"):
        config.from_mapping({"extra": {"platform_peers": {}}})


@pytest.mark.parametrize("name", ["providers", "ocsp", "platform_tokens", "platform_peers"])
def test_tables_are_configured_in_the_file_only(name):
    with pytest.raises(ConfigError, match=f"the \\[{name}\\] table"):
        config.load(None, env={f"KIOSK_{name.upper()}": "x"})


def test_challenge_keys_may_come_from_the_environment():
    cfg = config.load(None, env={"KIOSK_CHALLENGE_KEYS": f"{'ab' * 32}, {'cd' * 32}"})
    assert cfg.challenge_keys == (bytes.fromhex("ab" * 32), bytes.fromhex("cd" * 32))


def test_configuration_checks_the_forms_the_other_layers_take():
    """The provider id, key size and languages are verification's and i18n's own; config sits
    below both, so it keeps a copy, and this keeps them the same."""
    from kiosk.i18n import Language
    from kiosk.verify.challenge import IDENTIFIER, KEY_BYTES

    assert config.PROVIDER_ID.pattern == IDENTIFIER.pattern
    assert config.CHALLENGE_KEY_BYTES == KEY_BYTES
    assert set(get_args(config.Language)) == set(get_args(Language))


# --- [insurance] and [reception] ------------------------------------------------------------


def test_insurance_and_reception_default_to_the_test_directory_and_no_hand_off(tmp_path):
    cfg = load_text(tmp_path, "")
    assert cfg.insurance.directory == "test" and cfg.reception.delivery == "none"


def test_insurance_and_reception_sections_are_read(tmp_path):
    cfg = load_text(
        tmp_path,
        '[insurance]\ndirectory = "http"\nurl = "https://insurer.example/"\ntoken = "t0k"\n'
        '[reception]\ndelivery = "file"\ndirectory = "var/reception"\n',
    )
    assert (cfg.insurance.directory, cfg.insurance.url) == ("http", "https://insurer.example/")
    assert cfg.insurance.token == "t0k" and "t0k" not in repr(cfg)
    assert (cfg.reception.delivery, cfg.reception.directory) == ("file", "var/reception")


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('[insurance]\ndirectry = "roster"\n', "insurance.directry: unknown key"),
        ('[insurance]\ndirectory = "ldap"\n', 'insurance.directory: must be "test" or'),
        ('[insurance]\ndirectory = "http"\n', "insurance.url: is required"),
        (
            '[insurance]\ndirectory = "http"\nurl = "http://insurer.example/"\ntoken = "t"\n',
            "must use https://",
        ),
        ('[insurance]\ndirectory = "http"\nurl = "https://i.example/"\n', "insurance.token"),
        ("[insurance]\ntimeout_s = 0\n", "insurance.timeout_s: must be a whole number"),
        ('[reception]\ndelivry = "http"\n', "reception.delivry: unknown key"),
        ('[reception]\ndelivery = "fax"\n', 'reception.delivery: must be "none" or'),
        ('[reception]\ndelivery = "http"\n', "reception.url: is required"),
        ('[reception]\ndelivery = "file"\n', "reception.directory: is required"),
        ('[reception]\ntoken = "a b"\n', "reception.token: must be printable ASCII"),
        ('[reception]\ninstitution_code = "13-1234"\n', "reception.institution_code: must be 10"),
        ("[reception]\ninterval_s = 0\n", "reception.interval_s: must be a whole number"),
        ("insurance = 3\n", "insurance: must be a table"),
        ('enrol_to = "patient"\n', "'enrol_to' must be"),
    ],
)
def test_a_bad_insurance_or_reception_setting_is_refused_with_its_path(tmp_path, text, words):
    with pytest.raises(ConfigError) as e:
        load_text(tmp_path, text)
    assert words in str(e.value)


# --- the shop counter: [payment], [pos], [pos_tokens], [receipt] --------------------------


def test_a_shop_counter_is_read_into_typed_sections(tmp_path):
    f = tmp_path / "k.toml"
    f.write_text(
        '[payment]\ngateway = "http"\nurl = "https://gw.example/"\ntoken = "t0k"\n'
        "per_payment_yen = 5000\ndaily_account_yen = 20000\n"
        '[pos]\nlisten = "127.0.0.1:8470"\nrequest_ttl_s = 60\n'
        f'[pos_tokens]\nshop-1 = "{SHA}"\n'
        '[receipt]\nprinter = "network"\nhost = "192.0.2.10"\n'
    )
    cfg = config.load(f, env={})
    assert (cfg.payment.gateway, cfg.payment.company_code) == ("http", "http")
    assert (cfg.payment.per_payment_yen, cfg.payment.daily_account_yen) == (5000, 20000)
    assert cfg.payment.daily_terminal_yen == 30_000  # the issue's default
    assert (cfg.pos.listen, cfg.pos.request_ttl_s) == ("127.0.0.1:8470", 60)
    assert cfg.pos_tokens == {"shop-1": SHA.lower()}
    assert (cfg.receipt.printer, cfg.receipt.host) == ("network", "192.0.2.10")
    assert "t0k" not in repr(cfg)  # the gateway's token is a secret


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('[payment]\ngateway = "http"\n', "payment.url: is required"),
        ('[payment]\ngateway = "http"\nurl = "http://gw.example/"\ntoken = "t"\n', "payment.url"),
        ('[payment]\ngateway = "cash"\n', "payment.gateway: must be"),
        ("[payment]\nper_payment_yen = 0\n", "payment.per_payment_yen: must be a whole number"),
        ("[payment]\ndaily_account_yen = 1.5\n", "payment.daily_account_yen: must be a whole"),
        ('[payment]\ncard_company = "ACME Card"\n', "payment.card_company: must be a short"),
        ('[pos]\nlisten = "0.0.0.0:8470"\n', "pos.listen: off this machine needs tls_cert"),
        ('[pos]\nlisten = "127.0.0.1"\n', 'pos.listen: must be "host:port"'),
        ('[pos]\nlisten = "127.0.0.1:70000"\n', "pos.listen: has a port out of range"),
        ('[pos]\ntls_cert = "/c.pem"\n', "pos.tls_key: is needed with the other"),
        ("[pos]\nrequest_ttl_s = 0\n", "pos.request_ttl_s: must be 1 to 86,400"),
        ('[pos]\ncallback_url = "http://pos.example/x"\n', "pos.callback_url"),
        ('[pos]\ncallback_url = "https://pos.example/x"\n', "pos.callback_token: is required"),
        ('[pos_tokens]\nshop-1 = "abc"\n', "pos_tokens.shop-1: must be 64 hex digits"),
        ('[receipt]\nprinter = "network"\n', "receipt.host is needed"),
    ],
)
def test_a_bad_shop_counter_setting_is_refused_with_its_key(tmp_path, text, words):
    f = tmp_path / "k.toml"
    f.write_text(text)
    with pytest.raises(config.ConfigError, match=re.escape(words)):
        config.load(f, env={})


def test_the_pos_api_may_listen_off_this_machine_with_tls(tmp_path):
    cfg = config.from_mapping(
        {"pos": {"listen": "[::]:8470", "tls_cert": "/c.pem", "tls_key": "/k.pem"}}
    )
    assert config.listen_address(cfg.pos.listen) == ("::", 8470)


# --- the OpenID Provider: [oidc], [[oidc_clients]] -----------------------------------------


def test_the_openid_provider_and_its_clients_are_read_into_typed_sections(tmp_path):
    f = tmp_path / "k.toml"
    f.write_text(
        '[oidc]\nissuer = "https://id.example"\nlisten = "127.0.0.1:8480"\n'
        "[[oidc_clients]]\n"
        'client_id = "shop-web"\nname = "みなとショップ"\n'
        'redirect_uris = ["https://shop.example/callback"]\n'
        f'auth_method = "client_secret_basic"\nsecret_sha256 = "{SHA.lower()}"\n'
        'providers = ["demo-clinic"]\n'
    )
    cfg = config.load(f, env={})
    assert (cfg.oidc.issuer, cfg.oidc.listen) == ("https://id.example", "127.0.0.1:8480")
    client = cfg.oidc_clients["shop-web"]
    assert client.redirect_uris == ("https://shop.example/callback",)
    assert client.providers == frozenset({"demo-clinic"})


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('[oidc]\nissuer = "http://id.example"\n', "oidc.issuer"),
        ('[oidc]\nissuer = "https://id.example/"\n', "oidc.issuer: must have no trailing /"),
        ('[oidc]\nisuer = "https://id.example"\n', "oidc.isuer: unknown key"),
        ('[oidc]\nlisten = "0.0.0.0:8480"\n', "oidc.listen: off this machine needs tls_cert"),
        ('[oidc]\nlisten = "127.0.0.1"\n', 'oidc.listen: must be "host:port"'),
        ('[[oidc_clients]]\nclient_id = "a"\n', "oidc_clients[0]"),
    ],
)
def test_a_bad_openid_provider_setting_is_refused_with_its_key(tmp_path, text, words):
    f = tmp_path / "k.toml"
    f.write_text(text)
    with pytest.raises(config.ConfigError, match=re.escape(words)):
        config.load(f, env={})
