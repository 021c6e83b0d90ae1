"""`kiosk oidc rotate-key|keys`: a new current key; the old one stays published."""

from __future__ import annotations

import json

from kiosk.cli import main


def test_rotate_key_makes_a_new_key_and_keeps_the_old_one_published(tmp_path, capsys):
    conf = tmp_path / "kiosk.toml"
    conf.write_text(
        f'data_dir = "{tmp_path}"\n[oidc]\nissuer = "https://id.example"\n', encoding="utf-8"
    )
    assert main(["oidc", "keys", "--config", str(conf)]) == 0
    (first,) = json.loads(capsys.readouterr().out)["keys"]
    assert main(["oidc", "rotate-key", "--config", str(conf)]) == 0
    assert "new signing key" in capsys.readouterr().out
    assert main(["oidc", "keys", "--config", str(conf)]) == 0
    kids = [key["kid"] for key in json.loads(capsys.readouterr().out)["keys"]]
    assert len(kids) == 2 and first["kid"] in kids  # the old key until its tokens expire
    assert "d" not in first  # a public key: no private part


def test_without_an_issuer_there_are_no_keys_to_rotate(tmp_path, capsys):
    conf = tmp_path / "kiosk.toml"
    conf.write_text(f'data_dir = "{tmp_path}"\n', encoding="utf-8")
    assert main(["oidc", "rotate-key", "--config", str(conf)]) != 0
    assert "[oidc] issuer" in capsys.readouterr().err
