"""User-proof benchmark: proofs verified per second on one core, end to end through the store.

Run: .venv/bin/python bench/verify_bench.py [--proofs 3000] [--cards 200] [--db sqlite|postgres]

Each proof goes: issue a challenge (stored) -> take it -> chain (cached), validity, signature,
CRL lookup of the auth certificate -> find the link -> CRL lookup of its signature certificate
-> append the audit entry. The card's signatures are made before the timed loop (the nonces
come from an injected random source), since signing is the card's work, not the verifier's.
The raw RSA-2048 PKCS#1 v1.5 verify rate of `cryptography` is measured in the same run.
The process is pinned to one CPU (PostgreSQL's server process runs on another).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from kiosk.pki.authority import generate_key, init_pki
from kiosk.store.audit import AuditLog
from kiosk.store.challenges import SqlChallengeStore
from kiosk.store.crlimport import check_crl
from kiosk.store.engine import Database
from kiosk.store.links import LinkRepository
from kiosk.store.revocation import SqlRevocationIndex
from kiosk.verify.challenge import ChallengeService
from kiosk.verify.proof import UserProof, proof_digest_info
from kiosk.verify.trust import TrustStore
from kiosk.verify.verdict import CertRef
from kiosk.verify.verifier import Verifier

ROOT = Path(__file__).resolve().parents[1]
PROVIDER, TERMINAL = "bench-clinic", "kiosk-1"


def raw_verify_rate(seconds: float = 2.0) -> float:
    """RSA-2048 PKCS#1 v1.5 / SHA-256 verifications per second, `cryptography` in a loop."""
    key = generate_key(2048)
    message = os.urandom(64)
    signature = key.sign(message, padding.PKCS1v15(), hashes.SHA256())
    public, pad, sha = key.public_key(), padding.PKCS1v15(), hashes.SHA256()
    count, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        for _ in range(500):
            public.verify(signature, message, pad, sha)
        count += 500
    return count / elapsed


class Cards:
    """`count` test cards sharing two key pairs (distinct certificates and serials)."""

    def __init__(self, pki, count: int) -> None:
        keys = (generate_key(), generate_key())
        self.cards = [pki.issue_card(keys=keys) for _ in range(count)]
        self.auth_key = load_pem_private_key(self.cards[0].auth.private_key_pem, None)


def prepare(db_url: str, work: Path, cards: int, proofs: int):
    pki = init_pki(work / "pki")
    deck = Cards(pki, cards)
    db = Database(db_url)
    db.upgrade()
    trust = TrustStore.from_dir(pki.trust_dir)
    index = SqlRevocationIndex(db)
    # revoke a few other certificates so the CRLs are not empty
    for which in ("auth", "sign"):
        der = b""
        for serial in range(10_000, 10_050):
            der = pki.revoke(serial, which)
        index.replace(check_crl(der, trust), datetime.now(UTC))
    links = LinkRepository(db)
    now = datetime.now(UTC)
    links.add_provider(PROVIDER, "Bench Clinic", now)
    for i, card in enumerate(deck.cards):
        auth = x509.load_der_x509_certificate(card.auth.certificate)
        sign = x509.load_der_x509_certificate(card.sign.certificate)
        issuer = trust.candidates(auth.issuer, None)[0].key_id
        sign_issuer = trust.candidates(sign.issuer, None)[0].key_id
        links.create(
            provider_id=PROVIDER,
            account_ref=f"acct-{i}",
            auth_issuer_key_id=issuer,
            auth_serial=auth.serial_number,
            sign_issuer_key_id=sign_issuer,
            sign_serial=sign.serial_number,
            at=now,
        )
    nonces = [os.urandom(32) for _ in range(proofs)]
    signed = []
    for i, nonce in enumerate(nonces):
        card = deck.cards[i % cards]
        digest_info = proof_digest_info(PROVIDER, TERMINAL, nonce)
        # the card signs a ready DigestInfo: raw PKCS#1 v1.5 type 1 padding over it
        signature = _sign_digest_info(deck.auth_key, digest_info)
        signed.append(UserProof(PROVIDER, TERMINAL, nonce, card.auth.certificate, signature))
    return db, trust, index, links, nonces, signed


def _sign_digest_info(key, digest_info: bytes) -> bytes:
    size = key.key_size // 8
    block = b"\x00\x01" + b"\xff" * (size - 3 - len(digest_info)) + b"\x00" + digest_info
    n = key.private_numbers().public_numbers.n
    d = key.private_numbers().d
    return pow(int.from_bytes(block, "big"), d, n).to_bytes(size, "big")


def run(db_url: str, work: Path, cards: int, proofs: int) -> float:
    """Proofs per second through the whole path."""
    db, trust, index, links, nonces, signed = prepare(db_url, work, cards, proofs)
    feed = iter(nonces)
    challenges = ChallengeService(SqlChallengeStore(db), random=lambda n: next(feed))
    verifier = Verifier(trust, index, challenges)
    audit = AuditLog(db)
    failures, first_failure = 0, None
    started = time.perf_counter()
    for proof in signed:
        now = datetime.now(UTC)
        challenges.issue(PROVIDER, TERMINAL, now)  # commit 1: durable before it is handed out
        with db.unit():  # commit 2: the challenge is used up and the verdict audited together
            verdict = verifier.verify_user_proof(proof, now)
            reason = verdict.reason.value
            if verdict.ok:
                link = links.find_by_auth(PROVIDER, verdict.issuer_key_id, verdict.auth_serial)
                sign = CertRef(link.sign_serial, link.sign_issuer_key_id)
                reason = verifier.check_link(sign, now).value
            else:
                failures += 1
                first_failure = first_failure or verdict.reason.value
            audit.append(
                at=now,
                provider_id=PROVIDER,
                terminal_id=TERMINAL,
                action="user_proof",
                ok=verdict.ok,
                reason=reason,
                issuer_key_id=verdict.issuer_key_id,
                serial=verdict.auth_serial,
            )
    elapsed = time.perf_counter() - started
    db.dispose()
    if failures:
        raise SystemExit(f"{failures} proofs were refused ({first_failure}); the bench is broken")
    return proofs / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--proofs", type=int, default=3000)
    parser.add_argument("--cards", type=int, default=200)
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="sqlite")
    args = parser.parse_args()
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    raw = raw_verify_rate()
    print(f"raw RSA-2048 PKCS#1 v1.5 verify: {raw:,.0f}/s (one core)", flush=True)
    with tempfile.TemporaryDirectory(prefix="verify-bench-") as tmp:
        work = Path(tmp)
        targets = []
        if args.db in ("sqlite", "both"):
            targets.append(("sqlite", lambda: f"sqlite:///{work / 'bench.sqlite3'}", None))
        if args.db in ("postgres", "both"):
            sys.path.insert(0, str(ROOT / "tests"))
            from postgres_fixtures import postgres_server

            targets.append(("postgres", None, postgres_server))
        for name, url_of, server in targets:
            sub = work / name
            if server is None:
                rate = run(url_of(), sub, args.cards, args.proofs)
            else:
                with server() as url:
                    rate = run(url, sub, args.cards, args.proofs)
            print(
                f"{name:8} user proofs end to end: {rate:,.0f}/s = {rate / raw:.1%} of raw "
                f"(target >= 25 %)",
                flush=True,
            )


if __name__ == "__main__":
    main()
