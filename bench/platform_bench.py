"""Platform benchmark: challenges and user proofs over HTTP, one kiosk connection at a time.

Run: .venv/bin/python bench/platform_bench.py [--proofs 2000] [--cards 50]

`kiosk platform serve` runs in its own process on one CPU (SQLite store, the test PKI's CRLs);
this process, the "kiosk", runs on the other: it asks for `--proofs` challenges (timed), has the
cards sign them (not timed: the card's work), then sends the proofs one after another (timed)
over one keep-alive connection, as a kiosk does. Printed: requests per second and the latency
percentiles of each kind. On a machine with one CPU both share it.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from kiosk.pki.authority import generate_key, init_pki
from kiosk.verify.proof import UserProof, signed_message

ROOT = Path(__file__).resolve().parents[1]
PROVIDER, TERMINAL = "bench-clinic", "kiosk-1"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def serve(work: Path, port: int, token: str, cpu: int | None) -> subprocess.Popen[bytes]:
    """Start the platform on `port` with the test PKI in `work`; wait until it answers."""
    (work / "platform.toml").write_text(
        f'data_dir = "{work / "data"}"\ntrust_dir = "{work / "pki" / "trust"}"\n'
        f'crl_dir = "{work / "pki" / "crl"}"\n\n[platform_tokens]\n'
        f'{PROVIDER} = "{hashlib.sha256(token.encode()).hexdigest()}"\n'
    )
    cmd = [str(Path(sys.executable).with_name("kiosk")), "platform", "serve"]
    cmd += ["--config", str(work / "platform.toml"), "--port", str(port)]

    def pin() -> None:
        if cpu is not None:
            os.sched_setaffinity(0, {cpu})

    server = subprocess.Popen(
        cmd, preexec_fn=pin, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v1/health", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit("the platform did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--proofs", type=int, default=2000)
    parser.add_argument("--cards", type=int, default=50)
    args = parser.parse_args()
    cpus = sorted(os.sched_getaffinity(0))
    server_cpu = cpus[1] if len(cpus) > 1 else None
    os.sched_setaffinity(0, {cpus[0]})
    token = secrets.token_urlsafe(32)
    with tempfile.TemporaryDirectory(prefix="platform-bench-") as tmp:
        work = Path(tmp)
        pki = init_pki(work / "pki")
        keys = (generate_key(), generate_key())
        cards = [pki.issue_card(keys=keys) for _ in range(args.cards)]
        auth_key = load_pem_private_key(cards[0].auth.private_key_pem, None)
        for which in ("auth", "sign"):
            (pki.crl_dir / f"{which}.crl").write_bytes(pki.crl_der(which))
        port = free_port()
        server = serve(work, port, token, server_cpu)
        try:
            headers = {"Authorization": f"Bearer {token}"}
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers) as kiosk:
                ids = {"provider_id": PROVIDER, "terminal_id": TERMINAL}
                issue_times, nonces = [], []
                started = time.perf_counter()
                for _ in range(args.proofs):
                    t = time.perf_counter()
                    r = kiosk.post("/v1/challenges", json=ids)
                    issue_times.append(time.perf_counter() - t)
                    nonces.append(base64.b64decode(r.json()["nonce"]))
                issue_rate = args.proofs / (time.perf_counter() - started)
                proofs = []
                for i, nonce in enumerate(nonces):  # the cards' work, not timed
                    message = signed_message(PROVIDER, TERMINAL, nonce)
                    signature = auth_key.sign(message, padding.PKCS1v15(), hashes.SHA256())
                    card = cards[i % len(cards)]
                    proof = UserProof(PROVIDER, TERMINAL, nonce, card.auth.certificate, signature)
                    proofs.append(proof.to_json())
                verify_times = []
                started = time.perf_counter()
                for body in proofs:
                    t = time.perf_counter()
                    r = kiosk.post("/v1/proofs", json=body)
                    verify_times.append(time.perf_counter() - t)
                    if not r.json().get("ok"):
                        raise SystemExit(f"a proof was refused: {r.text}; bench is broken")
                proof_rate = args.proofs / (time.perf_counter() - started)
        finally:
            server.terminate()
            server.wait(10)
    for name, rate, times in (
        ("challenges", issue_rate, issue_times),
        ("proofs", proof_rate, verify_times),
    ):
        p50, p99 = statistics.median(times) * 1e3, percentile(times, 0.99) * 1e3
        print(
            f"{name:10} {rate:7,.0f}/s over HTTP, one connection; "
            f"latency p50 {p50:.2f} ms, p99 {p99:.2f} ms",
            flush=True,
        )


if __name__ == "__main__":
    main()
