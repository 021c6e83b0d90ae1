"""Identifiers of the JPKI application (公的個人認証AP) on the My Number Card.

What other layers also need (the two credentials, their secrets' formats and tries, the
DigestInfo) is in kiosk.jpki_facts; this module holds what only the card protocol uses.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Literal

from kiosk.jpki_facts import Which

#: DF name of the JPKI AP.
AID = bytes.fromhex("D392F000260100000001")

#: The token label of a physical My Number Card (EF 0006, first 32 bytes, space-padded).
PHYSICAL_CARD_LABEL = "JPKIAPICCTOKEN2"
#: The token label of the スマホ用電子証明書 on an Android phone (GP secure element) [H: myna].
ANDROID_LABEL = "JPKIAPGPSETOKEN"
#: The token label reported for the スマホ用電子証明書 on an iPhone [M: SOL's TokenType].
IPHONE_LABEL = "JPKIAPIOSTOKEN"
TOKEN_LABEL_LENGTH = 32

#: The next-generation card's 「(仮称)認証AP」 (the application with its PINs and keys).
#: PROVISIONAL: no AID is public; a placeholder of this project (docs/next-card.md).
NEXT_AUTH_AID = bytes.fromhex("D392F000260200000001")
#: The applications that may hold the JPKI keys, in the order the session tries them.
JPKI_APPLICATIONS: tuple[bytes, ...] = (AID, NEXT_AUTH_AID)

#: Length of a signature by today's JPKI keys (RSA-2048); the next card's P-384 keys answer
#: 96 bytes (the scheme of the key's certificate says which: kiosk.verify.scheme).
SIGNATURE_LENGTH = 256
#: Longest data COMPUTE DIGITAL SIGNATURE P1=00 pads (k − 11 for RSA-2048).
MAX_SIGN_INPUT = SIGNATURE_LENGTH - 11

#: The four certificates on the card.
CertName = Literal["auth", "auth_ca", "sign", "sign_ca"]


class Ef(IntEnum):
    """Elementary files of the JPKI AP."""

    SIGN_CERT = 0x0001
    SIGN_CA_CERT = 0x0002
    TOKEN_INFO = 0x0006
    CERT_AVAILABILITY = 0x0008
    AUTH_CERT = 0x000A
    AUTH_CA_CERT = 0x000B
    AUTH_KEY = 0x0017
    AUTH_PIN = 0x0018
    SIGN_KEY = 0x001A
    SIGN_PIN = 0x001B


CERT_EF: dict[str, Ef] = {
    "auth": Ef.AUTH_CERT,
    "auth_ca": Ef.AUTH_CA_CERT,
    "sign": Ef.SIGN_CERT,
    "sign_ca": Ef.SIGN_CA_CERT,
}
PIN_EF: dict[Which, Ef] = {"auth": Ef.AUTH_PIN, "sign": Ef.SIGN_PIN}
KEY_EF: dict[Which, Ef] = {"auth": Ef.AUTH_KEY, "sign": Ef.SIGN_KEY}
