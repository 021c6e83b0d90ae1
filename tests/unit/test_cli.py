"""The `kiosk` command's top level: subcommands listed, errors as one clear line."""

from __future__ import annotations

import pytest

from kiosk import cli
from kiosk.errors import KioskError


def test_help_lists_the_subcommands(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    out = capsys.readouterr().out
    for name in ("pki", "sim", "card", "verify-card", "crl", "enrol", "run", "demo"):
        assert name in out


def _with_handler(monkeypatch, handler):
    # `kiosk demo` stands in for any subcommand; its handler is looked up when registered.
    monkeypatch.setattr("kiosk.commands.demo.run_demo", handler)


def test_kiosk_errors_are_one_line_exit_2(monkeypatch, capsys):
    def fail(args):
        raise KioskError("the card was removed")

    _with_handler(monkeypatch, fail)
    assert cli.main(["demo"]) == 2
    assert capsys.readouterr().err == "kiosk: the card was removed\n"


def test_unexpected_errors_never_print_a_traceback(monkeypatch, capsys):
    def crash(args):
        raise AttributeError("'NoneType' object has no attribute 'execute'")

    _with_handler(monkeypatch, crash)
    assert cli.main(["demo"]) == 70
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.startswith("kiosk: unexpected error (AttributeError)")
