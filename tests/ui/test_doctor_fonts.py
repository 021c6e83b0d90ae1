"""`kiosk doctor`'s fonts probe: fontconfig's `fc-list`, else Qt's own font database."""

from __future__ import annotations

from kiosk.commands.doctor import japanese_fonts
from kiosk.doctor import Status, check_fonts


def test_fc_list_names_the_japanese_families() -> None:
    families = japanese_fonts()
    assert families is not None
    assert "Noto Sans CJK JP" in families  # fonts-noto-cjk, which make setup installs


def test_without_fc_list_qt_names_them(monkeypatch, tmp_path, qapp) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no fc-list on it
    families = japanese_fonts()
    assert families is not None
    assert "Noto Sans CJK JP" in families
    assert check_fonts(japanese_fonts).status is Status.OK
