"""How the platform's worker processes build their app (kiosk.platform.workers): whether they
await their store statements on their event loops depends on the CPUs they may run on."""

from __future__ import annotations

import pytest

from kiosk.platform import workers


@pytest.mark.parametrize(
    ("cpus", "count", "waits"),
    [
        ({0, 1}, 1, True),  # a CPU to spare while PostgreSQL answers: the loop serves on
        ({0, 1}, 2, False),  # as many workers as CPUs: the kernel runs another worker then
        ({0, 1}, 4, False),
        ({0}, 1, False),
        (set(range(8)), 4, True),
    ],
)
def test_workers_await_their_store_on_the_loop_only_with_a_cpu_to_spare(
    monkeypatch, cpus, count, waits
):
    monkeypatch.setattr(workers.os, "sched_getaffinity", lambda _pid: cpus)
    assert workers.loop_waits(count) is waits


@pytest.mark.parametrize(("value", "waits"), [("1", True), ("0", False), (None, False)])
def test_each_worker_builds_its_app_as_the_serving_command_said(monkeypatch, value, waits):
    import kiosk.config
    import kiosk.platform.service

    built = {}
    monkeypatch.setattr(kiosk.config, "load", lambda path: ("config", path))
    monkeypatch.setattr(
        kiosk.platform.service,
        "app_from_config",
        lambda cfg, **kw: built.update(cfg=cfg, **kw) or "app",
    )
    monkeypatch.setenv(workers.CONFIG_ENV, "/etc/kiosk/platform.toml")
    if value is None:
        monkeypatch.delenv(workers.LOOP_WAITS_ENV, raising=False)
    else:
        monkeypatch.setenv(workers.LOOP_WAITS_ENV, value)
    assert workers.worker_app() == "app"
    assert built == {
        "cfg": ("config", "/etc/kiosk/platform.toml"),
        "import_crl_dir": False,
        "loop_waits": waits,
    }
