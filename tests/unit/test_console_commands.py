"""`kiosk platform operator add|list|remove` (kiosk/commands/platform_operators.py): the
password read twice at a prompt or once from stdin, kept as its scrypt key only; a short
password, two different ones, a bad or taken name are refused and nothing is added."""

from __future__ import annotations

import io

import pytest

from kiosk.cli import main
from kiosk.commands.platform_operators import read_password
from kiosk.config import ConfigError
from kiosk.flow.staff import Credential
from kiosk.store.engine import Database
from kiosk.store.operators import Operators

PASSWORD = "a long operator password"  # noqa: S105 - a test password


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def conf(tmp_path):
    path = tmp_path / "kiosk.toml"
    path.write_text(f'data_dir = "{tmp_path}"\n', encoding="utf-8")
    return path


@pytest.fixture
def store(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'kiosk.sqlite3'}")
    db.upgrade()
    yield Operators(db)
    db.dispose()


def run(monkeypatch, conf, *args, stdin=""):
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    return main(["platform", "operator", *args, "--config", str(conf)])


def test_an_operator_is_added_with_the_passwords_scrypt_key_listed_and_removed(
    monkeypatch, capsys, conf, store
):
    assert run(monkeypatch, conf, "add", "ops.alice", stdin=PASSWORD + "\n") == 0
    assert "operator ops.alice added" in capsys.readouterr().out

    found = store.get("ops.alice")
    assert found is not None and PASSWORD not in found.password
    assert Credential.parse(found.password).matches(PASSWORD)
    assert run(monkeypatch, conf, "list") == 0
    listing = capsys.readouterr().out
    assert listing.startswith("ops.alice\tadded ") and "last login never" in listing
    assert run(monkeypatch, conf, "remove", "ops.alice") == 0
    assert store.get("ops.alice") is None
    assert run(monkeypatch, conf, "remove", "ops.alice") != 0
    assert "no operator named" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("name", "password", "error"),
    [
        ("ops.alice", "short", "12 to 1024 characters"),
        ("Alice Smith", PASSWORD, "an operator's name is"),
    ],
)
def test_a_bad_name_or_password_adds_nothing(
    monkeypatch, capsys, conf, store, name, password, error
):
    assert run(monkeypatch, conf, "add", name, stdin=password + "\n") != 0
    assert error in capsys.readouterr().err
    assert store.all() == []


def test_a_taken_name_is_refused(monkeypatch, capsys, conf, store):
    assert run(monkeypatch, conf, "add", "alice", stdin=PASSWORD + "\n") == 0
    assert run(monkeypatch, conf, "add", "alice", stdin="another long password\n") != 0
    assert "exists already" in capsys.readouterr().err
    found = store.get("alice")
    assert found is not None and Credential.parse(found.password).matches(PASSWORD)


def test_at_a_terminal_the_password_is_asked_twice():
    answers = iter([PASSWORD, PASSWORD])
    assert read_password(Tty(), lambda _prompt: next(answers)) == PASSWORD

    differing = iter([PASSWORD, PASSWORD + "!"])
    with pytest.raises(ConfigError, match="differ"):
        read_password(Tty(), lambda _prompt: next(differing))
