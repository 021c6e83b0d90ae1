"""In-memory implementations of the verification ports, for tests and demos (not durable)."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from kiosk.verify.crl import VerifiedCrl
from kiosk.verify.ports import (
    CrlInfo,
    CrlState,
    LedgerEntry,
    LinkState,
    LinkTaken,
    ProofContext,
    RevokedEntry,
)
from kiosk.verify.verdict import CertRef


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


_LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)


class MemoryVerificationStore(MemoryRevocationIndex):
    """A VerificationStore in dicts: CRLs, links added with `add_link`, and the ledger
    (`entries`); record() is atomic under a lock."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._links: dict[tuple[str, str, int], _MemoryLink] = {}
        self._used: set[tuple[int, bytes]] = set()
        self.entries: list[LedgerEntry] = []

    def add_link(
        self,
        provider_id: str,
        account_ref: str,
        auth: CertRef,
        sign: CertRef,
        status: str = "active",
        at: datetime = _LONG_AGO,
    ) -> int:
        """Link an account to a card's certificates, or move the provider's link of that
        account to them (re-enrolment: active again, linked since the first time); its id."""
        with self._lock:
            for key, link in list(self._links.items()):
                if key[0] == provider_id and link.account_ref == account_ref:
                    del self._links[key]
                    link.sign, link.status = sign, status
                    self._links[(provider_id, auth.issuer_key_id, auth.serial)] = link
                    return link.link_id
            link_id = len(self._links) + 1
            key = (provider_id, auth.issuer_key_id, auth.serial)
            self._links[key] = _MemoryLink(link_id, account_ref, status, sign, at)
        return link_id

    def linked_at(self, link_id: int) -> datetime | None:
        """Since when the link with that id exists, or None."""
        return next((k.linked_at for k in self._links.values() if k.link_id == link_id), None)

    def account_status(self, provider_id: str, account_ref: str) -> str | None:
        """The status of the provider's link to this account, if there is one."""
        with self._lock:
            for (provider, _issuer, _serial), link in self._links.items():
                if provider == provider_id and link.account_ref == account_ref:
                    return link.status
        return None

    def link_status(self, link_id: int) -> str | None:
        """The status of the link with that id, or None."""
        return next((k.status for k in self._links.values() if k.link_id == link_id), None)

    def proof_context(self, provider_id: str, issuer_key_id: str, serial: int) -> ProofContext:
        """The auth CRL's state for the serial, and the provider's link with its sign CRL's."""
        link = self._links.get((provider_id, issuer_key_id, serial))
        state = None
        if link is not None and link.status != "revoked":
            sign = link.sign
            state = LinkState(
                link.link_id,
                link.account_ref,
                link.status,
                sign.issuer_key_id,
                sign.serial,
                self._crl_state(sign.issuer_key_id, sign.serial),
                link.linked_at,
            )
        return ProofContext(self._crl_state(issuer_key_id, serial), state)

    def _crl_state(self, issuer_key_id: str, serial: int) -> CrlState | None:
        info = self.crl_info(issuer_key_id)
        if info is None:
            return None
        return CrlState(info.next_update, self.lookup(issuer_key_id, serial) is not None)

    def record(self, entry: LedgerEntry) -> bool:
        """Keep the entry; False (nothing kept) when its challenge was used before."""
        with self._lock:
            claim = entry.challenge
            key = None if claim is None else (claim.expires_us, claim.challenge_id)
            if key in self._used:
                return False
            link = entry.link_to
            if link is not None:
                held = self._links.get(
                    (entry.provider_id, link.auth.issuer_key_id, link.auth.serial)
                )
                if held is not None and held.account_ref != link.account_ref:
                    raise LinkTaken("This card is already linked to another account here.")
            if key is not None:
                self._used.add(key)
            if entry.flag_link:
                for stored in self._links.values():
                    if stored.link_id == entry.link_id and stored.status == "active":
                        stored.status = "needs_reenrolment"
            self.entries.append(entry)
        if link is not None:
            self.add_link(entry.provider_id, link.account_ref, link.auth, link.sign, at=entry.at)
        return True


@dataclass
class _MemoryLink:
    link_id: int
    account_ref: str
    status: str
    sign: CertRef
    linked_at: datetime
