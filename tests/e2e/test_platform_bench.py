"""The platform load benchmark's harness works: wrk sends real pre-signed proofs to a real
`kiosk platform serve`, every verdict is counted and found in the store, and a failing
platform is reported as failing (bench/platform_bench.py; the figures are in bench/RESULTS.md,
not asserted here: this checks the harness, not the speed)."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench" / "platform_bench.py"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", autouse=True)
def wrk() -> None:
    if shutil.which("wrk") is None:
        if os.environ.get("CI"):
            pytest.fail("wrk is not installed: the test command installs it (system-deps.sh)")
        pytest.skip("wrk is not installed (make setup installs it)")


@pytest.fixture(scope="module")
def bench() -> object:
    sys.path.insert(0, str(BENCH.parent))
    try:
        import platform_bench
    finally:
        sys.path.remove(str(BENCH.parent))
    return platform_bench


@pytest.mark.parametrize(
    "store",
    [
        "sqlite",
        # one worker with a CPU to spare awaits PostgreSQL on its loop (kiosk.store.onloop)
        pytest.param("postgres", marks=pytest.mark.postgres),
    ],
)
def test_a_quick_run_sends_every_proof_and_finds_every_verdict_in_the_store(
    tmp_path: Path, store: str
) -> None:
    out = tmp_path / "runs.json"
    done = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--setups", f"{store}:1", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(out.read_text())
    assert result["raw_rsa_verify_per_s"] > 0
    runs = result["runs"]
    assert [(r["store"], r["workers"], r["connections"]) for r in runs] == [
        (store, 1, 1),
        (store, 1, 8),
    ]
    for run in runs:
        assert run["ok"] > 0 and run["errors"] == 0 and run["refused"] == 0, run
        assert run["recorded"] >= run["ok"], run  # every verdict received is in the store
        assert run["proofs_per_s"] > 0 and 0 < run["p50_ms"] <= run["p99_ms"] <= run["max_ms"]
    assert "proofs/s" in done.stdout


def test_refusals_are_counted_as_errors_not_as_proofs(bench: object, tmp_path: Path) -> None:
    """The harness is not blind: a platform that refuses every request (here: wrk holds a
    token the platform does not know) shows up as errors and no proofs."""
    key = secrets.token_bytes(32)
    proofs = bench.make_proofs(tmp_path, 40, key)  # type: ignore[attr-defined]
    script = tmp_path / "proofs.lua"
    script.write_text(bench.WRK_SCRIPT)  # type: ignore[attr-defined]
    url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    with bench.platform(tmp_path, url, 1, "the-platform-knows-this", key) as port:  # type: ignore[attr-defined]
        result = bench.run_wrk(script, proofs, port, "but-wrk-sends-this", 2, 5, 0)  # type: ignore[attr-defined]
    assert result["ok"] == 0 and result["refused"] == 0
    # each answered 401 (the platform closes the connection after answering before the body
    # was read, so wrk may lose the odd request in flight while it reconnects: not counted)
    assert 0 < result["other"] <= 40
    assert bench.recorded_verdicts(url) == 0  # type: ignore[attr-defined]


def _runs(bench: object, connections: int, *rates: float) -> tuple[int, list[object]]:
    run = bench.Run  # type: ignore[attr-defined]
    return connections, [
        run("postgres", 2, connections, None, rate, 1.0, 2.0, 3.0, 1, 0, 0, 1) for rate in rates
    ]


def test_a_fall_is_a_median_below_the_slowest_run_at_fewer_connections(bench: object) -> None:
    """How the benchmark judges "throughput never falls as connections rise": a median within
    the spread of the runs at fewer connections is not a fall, one below all of them is."""
    verdict = bench.falls_verdict  # type: ignore[attr-defined]
    rising = [_runs(bench, 1, 1200, 1250), _runs(bench, 8, 2500, 2600)]
    assert verdict(rising) == "met, strictly"
    within = [*rising, _runs(bench, 32, 2540, 2530, 2560)]  # median 2,540 < 2,550, > 2,500
    assert verdict(within).startswith("met (")
    fallen = [*rising, _runs(bench, 32, 2490, 2450, 2480)]
    assert verdict(fallen) == "NOT met (32 below the slowest run at 8)"
    # a fall is found against any fewer connections, not only the point just before
    late = [*within, _runs(bench, 64, 2450, 2495, 2470)]
    assert verdict(late).startswith("NOT met (64 below the slowest run at 8")
