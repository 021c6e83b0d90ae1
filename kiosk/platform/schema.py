"""The platform's wire format: one pydantic model per JSON body, in both directions.

These models are the one description of the JSON docs/platform-api.md documents. The service
parses requests with them and answers with them (FastAPI validates each answer against its
model and `/openapi.json` is generated from them); the client (`kiosk.platform.client`) builds
its requests and parses the answers with the same models. Each model converts to and from the
verifier's types (`of(...)` and `to_...()`), so bytes are bytes and times are datetimes on
both sides and base64 and ISO 8601 only on the wire. The validators read only what the wire
carries (strings for bytes, dates, times and serials); `of(...)` builds a body from values
already typed, unchecked: the side that receives it validates (a platform answers a bad body
400, as it answers anyone's), and the service's answers are validated by FastAPI.

Requests are read strictly: bytes in standard base64 with padding and nothing else, dates in
ISO 8601, identifiers as challenges take them; members the schema does not name are ignored.
The login bodies (issue 13) carry a binding code, a credential: no model's repr shows it.
"""

from __future__ import annotations

import base64
import re
from dataclasses import fields
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    StrictBool,
    WithJsonSchema,
    model_validator,
)

from kiosk.services.login_broker import PendingLogin
from kiosk.verify.challenge import IDENTIFIER
from kiosk.verify.enrolment import APPLICATION_FORMAT, EnrolmentApplication
from kiosk.verify.ports import IssuedChallenge
from kiosk.verify.profile import BasicFourInfo
from kiosk.verify.proof import UserProof
from kiosk.verify.verdict import EnrolmentVerdict, LinkStatus, Reason, Verdict

_B64 = "standard base64"
_BASE64 = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")
_HEX = re.compile(r"[0-9a-f]+")


def _from_base64(value: object) -> bytes:
    """Standard base64 with its padding, ASCII only, into bytes; else a validation error."""
    if not isinstance(value, str) or _BASE64.fullmatch(value) is None:
        raise ValueError("not standard base64")  # pydantic reports the field, not the value
    return base64.b64decode(value, validate=True)


def _to_base64(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


def _from_iso_date(value: object) -> date:
    if not isinstance(value, str):
        raise ValueError("not an ISO 8601 date")
    return date.fromisoformat(value)


def _from_iso_time(value: object) -> datetime:
    """An ISO 8601 time with its zone (a time without one is refused, not guessed)."""
    if not isinstance(value, str):
        raise ValueError("not an ISO 8601 time")
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError("not an ISO 8601 time with its zone")
    return parsed


def _from_serial(value: object) -> int:
    """A certificate serial as lower-case hex."""
    if not isinstance(value, str) or _HEX.fullmatch(value) is None:
        raise ValueError("not a serial in lower-case hex")
    return int(value, 16)


#: Bytes, as standard base64 in the JSON.
Base64Bytes = Annotated[
    bytes,
    PlainValidator(_from_base64),
    PlainSerializer(_to_base64, return_type=str),
    WithJsonSchema({"type": "string", "pattern": _BASE64.pattern.join("^$")}),
]
#: A date, as an ISO 8601 string in the JSON.
IsoDate = Annotated[
    date,
    PlainValidator(_from_iso_date),
    PlainSerializer(date.isoformat, return_type=str),
    WithJsonSchema({"type": "string", "format": "date"}),
]
#: A time with its zone, as ISO 8601 in the JSON.
IsoTime = Annotated[
    datetime,
    PlainValidator(_from_iso_time),
    PlainSerializer(datetime.isoformat, return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
#: A challenge's times: UTC with microseconds, so the digits are always there.
IsoTimeMicros = Annotated[
    datetime,
    PlainValidator(_from_iso_time),
    PlainSerializer(
        lambda t: t.astimezone(UTC).isoformat(timespec="microseconds"), return_type=str
    ),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
#: A certificate serial, as lower-case hex in the JSON.
HexSerial = Annotated[
    int,
    PlainValidator(_from_serial),
    PlainSerializer(lambda n: format(n, "x"), return_type=str),
    WithJsonSchema({"type": "string", "pattern": _HEX.pattern.join("^$")}),
]
#: An identifier (provider, terminal), as challenges take them.
Identifier = Annotated[
    str, Field(pattern=IDENTIFIER.pattern.join("^$"), description="an identifier")
]


class _Wire(BaseModel):
    """A body on the wire; `wire()` is its JSON object."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    def wire(self) -> dict[str, object]:
        """The JSON object this model is on the wire."""
        return self.model_dump(mode="json")


def _fields_of(source: object, verdict_type: type | None = None) -> dict[str, Any]:
    """The verdict dataclass's fields (of `verdict_type`, or of `source` itself) read from
    `source` by name: a verdict body has exactly its verdict's fields (a test keeps it so)."""
    names = fields(verdict_type or source)  # type: ignore[arg-type]  # a dataclass or its type
    return {f.name: getattr(source, f.name) for f in names}


# --- requests ----------------------------------------------------------------------------


class ChallengeRequest(_Wire):
    """Ask for a challenge for one of the provider's terminals."""

    provider_id: Identifier
    terminal_id: Identifier


class UserProofBody(_Wire):
    """A user proof (docs/proof-format.md §1)."""

    provider_id: str
    terminal_id: str
    nonce: Base64Bytes = Field(description=_B64)
    certificate: Base64Bytes = Field(description=f"DER of the authentication certificate, {_B64}")
    signature: Base64Bytes = Field(
        description="the card's signature in its certificate's scheme: PKCS#1 v1.5 / SHA-256 "
        f"(RSA), or r ‖ s raw, 96 bytes (ECDSA P-384 / SHA-384), {_B64}"
    )

    @classmethod
    def of(cls, proof: UserProof) -> Self:
        """The body that carries `proof`."""
        return cls.model_construct(
            provider_id=proof.provider_id,
            terminal_id=proof.terminal_id,
            nonce=proof.nonce,
            certificate=proof.certificate,
            signature=proof.signature,
        )

    def to_proof(self) -> UserProof:
        """The verifier's user proof."""
        return UserProof(
            self.provider_id, self.terminal_id, self.nonce, self.certificate, self.signature
        )


class FourInfoBody(_Wire):
    """The basic 4 info as typed (checked against the signature certificate, never recorded)."""

    name: str
    address: str
    birth_date: IsoDate = Field(description="ISO 8601 date")
    sex: Literal["male", "female", "unknown"]

    @model_validator(mode="after")
    def _fits_the_profile(self) -> Self:
        self.to_four_info()  # ProfileError (a ValueError): blank name, address too long
        return self

    @classmethod
    def of(cls, info: BasicFourInfo) -> Self:
        """The body of these 4 info."""
        return cls.model_construct(
            name=info.name, address=info.address, birth_date=info.birth_date, sex=info.sex
        )

    def to_four_info(self) -> BasicFourInfo:
        """The profile's 4 info."""
        return BasicFourInfo(self.name, self.address, self.birth_date, self.sex)


class EnrolmentDocument(_Wire):
    """The document the signature key signed (canonical JSON, docs/proof-format.md §2)."""

    format: Literal["jpki-kiosk/enrolment-2"]
    provider_id: str
    terminal_id: str
    account_ref: str = Field(min_length=1, max_length=128)
    four_info: FourInfoBody
    nonce: Base64Bytes = Field(description=_B64)
    auth_certificate_sha256: Base64Bytes | None = Field(
        description=f"SHA-256 of the authentication certificate's DER, {_B64}; "
        "null only without auth_proof"
    )


class EnrolmentBody(_Wire):
    """An enrolment application (docs/proof-format.md §2)."""

    document: EnrolmentDocument
    sign_certificate: Base64Bytes = Field(description=f"DER of the signature certificate, {_B64}")
    sign_signature: Base64Bytes = Field(description=f"over the canonical document, {_B64}")
    auth_proof: UserProofBody | None = None

    @classmethod
    def of(cls, application: EnrolmentApplication) -> Self:
        """The body that carries `application`."""
        proof = application.auth_proof
        return cls.model_construct(
            document=EnrolmentDocument.model_construct(
                format=APPLICATION_FORMAT,
                provider_id=application.provider_id,
                terminal_id=application.terminal_id,
                account_ref=application.account_ref,
                four_info=FourInfoBody.of(application.four_info),
                nonce=application.nonce,
                auth_certificate_sha256=application.auth_certificate_sha256,
            ),
            sign_certificate=application.sign_certificate,
            sign_signature=application.sign_signature,
            auth_proof=None if proof is None else UserProofBody.of(proof),
        )

    def to_application(self) -> EnrolmentApplication:
        """The verifier's enrolment application."""
        doc = self.document
        return EnrolmentApplication(
            provider_id=doc.provider_id,
            terminal_id=doc.terminal_id,
            account_ref=doc.account_ref,
            four_info=doc.four_info.to_four_info(),
            nonce=doc.nonce,
            sign_certificate=self.sign_certificate,
            sign_signature=self.sign_signature,
            auth_proof=None if self.auth_proof is None else self.auth_proof.to_proof(),
            auth_certificate_sha256=doc.auth_certificate_sha256,
        )


#: A binding code as the person typed it: digits, maybe grouped by spaces or hyphens (the
#: provider drops those); anything longer than this is no code at all.
BINDING_CODE_CHARS = 32
_BINDING_CODE = re.compile(f"[0-9 \\-\u3000]{{1,{BINDING_CODE_CHARS}}}")
#: The provider's handles (a login id, a client id) and account references: short, printable.
_HANDLE = re.compile(r"[\x21-\x7e]{1,128}")
Handle = Annotated[str, Field(pattern=_HANDLE.pattern.join("^$"), description="a handle")]


class LoginPendingRequest(_Wire):
    """Ask which sign-in waits under a binding code typed at one of the provider's kiosks."""

    provider_id: Identifier
    terminal_id: Identifier
    binding_code: str = Field(
        pattern=_BINDING_CODE.pattern.join("^$"),
        repr=False,
        description="as typed: digits, spaces or hyphens between groups",
    )


class LoginApproveRequest(_Wire):
    """The card holder agreed: answer the sign-in `login_id` for their linked account."""

    provider_id: Identifier
    terminal_id: Identifier
    login_id: Handle = Field(repr=False)
    client_id: Handle
    account_ref: str = Field(min_length=1, max_length=128)
    auth_time: IsoTime = Field(description="when the card proved who they are, ISO 8601")

    @classmethod
    def of(
        cls,
        pending: PendingLogin,
        provider_id: str,
        terminal_id: str,
        account_ref: str,
        auth_time: datetime,
    ) -> Self:
        """The body that approves `pending`."""
        return cls.model_construct(
            provider_id=provider_id,
            terminal_id=terminal_id,
            login_id=pending.login_id,
            client_id=pending.client_id,
            account_ref=account_ref,
            auth_time=auth_time,
        )

    def to_pending(self) -> PendingLogin:
        """The login as the provider's `approve` takes it (by its handle)."""
        return PendingLogin(login_id=self.login_id, client_id=self.client_id, client_name="")


# --- answers -----------------------------------------------------------------------------


class ChallengeBody(_Wire):
    """A fresh challenge: the card signs proof_digest_info(provider_id, terminal_id, nonce)."""

    nonce: Base64Bytes = Field(description=f"the 73-byte token, {_B64}")
    provider_id: str
    terminal_id: str
    issued_at: IsoTimeMicros = Field(description="ISO 8601, UTC, microseconds")
    expires_at: IsoTimeMicros = Field(description="ISO 8601, UTC, microseconds")

    @model_validator(mode="after")
    def _a_challenge(self) -> Self:
        if not self.nonce:
            raise ValueError("an empty nonce")
        if self.expires_at <= self.issued_at:
            raise ValueError("the challenge expires before it is issued")
        return self

    @classmethod
    def of(cls, issued: IssuedChallenge) -> Self:
        """The body of an issued challenge."""
        return cls.model_construct(**issued._asdict())

    def to_challenge(self) -> IssuedChallenge:
        """The challenge as `ChallengeService.issue` returns it."""
        return IssuedChallenge(
            self.nonce, self.provider_id, self.terminal_id, self.issued_at, self.expires_at
        )


class VerdictBody(_Wire):
    """A user proof's verdict."""

    ok: StrictBool
    reason: Reason
    message: str
    time: IsoTime
    auth_serial: HexSerial | None = Field(description="hex")
    issuer_key_id: str | None
    link_status: LinkStatus | None = Field(description="active, needs_reenrolment or unchecked")
    account_ref: str | None
    linked_at: IsoTime | None = Field(description="since when the account is linked, ISO 8601")

    @classmethod
    def of(cls, verdict: Verdict) -> Self:
        """The body of a verdict (the same fields, by name)."""
        return cls.model_construct(**_fields_of(verdict))

    def to_verdict(self) -> Verdict:
        """The verifier's verdict."""
        return Verdict(**_fields_of(self, Verdict))


class EnrolmentVerdictBody(_Wire):
    """An enrolment's verdict."""

    ok: StrictBool
    reason: Reason
    message: str
    time: IsoTime
    sign_serial: HexSerial | None = Field(description="hex")
    sign_issuer_key_id: str | None
    auth_serial: HexSerial | None = Field(description="hex")
    auth_issuer_key_id: str | None

    @classmethod
    def of(cls, verdict: EnrolmentVerdict) -> Self:
        """The body of an enrolment verdict (the same fields, by name)."""
        return cls.model_construct(**_fields_of(verdict))

    def to_verdict(self) -> EnrolmentVerdict:
        """The verifier's enrolment verdict."""
        return EnrolmentVerdict(**_fields_of(self, EnrolmentVerdict))


class PendingLoginBody(_Wire):
    """The sign-in a binding code stands for, shown to the person before they agree."""

    login_id: Handle = Field(repr=False)
    client_id: Handle
    client_name: str = Field(min_length=1, max_length=200)
    claims: tuple[Annotated[str, Field(min_length=1, max_length=64)], ...] = Field(
        max_length=32, description="what the service receives beyond the pairwise identifier"
    )
    expires_at: IsoTime | None = Field(description="when the code runs out, ISO 8601")

    @classmethod
    def of(cls, pending: PendingLogin) -> Self:
        """The body of a pending login."""
        return cls.model_construct(
            login_id=pending.login_id,
            client_id=pending.client_id,
            client_name=pending.client_name,
            claims=pending.claims,
            expires_at=pending.expires_at,
        )

    def to_pending(self) -> PendingLogin:
        """The port's pending login."""
        return PendingLogin(
            login_id=self.login_id,
            client_id=self.client_id,
            client_name=self.client_name,
            claims=tuple(self.claims),
            expires_at=self.expires_at,
        )


class ErrorBody(_Wire):
    """Every error."""

    error: str
    message: str


class HealthBody(_Wire):
    """The health check's answer."""

    status: Literal["ok"]


class ReadyBody(_Wire):
    """The readiness check's answer: `reasons` are codes (`store_unavailable`, `no_crl`,
    `crl_stale:<issuer key id>`), empty when ready."""

    status: Literal["ready", "not_ready"]
    reasons: list[str]
