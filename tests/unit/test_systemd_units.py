"""The installed kiosk's systemd units: they verify, and the sandbox scores "OK" or better.

Issue 15: `systemd-analyze verify` passes on the units and `systemd-analyze security` scores the
kiosk unit at "OK" or better. `verify` refuses a unit whose ExecStart program is missing, and on
a development machine /opt/jpki-kiosk is not there, so the units are copied to tmp_path with
that one path pointed at a stand-in program; everything else is the shipped text. (The install
test, packaging/deb/install-test.sh, verifies the units as installed, programs and all.)
`security --offline=true` reads the unit file alone, as systemd 252 (Debian 12) does.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

TOP = Path(__file__).resolve().parents[2]
UNIT_DIR = TOP / "packaging" / "systemd"
#: The kiosk session's sound server wrapper, where the .deb installs it (packaging/sound).
SOUND_WRAPPER = "/usr/libexec/jpki-kiosk/with-sound-server"
INSTALLED_KIOSK = "/opt/jpki-kiosk/venv/bin/kiosk"
UNITS = (
    "jpki-kiosk.service",
    "jpki-kiosk-platform.service",
    "jpki-kiosk-crl-refresh.service",
    "jpki-kiosk-crl-refresh.timer",
)
SERVICES = [unit for unit in UNITS if unit.endswith(".service")]
#: systemd-analyze security's words for an exposure level, best first; "OK" is 1.0 to 4.9.
OK_OR_BETTER = ("PERFECT", "SAFE", "OK")
TIMEOUT = 60  # seconds per systemd-analyze run: a bound, not a measurement

pytestmark = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed"
)


def unit_settings(path: Path) -> list[tuple[str, str, str]]:
    """(section, key, value) for every setting of a unit file, in order (keys may repeat)."""
    settings: list[tuple[str, str, str]] = []
    section = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        key, _, value = line.partition("=")
        settings.append((section, key.strip(), value.strip()))
    return settings


def values(path: Path, section: str, key: str) -> list[str]:
    return [v for s, k, v in unit_settings(path) if s == section and k == key]


@pytest.fixture
def staged_units(tmp_path: Path) -> Path:
    """The shipped units in tmp_path, ExecStart's kiosk pointed at an executable stand-in."""
    stand_in = tmp_path / "bin" / "kiosk"
    stand_in.parent.mkdir()
    stand_in.write_text("#!/bin/sh\nexit 0\n")
    stand_in.chmod(0o755)
    staged = tmp_path / "units"
    staged.mkdir()
    for unit in UNITS:
        text = (UNIT_DIR / unit).read_text(encoding="utf-8")
        (staged / unit).write_text(text.replace(INSTALLED_KIOSK, str(stand_in)), encoding="utf-8")
    return staged


def verify(*units: Path) -> tuple[int, list[str]]:
    """`systemd-analyze verify`'s status and its remarks about our units (a machine's own
    units may draw remarks of their own). A misspelt key is only a remark: status 0."""
    result = subprocess.run(
        ["systemd-analyze", "verify", *map(str, units)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    ours = [line for line in result.stderr.splitlines() if "jpki-kiosk" in line]
    return result.returncode, ours


def test_every_unit_verifies(staged_units: Path) -> None:
    assert verify(*(staged_units / unit for unit in UNITS)) == (0, [])


def test_verify_names_a_misspelt_key(staged_units: Path) -> None:
    unit = staged_units / "jpki-kiosk.service"
    unit.write_text(unit.read_text().replace("ProtectSystem=", "ProtectSytem="))
    _, remarks = verify(unit)
    assert any("Unknown key 'ProtectSytem'" in line for line in remarks), remarks


def test_verify_refuses_a_unit_whose_program_is_missing(staged_units: Path) -> None:
    """The check above is a real one: the same units with the kiosk path as shipped fail it
    on a machine without the package, naming the missing program."""
    if Path(INSTALLED_KIOSK).exists():
        pytest.skip("the package is installed on this machine")
    status, remarks = verify(UNIT_DIR / "jpki-kiosk-crl-refresh.service")
    assert status != 0
    assert any(INSTALLED_KIOSK in line for line in remarks), remarks


def exposure(unit: Path) -> tuple[float, str]:
    """`systemd-analyze security --offline=true`'s overall exposure (0.0-10.0) and its word."""
    result = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", "--no-pager", str(unit)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert result.returncode == 0, result.stderr
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d) (\w+)", result.stdout)
    assert match, result.stdout[-500:]
    return float(match.group(1)), match.group(2)


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_scores_ok_or_better(service: str) -> None:
    level, word = exposure(UNIT_DIR / service)
    assert word in OK_OR_BETTER, f"{service}: {level} {word}"
    assert level < 5.0


def test_the_score_tells_a_sandbox_from_none(tmp_path: Path) -> None:
    """The kiosk unit without its sandbox (the [Service] lines after '# --- Sandbox') is scored
    worse than OK: the score above comes from the sandbox, not from the scale."""
    shipped = (UNIT_DIR / "jpki-kiosk.service").read_text(encoding="utf-8")
    head, _, rest = shipped.partition("# --- Sandbox")
    assert rest, "the kiosk unit has a '# --- Sandbox' block"
    bare = tmp_path / "jpki-kiosk.service"
    bare.write_text(head + "[Install]\nWantedBy=graphical.target\n", encoding="utf-8")
    level, word = exposure(bare)
    assert word not in OK_OR_BETTER, f"{level} {word}"


def test_the_kiosk_session_is_cage_on_tty1_as_user_kiosk() -> None:
    unit = UNIT_DIR / "jpki-kiosk.service"
    (exec_start,) = values(unit, "Service", "ExecStart")
    assert "/usr/bin/cage " in exec_start
    assert f"-- {INSTALLED_KIOSK} run --config /etc/jpki-kiosk/kiosk.toml" in exec_start
    assert " -s" not in exec_start.split(" -- ")[0], "cage -s would allow switching VTs"
    assert values(unit, "Service", "User") == ["kiosk"]
    assert values(unit, "Service", "TTYPath") == ["/dev/tty1"]
    assert values(unit, "Service", "PAMName") == ["login"]
    assert values(unit, "Unit", "Conflicts") == ["getty@tty1.service"]
    assert values(unit, "Service", "Restart") == ["on-failure"]
    assert int(values(unit, "Unit", "StartLimitBurst")[0]) > 0
    assert values(unit, "Service", "ReadWritePaths") == ["/var/lib/jpki-kiosk"]
    assert values(unit, "Install", "WantedBy") == ["graphical.target"]


def test_the_timer_runs_the_crl_refresh() -> None:
    timer = UNIT_DIR / "jpki-kiosk-crl-refresh.timer"
    service = UNIT_DIR / "jpki-kiosk-crl-refresh.service"
    assert values(timer, "Timer", "OnCalendar") == ["hourly"]
    (exec_start,) = values(service, "Service", "ExecStart")
    assert exec_start == f"{INSTALLED_KIOSK} crl refresh --config /etc/jpki-kiosk/kiosk.toml"


def test_the_platform_serves_with_workers_under_its_own_user() -> None:
    unit = UNIT_DIR / "jpki-kiosk-platform.service"
    (exec_start,) = values(unit, "Service", "ExecStart")
    assert exec_start.startswith(f"{INSTALLED_KIOSK} platform serve ")
    assert "--workers ${WORKERS}" in exec_start
    assert values(unit, "Service", "User") == ["jpki-platform"]


def test_the_kiosk_session_starts_its_own_sound_server_before_cage() -> None:
    """Spoken guidance needs a sound server in the sandboxed session: with-sound-server starts
    it in the session's runtime directory and runs cage under it (the order on the line)."""
    unit = UNIT_DIR / "jpki-kiosk.service"
    (exec_start,) = values(unit, "Service", "ExecStart")
    runtime = exec_start.index("XDG_RUNTIME_DIR=/run/jpki-kiosk ")
    wrapper = exec_start.index(f" {SOUND_WRAPPER} /usr/bin/cage ")
    assert runtime < wrapper < exec_start.index(" -- ")
    assert values(unit, "Service", "RuntimeDirectory") == ["jpki-kiosk"]
    assert values(unit, "Service", "RuntimeDirectoryMode") == ["0700"]
    shipped = TOP / "packaging" / "sound" / "with-sound-server"
    assert shipped.stat().st_mode & 0o111, "the wrapper is executable"
    build = (TOP / "packaging" / "deb" / "build.sh").read_text(encoding="utf-8")
    assert '"$stage' + SOUND_WRAPPER + '"' in build, "the .deb installs it where the unit looks"
    control = (TOP / "packaging" / "deb" / "debian" / "control").read_text(encoding="utf-8")
    depends = control.split("Depends:", 1)[1].split("\nRecommends:", 1)[0]
    assert "pulseaudio" in [d.strip() for d in depends.replace("\n", " ").split(",")]


def test_the_kiosk_unit_allows_sound_devices_and_nothing_more() -> None:
    """Exactly the devices it needs: ALSA's character devices added to the closed policy, the
    audio group for /dev/snd, and every other hardening setting still there."""
    unit = UNIT_DIR / "jpki-kiosk.service"
    assert values(unit, "Service", "DevicePolicy") == ["closed"]
    assert values(unit, "Service", "DeviceAllow") == [
        "char-drm rw",
        "char-input rw",
        "/dev/tty1 rw",
        "char-alsa rw",
    ]
    assert values(unit, "Service", "SupplementaryGroups") == ["audio"]
    for key, value in (
        ("NoNewPrivileges", "yes"),
        ("CapabilityBoundingSet", ""),
        ("AmbientCapabilities", ""),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("RestrictRealtime", "yes"),
        ("RestrictNamespaces", "yes"),
        ("RestrictSUIDSGID", "yes"),
        ("ProtectKernelTunables", "yes"),
        ("ProtectKernelModules", "yes"),
        ("ProtectControlGroups", "yes"),
        ("ProtectProc", "invisible"),
        ("SystemCallArchitectures", "native"),
    ):
        assert values(unit, "Service", key) == [value], key
    assert values(unit, "Service", "SystemCallFilter") == [
        "@system-service",
        "~@privileged @resources",
    ]
    assert values(unit, "Service", "ReadWritePaths") == ["/var/lib/jpki-kiosk"]


def test_sound_leaves_the_kiosk_units_score_where_it_was(tmp_path: Path) -> None:
    """The unit with its sound lines (the sound device, the audio group) scores what it scored
    without them, 1.5 OK (`SupplementaryGroups=` is a small item of the score, and
    DeviceAllow= was marked for special devices already)."""
    shipped = UNIT_DIR / "jpki-kiosk.service"
    lines = shipped.read_text(encoding="utf-8").splitlines(keepends=True)
    sound = ("DeviceAllow=char-alsa", "SupplementaryGroups=audio")
    silent = [line for line in lines if not line.startswith(sound)]
    assert len(silent) == len(lines) - 2
    without = tmp_path / "jpki-kiosk.service"
    without.write_text("".join(silent), encoding="utf-8")
    level, word = exposure(shipped)
    assert word in OK_OR_BETTER and level <= 1.5, f"{level} {word}"
    assert (level, word) == exposure(without)
