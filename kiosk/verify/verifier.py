"""The verifier: user proofs (電子利用者証明), enrolments and link checks, failing closed."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from kiosk.verify.certcheck import (
    CertificateValidator,
    CheckedCertificate,
    RevocationSource,
    verify_signature,
)
from kiosk.verify.challenge import ChallengeService
from kiosk.verify.enrolment import EnrolmentApplication, SerialService, check_enrolment
from kiosk.verify.ports import RevocationIndex
from kiosk.verify.proof import UserProof
from kiosk.verify.trust import KeyPurpose, TrustStore
from kiosk.verify.verdict import CertRef, EnrolmentVerdict, LinkStatus, Reason, Refused, Verdict


class Verifier:
    """Verifies user proofs and enrolment applications against pinned anchors and CRLs."""

    def __init__(
        self,
        trust: TrustStore,
        revocation: RevocationIndex,
        challenges: ChallengeService,
        *,
        crl_grace_s: int = 0,
        sources: Mapping[str, RevocationSource] | None = None,
        serial_service: SerialService | None = None,
        cache_size: int = 4096,
        crl_info_ttl_s: float = 5.0,
    ) -> None:
        self._validator = CertificateValidator(
            trust,
            revocation,
            crl_grace_s=crl_grace_s,
            sources=sources,
            cache_size=cache_size,
            crl_info_ttl_s=crl_info_ttl_s,
        )
        self._challenges = challenges
        self._serial_service = serial_service

    def verify_user_proof(
        self, proof: UserProof, now: datetime, linked_sign: CertRef | None = None
    ) -> Verdict:
        """Check one proof; with `linked_sign`, also check that link's signature certificate."""
        checked: CheckedCertificate | None = None
        try:
            self._challenges.redeem(proof.nonce, proof.provider_id, proof.terminal_id, now)
            message = proof.message()
            checked = self._validator.static_checks(proof.certificate, KeyPurpose.AUTH)
            checked.check_validity(now)
            verify_signature(checked.public_key, proof.signature, message)
            self._validator.check_revocation(checked.anchor, checked.ref.serial, now)
        except Refused as e:
            ref = None if checked is None else checked.ref
            return Verdict(
                False,
                e.reason,
                str(e),
                now,
                None if ref is None else ref.serial,
                None if ref is None else ref.issuer_key_id,
            )
        link: LinkStatus | None = None
        if linked_sign is not None:
            link = self._validator.link_status(linked_sign, now)
        ref = checked.ref
        return Verdict(True, Reason.OK, "Verified.", now, ref.serial, ref.issuer_key_id, link)

    def verify_enrolment(
        self, application: EnrolmentApplication, now: datetime
    ) -> EnrolmentVerdict:
        """Check an enrolment application (both keys, one session, the 4 info as typed)."""
        return check_enrolment(
            application, now, self._validator, self._challenges, self._serial_service
        )

    def check_link(self, sign: CertRef, now: datetime) -> LinkStatus:
        """Whether a link's signature certificate still stands (revoked: re-enrolment needed)."""
        return self._validator.link_status(sign, now)
