"""Facts about the JPKI application that more than one layer needs, each written once.

The card has two credentials, user authentication (利用者証明用) and signature (署名用); each
has a secret of a fixed format, a number of tries, and a key that signs a SHA-256 DigestInfo
(../shared/jpki-card.md §1). Several layers apply these rules: the flow checks a typed PIN's
format before it is sent (to say so on screen), the JPKI session checks it again before it
reaches the card (for safety), the test PKI refuses to personalise a card with a bad one, and
verification rebuilds the DigestInfo a card signed. Checking twice is deliberate; writing the
rule twice is not, so they all read it here. This is the ground floor, like kiosk.errors: it
imports nothing of the project, and the flow may use it without knowing of cards.

The virtual card (kiosk.simcard) keeps its own copy of these rules on purpose: an emulator
built from the client's constants would share the client's mistakes instead of catching them.
"""

from __future__ import annotations

import hashlib
import re
from typing import Final, Literal

#: The two credentials: user authentication (利用者証明用) and signature (署名用).
Which = Literal["auth", "sign"]
WHICH: Final[tuple[Which, ...]] = ("auth", "sign")

#: 利用者証明用暗証番号: exactly 4 digits.
AUTH_PIN_RE: Final = re.compile(r"[0-9]{4}")
#: 署名用パスワード: 6 to 16 of A–Z and 0–9 (the session upper-cases what was typed).
SIGN_PASSWORD_RE: Final = re.compile(r"[A-Z0-9]{6,16}")
#: Each credential's secret format, for code that handles either.
SECRET_FORMAT: Final[dict[Which, re.Pattern[str]]] = {
    "auth": AUTH_PIN_RE,
    "sign": SIGN_PASSWORD_RE,
}

#: Tries a fresh (or just verified) secret has: the card's counter resets to this on success,
#: and the credential is blocked when it reaches 0.
MAX_TRIES: Final[dict[Which, int]] = {"auth": 3, "sign": 5}

#: DER prefix of a DigestInfo holding a SHA-256 digest (RFC 8017 §9.2 note 1); 32 bytes follow.
SHA256_DIGEST_INFO_PREFIX: Final = bytes.fromhex("3031300d060960864801650304020105000420")


def sha256_digest_info(message: bytes) -> bytes:
    """The 51-byte DigestInfo(SHA-256, SHA-256(message)) a JPKI key signs."""
    return SHA256_DIGEST_INFO_PREFIX + hashlib.sha256(message).digest()
