"""Fuzz the r ‖ s boundary: whatever a next-generation card (or a request claiming to carry its
answer) sends as a signature reaches `ecdsa_raw_to_der` and the verifier's proof path.

Inputs are arbitrary bytes, and the card's real answer mutated (bytes flipped, cut, extended,
r or s pushed to 0, n or beyond). Every harness asserts: a typed refusal (InvalidSignature at
the parser, `bad_signature` in the verdict) or an acceptance, never another exception; and an
accepted signature is exactly the one the card made (ECDSA is not malleable here: the parser
takes one fixed-length form, and a verifying (r, s) for this message came from the key).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from hypothesis import example, given
from hypothesis import strategies as st

from fuzz.budget import FUZZ
from kiosk.demo.verification import MemoryVerificationStore
from kiosk.pki.authority import Generation, init_pki
from kiosk.verify.challenge import ChallengeService
from kiosk.verify.crl import verify_crl_in
from kiosk.verify.proof import UserProof, signed_message
from kiosk.verify.scheme import P384_ORDER, P384_RAW_BYTES, ecdsa_der_to_raw, ecdsa_raw_to_der
from kiosk.verify.trust import TrustStore
from kiosk.verify.verdict import Reason
from kiosk.verify.verifier import Verifier

pytestmark = pytest.mark.fuzz

PROVIDER, TERMINAL = "demo-clinic", "kiosk-1"
N = P384_ORDER.to_bytes(48, "big")


class NextCard:
    """A next-generation card, a verifier over its CRLs, and one signed challenge."""

    def __init__(self, directory: Path) -> None:
        pki = init_pki(directory)
        card = pki.issue_card(generation=Generation.NEXT)
        self.now = datetime.now(UTC)
        trust = TrustStore.from_dir(pki.trust_dir)
        store = MemoryVerificationStore()
        for which in ("auth", "sign"):
            store.import_crl(verify_crl_in(pki.crl_der(which, Generation.NEXT), trust, self.now))
        self.challenges = ChallengeService()
        self.verifier = Verifier(trust, store, self.challenges)
        self.certificate = card.auth.certificate
        key = serialization.load_pem_private_key(card.auth.private_key_pem, password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        self.key = key

    def signed(self) -> tuple[bytes, bytes]:
        """A fresh challenge and the card's raw answer for it."""
        nonce = self.challenges.issue(PROVIDER, TERMINAL, self.now).nonce
        der = self.key.sign(signed_message(PROVIDER, TERMINAL, nonce), ec.ECDSA(hashes.SHA384()))
        return nonce, ecdsa_der_to_raw(der)

    def verdict(self, nonce: bytes, signature: bytes):  # type: ignore[no-untyped-def]
        proof = UserProof(PROVIDER, TERMINAL, nonce, self.certificate, signature)
        return self.verifier.verify_user_proof(proof, self.now)


@pytest.fixture(scope="module")
def next_card(tmp_path_factory: pytest.TempPathFactory) -> NextCard:
    return NextCard(tmp_path_factory.mktemp("fuzz-next") / "pki")


@FUZZ
@given(raw=st.binary(max_size=200))
@example(raw=bytes(96))
@example(raw=N + N)
@example(raw=b"\x00" * 47 + b"\x01" + N)
@example(raw=(P384_ORDER - 1).to_bytes(48, "big") * 2)
@example(raw=b"\x30" + bytes([94]) + bytes(94))  # shaped like DER, as long as raw
def test_raw_parser_refuses_or_gives_the_der_of_the_same_integers(raw: bytes) -> None:
    try:
        der = ecdsa_raw_to_der(raw)
    except InvalidSignature:
        r = int.from_bytes(raw[:48], "big")
        s = int.from_bytes(raw[48:], "big")
        assert len(raw) != P384_RAW_BYTES or not (0 < r < P384_ORDER and 0 < s < P384_ORDER)
        return
    assert len(raw) == P384_RAW_BYTES
    assert decode_dss_signature(der) == (
        int.from_bytes(raw[:48], "big"),
        int.from_bytes(raw[48:], "big"),
    )


_mutation = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 95), st.integers(1, 255)),
    st.tuples(st.just("cut"), st.integers(0, 95), st.just(0)),
    st.tuples(st.just("extend"), st.integers(0, 255), st.integers(1, 4)),
    st.tuples(st.just("r"), st.sampled_from([0, 1, P384_ORDER - 1, P384_ORDER]), st.just(0)),
    st.tuples(st.just("s"), st.sampled_from([0, 1, P384_ORDER - 1, P384_ORDER]), st.just(0)),
    st.tuples(st.just("negate_s"), st.just(0), st.just(0)),
)


def _mutate(raw: bytes, mutation: tuple[str, int, int]) -> bytes:
    kind, a, b = mutation
    if kind == "flip":
        return raw[:a] + bytes([raw[a] ^ b]) + raw[a + 1 :]
    if kind == "cut":
        return raw[:a]
    if kind == "extend":
        return raw + bytes([a]) * b
    if kind == "r":
        return a.to_bytes(48, "big") + raw[48:]
    if kind == "s":
        return raw[:48] + a.to_bytes(48, "big")
    s = int.from_bytes(raw[48:], "big")  # (r, n - s) also verifies: the one malleable twin
    return raw[:48] + ((P384_ORDER - s) % P384_ORDER).to_bytes(48, "big")


@FUZZ
@given(mutations=st.lists(_mutation, min_size=1, max_size=3))
def test_mutated_card_answers_are_recorded_refusals_or_the_twin(
    next_card: NextCard, mutations: list[tuple[str, int, int]]
) -> None:
    nonce, raw = next_card.signed()
    mutated = raw
    for mutation in mutations:
        mutated = _mutate(mutated, mutation) if len(mutated) == 96 else mutated
    verdict = next_card.verdict(nonce, mutated)
    if verdict.ok:
        # what verifies is the card's own (r, s) or its twin (r, n - s): both came from the key
        r, s = decode_dss_signature(ecdsa_raw_to_der(raw))
        assert decode_dss_signature(ecdsa_raw_to_der(mutated)) in ((r, s), (r, P384_ORDER - s))
    else:
        assert verdict.reason is Reason.BAD_SIGNATURE, verdict.message


def test_the_cards_own_answer_is_accepted(next_card: NextCard) -> None:
    nonce, raw = next_card.signed()
    assert next_card.verdict(nonce, raw).ok
