"""The verifier: user proofs (電子利用者証明) and enrolments, failing closed, each verdict recorded.

Every verdict goes to the `VerificationStore` before it is returned, together with the use of
its challenge: a verdict and the use of its challenge are one record, so a challenge answers
exactly one recorded verdict (a second presentation is `challenge_replayed`) and no verdict
is handed out that the ledger does not hold.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import TypeVar

from kiosk.verify.certcheck import (
    CertificateValidator,
    CheckedCertificate,
    RevocationSource,
    verify_signature,
)
from kiosk.verify.challenge import IDENTIFIER, ChallengeService
from kiosk.verify.enrolment import EnrolmentApplication, SerialService, check_enrolment
from kiosk.verify.ports import ChallengeClaim, LedgerEntry, LinkTaken, NewLink, VerificationStore
from kiosk.verify.proof import UserProof
from kiosk.verify.trust import KeyPurpose, TrustStore
from kiosk.verify.verdict import (
    CertRef,
    EnrolmentVerdict,
    LinkStatus,
    Reason,
    Refused,
    Verdict,
)

#: Recorded in place of an id that is not an identifier (the verdict is `malformed`).
INVALID_ID = "invalid"
_NEEDS_REENROLMENT = LinkStatus.NEEDS_REENROLMENT.value
_REPLAYED = "This challenge has already been used."
V = TypeVar("V", Verdict, EnrolmentVerdict)


def _new_link(application: EnrolmentApplication, verdict: EnrolmentVerdict) -> NewLink | None:
    """The link an accepted enrolment makes (recorded with its verdict), else None."""
    if not verdict.ok:
        return None
    auth_serial, auth_issuer = verdict.auth_serial, verdict.auth_issuer_key_id
    sign_serial, sign_issuer = verdict.sign_serial, verdict.sign_issuer_key_id
    if auth_serial is None or auth_issuer is None or sign_serial is None or sign_issuer is None:
        raise ValueError("an accepted enrolment names both certificates")
    return NewLink(
        application.account_ref,
        CertRef(auth_serial, auth_issuer),
        CertRef(sign_serial, sign_issuer),
    )


_IDS_KEPT = 4096  # (provider, terminal) pairs remembered as well-formed


class _WellFormedIds:
    """Which (provider, terminal) pairs are identifiers, remembered (bounded)."""

    def __init__(self) -> None:
        self._seen: set[tuple[str, str]] = set()

    def refusal(self, provider_id: str, terminal_id: str) -> Refused | None:
        pair = (provider_id, terminal_id)
        if pair in self._seen:
            return None
        if IDENTIFIER.fullmatch(provider_id) is None or IDENTIFIER.fullmatch(terminal_id) is None:
            return Refused(
                Reason.MALFORMED, "The provider and terminal ids must be short identifiers."
            )
        if len(self._seen) >= _IDS_KEPT:
            self._seen.clear()
        self._seen.add(pair)
        return None


class Verifier:
    """Verifies user proofs and enrolment applications against pinned anchors and CRLs."""

    def __init__(
        self,
        trust: TrustStore,
        store: VerificationStore,
        challenges: ChallengeService,
        *,
        crl_grace_s: int = 0,
        sources: Mapping[str, RevocationSource] | None = None,
        serial_service: SerialService | None = None,
        cache_size: int = 4096,
    ) -> None:
        self._validator = CertificateValidator(
            trust,
            store,
            crl_grace_s=crl_grace_s,
            sources=sources,
            cache_size=cache_size,
        )
        self._store = store
        self._challenges = challenges
        self._serial_service = serial_service
        self._ids = _WellFormedIds()

    def verify_user_proof(
        self, proof: UserProof, now: datetime, action: str = "user_proof"
    ) -> Verdict:
        """Check one proof, record the verdict (using its challenge up) and return it.

        An accepted verdict names the provider's link of the certificate, if any: its account
        and whether its signature certificate still stands. A revoked one (the 4 info
        changed) flags the link for re-enrolment in the same write as the verdict."""
        provider, terminal = proof.provider_id, proof.terminal_id
        claim: ChallengeClaim | None = None
        checked: CheckedCertificate | None = None
        link_id, flag = None, False
        try:
            refused = self._ids.refusal(provider, terminal)
            if refused is not None:
                provider = terminal = INVALID_ID
                raise refused
            claim = self._challenges.check(proof.nonce, provider, terminal, now)
            checked = self._validator.static_checks(proof.certificate, KeyPurpose.AUTH)
            checked.check_validity(now)
            verify_signature(checked, proof.signature, proof.message())
            ref = checked.ref
            context = self._store.proof_context(provider, ref.issuer_key_id, ref.serial)
            self._validator.check_crl_state(checked.anchor, ref.serial, context.auth_crl, now)
        except Refused as e:
            refused_ref = None if checked is None else checked.ref
            verdict = Verdict(
                False,
                e.reason,
                str(e),
                now,
                None if refused_ref is None else refused_ref.serial,
                None if refused_ref is None else refused_ref.issuer_key_id,
            )
        else:
            link = context.link
            status = account = linked_at = None
            if link is not None:
                link_id, account, linked_at = link.link_id, link.account_ref, link.linked_at
                if link.status == _NEEDS_REENROLMENT:
                    status = LinkStatus.NEEDS_REENROLMENT
                else:
                    status = self._validator.linked_status(link, now)
                    flag = status is LinkStatus.NEEDS_REENROLMENT
            verdict = Verdict(
                True,
                Reason.OK,
                "Verified.",
                now,
                ref.serial,
                ref.issuer_key_id,
                status,
                account,
                linked_at,
            )
        entry = LedgerEntry(
            now,
            provider,
            terminal,
            action,
            verdict.ok,
            verdict.reason.value,
            verdict.issuer_key_id,
            verdict.auth_serial,
            claim,
            link_id,
            flag,
        )
        if self._store.record(entry):
            return verdict
        return self._replayed(entry, verdict)

    def verify_enrolment(
        self, application: EnrolmentApplication, now: datetime
    ) -> EnrolmentVerdict:
        """Check an enrolment application (both keys, one session, the 4 info as typed) and
        record the verdict (using its challenge up)."""
        provider, terminal = application.provider_id, application.terminal_id
        claim: ChallengeClaim | None = None
        try:
            refused = self._ids.refusal(provider, terminal)
            if refused is not None:
                provider = terminal = INVALID_ID
                raise refused
            claim = self._challenges.check(application.nonce, provider, terminal, now)
        except Refused as e:
            verdict = EnrolmentVerdict(False, e.reason, str(e), now)
        else:
            verdict = check_enrolment(application, now, self._validator, self._serial_service)
        entry = LedgerEntry(
            now,
            provider,
            terminal,
            "enrol",
            verdict.ok,
            verdict.reason.value,
            verdict.auth_issuer_key_id,
            verdict.auth_serial,
            claim,
            link_to=_new_link(application, verdict),
        )
        try:
            recorded = self._store.record(entry)
        except LinkTaken as e:  # nothing was written: refuse, using the challenge up
            verdict = replace(verdict, ok=False, reason=Reason.LINK_EXISTS, message=str(e))
            entry = entry._replace(ok=False, reason=verdict.reason.value, link_to=None)
            recorded = self._store.record(entry)
        if recorded:
            return verdict
        return self._replayed(entry, verdict)

    def _replayed(self, entry: LedgerEntry, verdict: V) -> V:
        """The challenge was used before: record and return that refusal instead."""
        reason = Reason.CHALLENGE_REPLAYED
        self._store.record(
            entry._replace(
                ok=False, reason=reason.value, challenge=None, flag_link=False, link_to=None
            )
        )
        refused = replace(verdict, ok=False, reason=reason, message=_REPLAYED)
        if isinstance(refused, Verdict):
            return replace(refused, link_status=None, account_ref=None, linked_at=None)
        return refused
