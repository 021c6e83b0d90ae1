"""Enrolment: link a person's card to an account at a provider, once.

The application (docs/proof-format.md §2) is a canonical JSON document, signed by the card's
signature key, naming the provider, the terminal, the account reference, the basic 4 info as
typed and the challenge nonce; plus a user proof over the same nonce made with the
authentication key. In the online path the user proof is absent and the issuer's serial
service names the authentication certificate that belongs to the signature certificate.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Protocol

from kiosk.pki.profile import SEX_CODES, BasicFourInfo, ProfileError, parse_basic_four
from kiosk.verify.certcheck import verify_signature
from kiosk.verify.proof import UserProof
from kiosk.verify.trust import KeyPurpose
from kiosk.verify.verdict import CertRef, EnrolmentVerdict, Reason, Refused

if TYPE_CHECKING:
    from kiosk.verify.certcheck import CertificateValidator

APPLICATION_FORMAT = "jpki-kiosk/enrolment-1"


class SerialService(Protocol):
    """The issuer's service mapping a signature certificate to the holder's current auth cert."""

    def auth_serial_for(self, sign: CertRef, now: datetime) -> CertRef | None:
        """The authentication certificate issued with that signature certificate, or None."""


def application_document(
    provider_id: str,
    terminal_id: str,
    account_ref: str,
    four_info: BasicFourInfo,
    nonce: bytes,
) -> bytes:
    """The canonical JSON bytes the signature key signs (sorted keys, no spaces, UTF-8)."""
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
        "nonce": base64.b64encode(nonce).decode("ascii"),
    }
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


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
    auth_proof: UserProof | None  # None: online path, the serial service names the auth cert

    def document(self) -> bytes:
        """The canonical document the signature key signed."""
        return application_document(
            self.provider_id, self.terminal_id, self.account_ref, self.four_info, self.nonce
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
        """Parse to_json()'s output; anything else raises Refused(malformed)."""
        try:
            doc = obj["document"]
            if doc["format"] != APPLICATION_FORMAT:
                raise ValueError("format")
            info = doc["four_info"]
            proof = obj.get("auth_proof")
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
            )
        except (KeyError, TypeError, ValueError, binascii.Error) as e:
            raise Refused(Reason.MALFORMED, "The enrolment application is malformed.") from e


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


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
        verify_signature(checked_sign.public_key, app.sign_signature, app.document())
        try:
            certified = parse_basic_four(checked_sign.certificate)
        except ProfileError as e:
            raise Refused(Reason.MALFORMED, "The signature certificate lacks the 4 info.") from e
        if not four_info_matches(app.four_info, certified):
            raise Refused(
                Reason.FOUR_INFO_MISMATCH, "The details entered do not match the certificate."
            )
        validator.check_revocation(checked_sign.anchor, sign.serial, now)
        auth = _auth_part(app, now, validator, serial_service, checked_sign.public_key)
    except Refused as e:
        return EnrolmentVerdict(False, e.reason, str(e), now, *_flat(sign), *_flat(auth))
    return EnrolmentVerdict(True, Reason.OK, "Enrolled.", now, *_flat(sign), *_flat(auth))


def _auth_part(
    app: EnrolmentApplication,
    now: datetime,
    validator: CertificateValidator,
    serial_service: SerialService | None,
    sign_key: Any,
) -> CertRef:
    proof = app.auth_proof
    if proof is None:
        return _auth_from_serial_service(app, now, validator, serial_service)
    if (proof.provider_id, proof.terminal_id, proof.nonce) != (
        app.provider_id,
        app.terminal_id,
        app.nonce,
    ):
        raise Refused(
            Reason.NOT_SAME_SESSION, "The two signatures were not made for the same challenge."
        )
    checked = validator.static_checks(proof.certificate, KeyPurpose.AUTH)
    if checked.public_key.public_numbers() == sign_key.public_numbers():
        raise Refused(Reason.NOT_SAME_SESSION, "Both certificates carry the same key.")
    checked.check_validity(now)
    verify_signature(checked.public_key, proof.signature, proof.message())
    validator.check_revocation(checked.anchor, checked.certificate.serial_number, now)
    return checked.ref


def _auth_from_serial_service(
    app: EnrolmentApplication,
    now: datetime,
    validator: CertificateValidator,
    serial_service: SerialService | None,
) -> CertRef:
    if serial_service is None:
        raise Refused(Reason.SERIAL_UNAVAILABLE, "No serial service is configured.")
    sign_cert = validator.static_checks(app.sign_certificate, KeyPurpose.SIGN)
    auth = serial_service.auth_serial_for(sign_cert.ref, now)
    if auth is None:
        raise Refused(
            Reason.SERIAL_UNAVAILABLE,
            "The issuer names no authentication certificate for this card.",
        )
    anchor = validator.trust.by_key_id(auth.issuer_key_id)
    if anchor is None or anchor.purpose is KeyPurpose.SIGN:
        raise Refused(Reason.UNKNOWN_ISSUER, "The authentication CA named is not trusted.")
    validator.check_revocation(anchor, auth.serial, now)
    return auth


def _flat(ref: CertRef | None) -> tuple[int | None, str | None]:
    return (None, None) if ref is None else (ref.serial, ref.issuer_key_id)
