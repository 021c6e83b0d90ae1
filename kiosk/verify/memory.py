"""In-memory implementations of the verification ports, for tests and demos (not durable)."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from kiosk.verify.crl import VerifiedCrl
from kiosk.verify.ports import CrlInfo, IssuedChallenge, RevokedEntry, TakenChallenge
from kiosk.verify.trust import subject_key_id
from kiosk.verify.verdict import CertRef

if TYPE_CHECKING:
    from kiosk.pki.authority import TestPki


class MemoryChallengeStore:
    """A ChallengeStore in a dict; take() is atomic under a lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[bytes, tuple[IssuedChallenge, datetime | None]] = {}

    def add(self, challenge: IssuedChallenge) -> None:
        """Store a newly issued challenge."""
        with self._lock:
            if challenge.nonce in self._items:
                raise ValueError("duplicate challenge nonce")
            self._items[challenge.nonce] = (challenge, None)

    def take(self, nonce: bytes, used_at: datetime) -> TakenChallenge | None:
        """Mark the challenge used and say when it was used before (None: first use)."""
        with self._lock:
            item = self._items.get(nonce)
            if item is None:
                return None
            challenge, previously = item
            if previously is None:
                self._items[nonce] = (challenge, used_at)
            return TakenChallenge(challenge, previously)


class MemoryRevocationIndex:
    """A RevocationIndex in dicts; replace_crl() swaps an issuer's whole CRL at once."""

    def __init__(self) -> None:
        self._crls: dict[str, tuple[CrlInfo, dict[int, RevokedEntry]]] = {}

    def replace_crl(self, info: CrlInfo, entries: Iterable[RevokedEntry]) -> None:
        """Put in force a new CRL for info.issuer_key_id, replacing the previous one."""
        table = {e.serial: e for e in entries}
        self._crls[info.issuer_key_id] = (replace(info, entries=len(table)), table)

    def import_crl(self, crl: VerifiedCrl) -> None:
        """Put a verified CRL in force for its issuer."""
        self.replace_crl(crl.info, crl.entries())

    def crl_info(self, issuer_key_id: str) -> CrlInfo | None:
        """The CRL in force for that issuer, or None."""
        found = self._crls.get(issuer_key_id)
        return None if found is None else found[0]

    def lookup(self, issuer_key_id: str, serial: int) -> RevokedEntry | None:
        """The revocation entry for that serial, or None."""
        found = self._crls.get(issuer_key_id)
        return None if found is None else found[1].get(serial)


class MemorySerialService:
    """A SerialService from a mapping of signature certificates to authentication certificates."""

    def __init__(self, pairs: Mapping[CertRef, CertRef]) -> None:
        self._pairs = dict(pairs)

    @classmethod
    def from_test_pki(cls, pki: TestPki) -> MemorySerialService:
        """Pair each signature certificate with the auth certificate issued just before it.

        TestPki.issue_card records a card's two certificates as adjacent entries (auth, sign)."""
        auth_id = subject_key_id(pki.ca_certificate("auth"))
        sign_id = subject_key_id(pki.ca_certificate("sign"))
        issued = pki.issued()
        return cls(
            {
                CertRef(sign.serial, sign_id): CertRef(auth.serial, auth_id)
                for auth, sign in zip(issued, issued[1:], strict=False)
                if (auth.kind, sign.kind) == ("auth", "sign")
            }
        )

    def auth_serial_for(self, sign: CertRef, now: datetime) -> CertRef | None:
        """The authentication certificate issued with that signature certificate, or None."""
        return self._pairs.get(sign)
