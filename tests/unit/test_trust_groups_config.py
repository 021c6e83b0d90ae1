"""Trust-anchor groups as configuration: `trust_dir`'s card roots grouped by their own keys,
`[trust_groups.<name>]` adding a group as data, and every malformed group refused by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiosk import config
from kiosk.config import TRUST_SCHEMES, TRUST_TOKENS, ConfigError
from kiosk.local import trust_store
from kiosk.pki.authority import Generation, TestPki, init_pki
from kiosk.verify.scheme import SchemeName
from kiosk.verify.trust import CURRENT_CARD, NEXT_CARD, TokenClass


@pytest.fixture(scope="module")
def pkis(tmp_path_factory: pytest.TempPathFactory) -> tuple[TestPki, TestPki]:
    base = tmp_path_factory.mktemp("groups")
    cards = init_pki(base / "cards")
    cards.issue_card(generation=Generation.NEXT)  # makes the next generation's roots
    other = init_pki(base / "other")  # e.g. another card type's own RSA roots
    return cards, other


def test_config_names_are_the_verifiers() -> None:
    assert set(TRUST_SCHEMES) == {s.value for s in SchemeName}
    assert set(TRUST_TOKENS) == {t.value for t in TokenClass}


def test_a_configured_group_is_added_beside_the_card_roots(
    pkis: tuple[TestPki, TestPki], tmp_path: Path
) -> None:
    cards, other = pkis
    cfg = config.from_mapping(
        {
            "data_dir": str(tmp_path),
            "trust_dir": str(cards.trust_dir),
            "trust_groups": {
                "residence-card": {
                    "dir": str(other.trust_dir),
                    "kind": "card",
                    "schemes": ["rsa-pkcs1v15-sha256"],
                }
            },
        }
    )
    trust = trust_store(cfg)
    by_group: dict[str, int] = {}
    for anchor in trust:
        by_group[anchor.group.name] = by_group.get(anchor.group.name, 0) + 1
    assert by_group == {CURRENT_CARD.name: 2, NEXT_CARD.name: 2, "residence-card": 2}
    (group,) = {a.group for a in trust if a.group.name == "residence-card"}
    assert group.token is TokenClass.CARD
    assert group.schemes == frozenset({SchemeName.RSA_PKCS1V15_SHA256})


@pytest.mark.parametrize(
    ("group", "message"),
    [
        ({}, "trust_groups.g.dir: must name"),
        ({"dir": "x", "kind": "watch"}, "trust_groups.g.kind: must be one of card, phone"),
        ({"dir": "x", "schemes": []}, "trust_groups.g.schemes: must be a list"),
        ({"dir": "x", "schemes": ["ecdsa-p256-sha256"]}, "trust_groups.g.schemes: must be"),
        ({"dir": "x", "schemes": "rsa-pkcs1v15-sha256"}, "trust_groups.g.schemes: must be"),
        ({"dir": "x", "colour": "red"}, "trust_groups.g.colour: unknown key"),
        ("x", "trust_groups.g: must be a table"),
    ],
)
def test_a_malformed_group_is_refused_by_name(group: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        config.from_mapping({"trust_groups": {"g": group}})


def test_crl_import_takes_the_crls_of_every_group(
    pkis: tuple[TestPki, TestPki], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`kiosk crl import` checks CRLs against the anchors verification pins: the next card's
    roots in trust_dir and a configured group's roots, not only today's."""
    from kiosk.cli import main

    cards, other = pkis
    crls = tmp_path / "crls"
    crls.mkdir()
    for name, der in [
        ("auth.crl", cards.crl_der("auth")),
        ("auth-next.crl", cards.crl_der("auth", Generation.NEXT)),
        ("other-auth.crl", other.crl_der("auth")),
    ]:
        (crls / name).write_bytes(der)
    toml = tmp_path / "kiosk.toml"
    toml.write_text(
        f'data_dir = "{tmp_path / "data"}"\ntrust_dir = "{cards.trust_dir}"\n'
        f'[trust_groups.other]\ndir = "{other.trust_dir}"\n'
    )
    assert main(["crl", "import", str(crls), "--config", str(toml)]) == 0, capsys.readouterr()
    assert capsys.readouterr().out.count("imported") >= 3
