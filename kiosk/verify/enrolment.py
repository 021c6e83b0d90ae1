"""Enrolment: link a person's card to an account at a provider, once.

The application (docs/proof-format.md §2) is a canonical JSON document, signed by the card's
signature key, naming the provider, the terminal, the account reference, the basic 4 info as
typed, the challenge nonce and the digest of the card's authentication certificate; plus a
user proof over the same nonce and the digest of the signature certificate, made with the
authentication key. Each half names the other's certificate, so a signature certificate from
one card cannot be paired with an authentication key from another unless both cards' secrets
were used for that pairing. Where the issuer's serial service is configured it confirms the
pair; in the online path the user proof is absent and the service names the authentication
certificate that belongs to the signature certificate.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Protocol

from kiosk.verify.certcheck import CheckedCertificate, verify_signature
from kiosk.verify.profile import SEX_CODES, BasicFourInfo, ProfileError, parse_basic_four
from kiosk.verify.proof import UserProof, signed_message
from kiosk.verify.trust import KeyPurpose
from kiosk.verify.verdict import CertRef, EnrolmentVerdict, Reason, Refused, VerifyError

if TYPE_CHECKING:
    from kiosk.verify.certcheck import CertificateValidator

APPLICATION_FORMAT = "jpki-kiosk/enrolment-2"
#: Formats this verifier once accepted and now refuses, with why.
RETIRED_FORMATS = {
    "jpki-kiosk/enrolment-1": (
        "The enrolment application is format 1, whose two signatures do not name each "
        "other's certificate; this verifier accepts only " + APPLICATION_FORMAT + "."
    ),
}


class SerialServiceUnavailable(VerifyError):
    """The serial service could not answer (unreachable, timed out, an error): fail closed."""

    code = "serial_unavailable"


class SerialService(Protocol):
    """The issuer's service mapping a signature certificate to the holder's current auth cert.

    An implementation raises SerialServiceUnavailable for any failure to answer, so that the
    enrolment is refused with its own reason rather than taken for a mismatch or an error."""

    def auth_serial_for(self, sign: CertRef, now: datetime) -> CertRef | None:
        """The authentication certificate issued with that signature certificate, or None."""


def certificate_digest(der: bytes) -> bytes:
    """SHA-256 of a certificate's DER: how each half of an application names the other's."""
    return hashlib.sha256(der).digest()


def auth_binding_message(
    provider_id: str, terminal_id: str, nonce: bytes, sign_certificate_sha256: bytes
) -> bytes:
    """The 96-byte message an enrolment's authentication key signs: a user proof's M for the
    same challenge, then the digest of the signature certificate it enrols with.

    A user proof's M is 64 bytes, so neither can stand for the other."""
    return signed_message(provider_id, terminal_id, nonce) + sign_certificate_sha256


def application_document(
    provider_id: str,
    terminal_id: str,
    account_ref: str,
    four_info: BasicFourInfo,
    nonce: bytes,
    auth_certificate_sha256: bytes | None,
) -> bytes:
    """The canonical JSON bytes the signature key signs (sorted keys, no spaces, UTF-8).

    `auth_certificate_sha256` is the digest of the authentication certificate of the same
    card (None only in the online path, where the serial service names it)."""
    doc = {
        "format": APPLICATION_FORMAT,
        "provider_id": provider_id,
        "terminal_id": terminal_id,
        "account_ref": account_ref,
        "four_info": {
            "name": four_info.name,
            "address": four_info.address,
            "birth_date": four_info.birth_date.isoformat(),
            "sex": four_info.sex,
        },
        "nonce": _b64(nonce),
        "auth_certificate_sha256": _b64_or_none(auth_certificate_sha256),
    }
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    try:
        return text.encode()
    except UnicodeEncodeError as e:  # a lone surrogate: no card signed that, nor could
        raise Refused(Reason.MALFORMED, "The enrolment application is not valid text.") from e


@dataclass(frozen=True, slots=True)
class EnrolmentApplication:
    """What the kiosk sends to enrol: the signed document, both certificates, both signatures."""

    provider_id: str
    terminal_id: str
    account_ref: str
    four_info: BasicFourInfo  # as typed by the person or the provider
    nonce: bytes
    sign_certificate: bytes  # DER
    sign_signature: bytes  # over document(), PKCS#1 v1.5 / SHA-256
    #: over auth_binding_message(...) with the key of auth_proof.certificate; None: online
    #: path, the serial service names the auth cert
    auth_proof: UserProof | None
    #: the digest of the auth certificate the signature key signed for (in the document)
    auth_certificate_sha256: bytes | None

    def document(self) -> bytes:
        """The canonical document the signature key signed."""
        return application_document(
            self.provider_id,
            self.terminal_id,
            self.account_ref,
            self.four_info,
            self.nonce,
            self.auth_certificate_sha256,
        )

    def auth_message(self) -> bytes:
        """The message the authentication key must have signed for this application."""
        return auth_binding_message(
            self.provider_id,
            self.terminal_id,
            self.nonce,
            certificate_digest(self.sign_certificate),
        )

    def to_json(self) -> dict[str, Any]:
        """The application as a JSON object (bytes in standard base64)."""
        return {
            "document": json.loads(self.document()),
            "sign_certificate": _b64(self.sign_certificate),
            "sign_signature": _b64(self.sign_signature),
            "auth_proof": None if self.auth_proof is None else self.auth_proof.to_json(),
        }

    @classmethod
    def from_json(cls, obj: Any) -> EnrolmentApplication:
        """Parse to_json()'s output; anything else raises Refused(malformed), a retired
        format with a message that says so."""
        try:
            doc = obj["document"]
            _check_format(doc["format"])
            info = doc["four_info"]
            proof = obj.get("auth_proof")
            digest = doc["auth_certificate_sha256"]
            return cls(
                provider_id=_str(doc["provider_id"]),
                terminal_id=_str(doc["terminal_id"]),
                account_ref=_str(doc["account_ref"]),
                four_info=BasicFourInfo(
                    name=_str(info["name"]),
                    address=_str(info["address"]),
                    birth_date=date.fromisoformat(_str(info["birth_date"])),
                    sex=info["sex"],
                ),
                nonce=base64.b64decode(_str(doc["nonce"]), validate=True),
                sign_certificate=base64.b64decode(_str(obj["sign_certificate"]), validate=True),
                sign_signature=base64.b64decode(_str(obj["sign_signature"]), validate=True),
                auth_proof=None if proof is None else UserProof.from_json(proof),
                auth_certificate_sha256=(
                    None if digest is None else base64.b64decode(_str(digest), validate=True)
                ),
            )
        except (KeyError, TypeError, ValueError, binascii.Error) as e:
            raise Refused(Reason.MALFORMED, "The enrolment application is malformed.") from e


def make_application(
    provider_id: str,
    terminal_id: str,
    account_ref: str,
    four_info: BasicFourInfo,
    nonce: bytes,
    sign_certificate: bytes,
    auth_certificate: bytes,
    *,
    sign: Callable[[bytes], bytes],
    authenticate: Callable[[bytes], bytes],
) -> EnrolmentApplication:
    """An application with each half naming the other's certificate, as the kiosk makes it.

    `sign` and `authenticate` have the card's signature and authentication keys sign SHA-256
    of a message (`JpkiSession.sign_message`: in the scheme of its certificate); the signature
    key signs first."""
    document = application_document(
        provider_id,
        terminal_id,
        account_ref,
        four_info,
        nonce,
        certificate_digest(auth_certificate),
    )
    sign_signature = sign(document)
    auth_signature = authenticate(
        auth_binding_message(provider_id, terminal_id, nonce, certificate_digest(sign_certificate))
    )
    return EnrolmentApplication(
        provider_id,
        terminal_id,
        account_ref,
        four_info,
        nonce,
        sign_certificate,
        sign_signature,
        UserProof(provider_id, terminal_id, nonce, auth_certificate, auth_signature),
        certificate_digest(auth_certificate),
    )


def _check_format(value: Any) -> None:
    if value == APPLICATION_FORMAT:
        return
    retired = RETIRED_FORMATS.get(value) if isinstance(value, str) else None
    if retired is not None:
        raise Refused(Reason.MALFORMED, retired)
    raise ValueError("format")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _b64_or_none(data: bytes | None) -> str | None:
    return None if data is None else _b64(data)


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("expected a string")
    return value


_DASHES = re.compile("[\u2010-\u2015\u2212\u30fc\uff70-]")
_SPACES = re.compile(r"\s+")


def normalise_text(text: str) -> str:
    """Fold a typed name or address for comparison: NFKC, one kind of dash, no spaces."""
    folded = unicodedata.normalize("NFKC", text)
    return _SPACES.sub("", _DASHES.sub("-", folded))


def four_info_matches(typed: BasicFourInfo, certified: BasicFourInfo) -> bool:
    """Whether the typed 4 info is the certificate's, up to width, spacing and dash forms."""
    return (
        normalise_text(typed.name) == normalise_text(certified.name)
        and normalise_text(typed.address) == normalise_text(certified.address)
        and typed.birth_date == certified.birth_date
        and SEX_CODES[typed.sex] == SEX_CODES[certified.sex]
    )


def check_enrolment(
    app: EnrolmentApplication,
    now: datetime,
    validator: CertificateValidator,
    serial_service: SerialService | None,
) -> EnrolmentVerdict:
    """Run every enrolment check after the challenge's, in order; the first failure decides
    the verdict (the verifier checks the challenge first and records the verdict)."""
    sign: CertRef | None = None
    auth: CertRef | None = None
    try:
        checked_sign = validator.static_checks(app.sign_certificate, KeyPurpose.SIGN)
        sign = checked_sign.ref
        checked_sign.check_validity(now)
        verify_signature(checked_sign, app.sign_signature, app.document())
        try:
            certified = parse_basic_four(checked_sign.certificate)
        except ProfileError as e:
            raise Refused(Reason.MALFORMED, "The signature certificate lacks the 4 info.") from e
        if not four_info_matches(app.four_info, certified):
            raise Refused(
                Reason.FOUR_INFO_MISMATCH, "The details entered do not match the certificate."
            )
        validator.check_revocation(checked_sign.anchor, sign.serial, now)
        auth = _auth_part(app, now, validator, checked_sign)
        if serial_service is not None or app.auth_proof is None:
            auth = _confirm_with_serial_service(
                checked_sign.ref, auth, now, validator, serial_service
            )
    except Refused as e:
        return EnrolmentVerdict(False, e.reason, str(e), now, *_flat(sign), *_flat(auth))
    return EnrolmentVerdict(True, Reason.OK, "Enrolled.", now, *_flat(sign), *_flat(auth))


def _auth_part(
    app: EnrolmentApplication,
    now: datetime,
    validator: CertificateValidator,
    checked_sign: CheckedCertificate,
) -> CertRef | None:
    """The card path: the user proof's certificate, checked to be the one the signature key
    signed for, and its signature to cover this challenge and this signature certificate.
    None in the online path (no proof; the serial service names the certificate)."""
    proof = app.auth_proof
    if proof is None:
        if app.auth_certificate_sha256 is not None:
            raise Refused(
                Reason.MALFORMED,
                "The application names an authentication certificate but carries no proof.",
            )
        return None
    if (proof.provider_id, proof.terminal_id, proof.nonce) != (
        app.provider_id,
        app.terminal_id,
        app.nonce,
    ):
        raise Refused(
            Reason.NOT_SAME_SESSION, "The two signatures were not made for the same challenge."
        )
    if app.auth_certificate_sha256 != certificate_digest(proof.certificate):
        raise Refused(
            Reason.NOT_SAME_SESSION,
            "The signature key signed for another authentication certificate.",
        )
    checked = validator.static_checks(proof.certificate, KeyPurpose.AUTH)
    if checked.scheme.key_der == checked_sign.scheme.key_der:
        raise Refused(Reason.NOT_SAME_SESSION, "Both certificates carry the same key.")
    checked.check_validity(now)
    # the authentication key's signature names the signature certificate: bad otherwise
    verify_signature(checked, proof.signature, app.auth_message())
    validator.check_revocation(checked.anchor, checked.certificate.serial_number, now)
    return checked.ref


def _confirm_with_serial_service(
    sign: CertRef,
    auth: CertRef | None,
    now: datetime,
    validator: CertificateValidator,
    serial_service: SerialService | None,
) -> CertRef:
    """Ask the issuer which authentication certificate belongs with `sign`: in the card path
    it must be the proof's (`auth`), in the online path (`auth` None) it is the one enrolled.
    A service that cannot answer refuses the enrolment: the pair is never taken unconfirmed."""
    if serial_service is None:
        raise Refused(Reason.SERIAL_UNAVAILABLE, "No serial service is configured.")
    try:
        named = serial_service.auth_serial_for(sign, now)
    except SerialServiceUnavailable as e:
        raise Refused(
            Reason.SERIAL_UNAVAILABLE, "The issuer's serial service did not answer."
        ) from e
    if auth is not None:
        if named != auth:
            raise Refused(
                Reason.SERIAL_MISMATCH,
                "The issuer does not pair this signature certificate with this "
                "authentication certificate.",
            )
        return auth
    if named is None:
        raise Refused(
            Reason.SERIAL_UNAVAILABLE,
            "The issuer names no authentication certificate for this card.",
        )
    anchor = validator.trust.by_key_id(named.issuer_key_id)
    if anchor is None or anchor.purpose is KeyPurpose.SIGN:
        raise Refused(Reason.UNKNOWN_ISSUER, "The authentication CA named is not trusted.")
    validator.check_revocation(anchor, named.serial, now)
    return named


def _flat(ref: CertRef | None) -> tuple[int | None, str | None]:
    return (None, None) if ref is None else (ref.serial, ref.issuer_key_id)
