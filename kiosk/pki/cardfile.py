"""The personalisation file of a virtual My Number Card (CARD.json).

`kiosk pki issue` writes it, `kiosk sim insert` loads it and writes back the non-volatile
parts a real card keeps across power cycles (the PIN retry counters). The layout is:

    {
      "format": "jpki-kiosk/testcard-1",
      "token_label": "JPKIAPICCTOKEN2",
      "auth": {"certificate": "<base64 DER>", "ca_certificate": "<base64 DER>",
               "private_key": "<PKCS#8 PEM>", "pin": "1234", "max_retries": 3,
               "retries_left": 3},
      "sign": {... same keys ...; "pin" is the signature password, max_retries 5},
      "generation": "next"     (only on a next-generation card: P-384 keys, ECDSA)
    }

The PIN is stored here because this file *is* the card's secure memory: it belongs to the
virtual card only, never to the kiosk. Test cards only; never real personal data.
"""

from __future__ import annotations

import base64
import json
import os
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from kiosk.errors import KioskError

FORMAT = "jpki-kiosk/testcard-1"
PHYSICAL_CARD_LABEL = "JPKIAPICCTOKEN2"
#: The card generations a card file may hold: today's (RSA) and the next (ECDSA P-384).
GENERATIONS = ("current", "next")


class CardFileError(KioskError, ValueError):
    """The card file is missing, unreadable or not in the expected format."""

    code = "card_file"


@dataclass(frozen=True, slots=True)
class KeySlot:
    """One JPKI credential: certificate, CA certificate, private key and its PIN."""

    certificate: bytes  # DER
    ca_certificate: bytes  # DER
    private_key_pem: bytes  # PKCS#8 PEM, unencrypted (test card only)
    pin: str
    max_retries: int
    retries_left: int

    def to_json(self) -> dict[str, Any]:
        return {
            "certificate": base64.b64encode(self.certificate).decode(),
            "ca_certificate": base64.b64encode(self.ca_certificate).decode(),
            "private_key": self.private_key_pem.decode(),
            "pin": self.pin,
            "max_retries": self.max_retries,
            "retries_left": self.retries_left,
        }

    @classmethod
    def from_json(cls, obj: Any, which: str) -> KeySlot:
        if not isinstance(obj, dict):
            raise CardFileError(f"'{which}' must be an object")
        try:
            slot = cls(
                certificate=base64.b64decode(obj["certificate"], validate=True),
                ca_certificate=base64.b64decode(obj["ca_certificate"], validate=True),
                private_key_pem=str(obj["private_key"]).encode(),
                pin=str(obj["pin"]),
                max_retries=int(obj["max_retries"]),
                retries_left=int(obj["retries_left"]),
            )
        except (KeyError, TypeError, ValueError) as e:
            raise CardFileError(f"'{which}' is malformed: {e.__class__.__name__}") from e
        if not 0 <= slot.retries_left <= slot.max_retries <= 15:
            raise CardFileError(f"'{which}' has an impossible retry counter")
        return slot


@dataclass(frozen=True, slots=True)
class CardFile:
    """Everything a virtual JPKI card holds."""

    auth: KeySlot
    sign: KeySlot
    token_label: str = PHYSICAL_CARD_LABEL
    generation: str = "current"  # one of GENERATIONS

    def with_retries(self, *, auth: int | None = None, sign: int | None = None) -> CardFile:
        return replace(
            self,
            auth=self.auth if auth is None else replace(self.auth, retries_left=auth),
            sign=self.sign if sign is None else replace(self.sign, retries_left=sign),
        )

    def to_json(self) -> dict[str, Any]:
        obj = {
            "format": FORMAT,
            "token_label": self.token_label,
            "auth": self.auth.to_json(),
            "sign": self.sign.to_json(),
        }
        if self.generation != "current":  # today's card files stay as they were
            obj["generation"] = self.generation
        return obj

    @classmethod
    def from_json(cls, obj: Any) -> CardFile:
        if not isinstance(obj, dict) or obj.get("format") != FORMAT:
            raise CardFileError(f"not a virtual card file (expected format {FORMAT!r})")
        label = obj.get("token_label", PHYSICAL_CARD_LABEL)
        if not isinstance(label, str) or not label.isascii() or len(label) > 32:
            raise CardFileError("'token_label' must be ASCII, at most 32 characters")
        generation = obj.get("generation", "current")
        if generation not in GENERATIONS:
            raise CardFileError(f"'generation' must be one of {', '.join(GENERATIONS)}")
        return cls(
            auth=KeySlot.from_json(obj.get("auth"), "auth"),
            sign=KeySlot.from_json(obj.get("sign"), "sign"),
            token_label=label,
            generation=generation,
        )


def load_card(path: str | os.PathLike[str]) -> CardFile:
    """Read a card file, with a clear error for anything wrong."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise CardFileError(f"cannot read card file {path}: {e.strerror}") from e
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as e:
        raise CardFileError(f"card file {path} is not JSON (line {e.lineno})") from e
    return CardFile.from_json(obj)


def save_card(path: str | os.PathLike[str], card: CardFile) -> None:
    """Write a card file atomically (write, fsync, rename), readable by its owner only."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".card-", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(card.to_json(), f, indent=2)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
