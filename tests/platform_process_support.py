"""`kiosk platform serve` in a process of its own, as an operator starts it, for the tests that
need real platform processes (tests/e2e/test_federation.py, test_platform_workers.py): the
configuration file, a free port of 127.0.0.1, the health wait and the stop."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path

import httpx
import pytest

KIOSK_BIN = Path(__file__).resolve().parents[1] / ".venv" / "bin" / "kiosk"
START_TIMEOUT_S = 30.0  # a platform migrates its store and imports the CRLs first
STOP_TIMEOUT_S = 10.0


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def toml(value: object) -> str:
    """A TOML value for a string or a number (JSON's string escapes are TOML's)."""
    return json.dumps(value)


def write_config(path: Path, top: dict[str, object], tables: dict[str, dict[str, object]]) -> Path:
    lines = [f"{key} = {toml(value)}" for key, value in top.items()]
    for name, table in tables.items():
        lines.append(f"\n[{name}]")
        lines += [f"{json.dumps(key)} = {toml(value)}" for key, value in table.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


class Platform:
    """`kiosk platform serve` in its own process (`args` added to its command line, `env` to
    its environment, which keeps no KIOSK_ variable of the test's), stopped by `stop` (SIGTERM,
    then SIGKILL)."""

    def __init__(
        self,
        name: str,
        config: Path,
        port: int,
        log: Path,
        *,
        args: tuple[str, ...] = (),
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.name, self.port, self.log = name, port, log
        self.url = f"http://127.0.0.1:{port}"
        environ = {k: v for k, v in os.environ.items() if not k.startswith("KIOSK_")}
        command = [str(KIOSK_BIN), "platform", "serve", "--port", str(port)]
        with log.open("wb") as out:
            self.process = subprocess.Popen(  # noqa: S603 - the project's own command
                [*command, "--config", str(config), *args],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=environ | dict(env or {}),
            )

    def wait_healthy(self, deadline: float) -> None:
        """Poll GET /v1/health until it answers ok; fail with the log when the process ends or
        the deadline passes."""
        while True:
            if self.process.poll() is not None:
                pytest.fail(f"{self.name} exited ({self.process.returncode}):\n{self.log_text()}")
            try:
                if httpx.get(f"{self.url}/v1/health", timeout=1).json() == {"status": "ok"}:
                    return
            except (httpx.HTTPError, ValueError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"{self.name} did not answer its health check:\n{self.log_text()}")
            time.sleep(0.05)

    def stop(self) -> int:
        """Stop it (SIGTERM; SIGKILL after STOP_TIMEOUT_S) and answer its exit status."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(STOP_TIMEOUT_S)
        return self.process.returncode

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]
