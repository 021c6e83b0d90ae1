"""In-memory implementations of the verification ports, for tests and demos (not durable)."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from kiosk.verify.crl import VerifiedCrl
from kiosk.verify.ports import CrlInfo, RevokedEntry
from kiosk.verify.trust import subject_key_id
from kiosk.verify.verdict import CertRef

if TYPE_CHECKING:
    from kiosk.pki.authority import TestPki


class MemoryChallengeStore:
    """A ChallengeStore in a dict; record_use() is atomic under a lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._uses: dict[bytes, tuple[datetime, datetime]] = {}  # id -> (used_at, expires_at)

    def record_use(
        self, challenge_id: bytes, used_at: datetime, expires_at: datetime
    ) -> datetime | None:
        """Record the use; the earlier use's time if there was one (None: first use)."""
        with self._lock:
            earlier = self._uses.get(challenge_id)
            if earlier is None:
                self._uses[challenge_id] = (used_at, expires_at)
                return None
        return earlier[0]

    def purge(self, expired_before: datetime) -> int:
        """Forget uses of challenges that expired before that time; return how many."""
        with self._lock:
            old = [k for k, (_, expires_at) in self._uses.items() if expires_at < expired_before]
            for k in old:
                del self._uses[k]
        return len(old)


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
