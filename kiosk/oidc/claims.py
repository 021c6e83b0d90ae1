"""What an ID token says about the person, in one place: the `acr` and `amr` of a kiosk
login, and the pairwise `sub`.

`acr` names the assurance: the person proved possession of their My Number Card's JPKI
user-authentication certificate (利用者証明用電子証明書) with its PIN, at a kiosk, verified
by the provider. `amr` says how, in RFC 8176's registered values: `sc` (smart card), `hwk`
(a hardware-secured key: the card's private key never leaves it), `pin` (the card's PIN).

The `sub` is pairwise (OpenID Connect Core §8.1): HMAC-SHA256 under the provider's pairwise
secret of the client's sector (its client id), the provider id and the account reference
of the card's link there, each length-prefixed, in base64url. Two clients get unrelated
identifiers for one person; one client gets the same one on every visit; nothing of the
card (no serial, no certificate) goes into it, and it cannot be turned back into the account.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Final

#: "JPKI user-authentication certificate proved with its PIN at a kiosk".
ACR_JPKI_KIOSK: Final = "urn:jpki-kiosk:acr:jpki-user-auth-kiosk"
#: RFC 8176: smart card, hardware-secured key, PIN.
AMR_JPKI_KIOSK: Final = ("sc", "hwk", "pin")
#: The least length of the pairwise secret, in bytes.
PAIRWISE_SECRET_BYTES: Final = 32


def _field(text: str) -> bytes:
    data = text.encode("utf-8")
    if len(data) > 0xFFFF:
        raise ValueError("a pairwise identifier's field is at most 65,535 bytes")
    return len(data).to_bytes(2, "big") + data


def pairwise_sub(secret: bytes, sector: str, provider_id: str, account_ref: str) -> str:
    """The `sub` a client of `sector` sees for the link (`provider_id`, `account_ref`)."""
    message = _field(sector) + _field(provider_id) + _field(account_ref)
    digest = hmac.new(secret, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
