"""The provider's ID-token signing keys: a key ring in one directory, rotated by the operator.

Each key is a JWK made and serialised by joserfc, one JSON file per key (`<kid>.json`, the
kid being the key's RFC 7638 thumbprint) with the time it was made and, once a newer key took
over, the time it was retired. ES256 (P-256) signs by default; RS256 (RSA 2048) is there for
the clients that register it (OpenID Connect Core §15.1 makes RS256 mandatory to implement;
its key is made on first use). The newest unretired key of an algorithm signs; a retired
key's file keeps its public half only (nothing signs with it again) and is published in the
JWKS until every ID token it signed has expired (`retired_at + token lifetime`), then
deleted — so an ID token signed by a dropped key no longer verifies.

The directory is the operator's secret: mode 0700, files 0600, made on first use; a
directory others may read is refused rather than used. Several workers of one platform may
share it: each call reads the directory afresh, and making or rotating a key holds an
exclusive lock on `.lock` there, so two workers never both make a first key.
"""

from __future__ import annotations

import fcntl
import json
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeyParameters, RSAKey

from kiosk.errors import KioskError

#: The default signing algorithm (and its curve): ECDSA over P-256 with SHA-256.
ALGORITHM = "ES256"
CURVE = "P-256"
#: Every algorithm the ring signs with: ES256, and RS256 for clients that ask for it.
ALGORITHMS = ("ES256", "RS256")
#: The RSA modulus of an RS256 key, in bits.
RSA_BITS = 2048
_LOCK = ".lock"


class KeyRingError(KioskError):
    """The key directory cannot be used (unsafe permissions, unreadable or damaged file)."""

    code = "oidc_keys"


@dataclass(frozen=True, slots=True)
class SigningKey:
    """One key of the ring: private while it signs, public only once retired."""

    kid: str
    alg: str
    created_at: datetime
    retired_at: datetime | None
    key: ECKey | RSAKey = field(repr=False, compare=False)

    def public_jwk(self) -> dict[str, Any]:
        """The public JWK as the JWKS publishes it (kid, alg, use)."""
        return dict(self.key.as_dict(private=False))


def _strong(key: ECKey | RSAKey, alg: str) -> bool:
    """Whether the key is one the ring makes for `alg` (P-256; RSA of 2048 bits or more)."""
    if alg == "ES256":
        return isinstance(key, ECKey) and key.curve_name == CURVE
    return alg == "RS256" and isinstance(key, RSAKey) and key.public_key.key_size >= RSA_BITS


def _newest_first(key: SigningKey) -> tuple[int, float, float]:
    """The signing key first, then the retired ones, the latest retired first."""
    if key.retired_at is None:
        return (0, -key.created_at.timestamp(), 0.0)
    return (1, -key.retired_at.timestamp(), -key.created_at.timestamp())


class KeyRing:
    """The signing keys in `directory`; retired keys are published for `token_lifetime`."""

    def __init__(self, directory: Path, token_lifetime: timedelta) -> None:
        if token_lifetime <= timedelta(0):
            raise ValueError("the ID token lifetime is above zero")
        self.directory = directory
        self.token_lifetime = token_lifetime

    def current(self, now: datetime, alg: str = ALGORITHM) -> SigningKey:
        """The key that signs with `alg` now; the first one is made on first use."""
        if alg not in ALGORITHMS:
            raise ValueError(f"the key ring signs with {' or '.join(ALGORITHMS)}")
        found = self._signing(self._load(), alg)
        if found is not None:
            return found
        with self._locked():
            found = self._signing(self._load(), alg)  # another worker may have made it
            return found if found is not None else self._make(now, alg)

    def rotate(self, now: datetime) -> SigningKey:
        """Make a new ES256 signing key; every key signing before is retired at `now` (its
        public half stays published until its tokens have expired; a new RS256 key is made
        when one is next needed). Returns the new key."""
        with self._locked():
            for old in self._load():
                if old.retired_at is None:
                    retired = SigningKey(old.kid, old.alg, old.created_at, now, old.key)
                    self._write(retired, private=False)
            made = self._make(now, ALGORITHM)
            self._drop_expired(now)
            return made

    def published(self, now: datetime) -> tuple[SigningKey, ...]:
        """The keys an ID token may be verified with as of `now`: the signing key and every
        retired key whose tokens may still be valid (others are deleted)."""
        self.current(now)
        keys = self._load()
        if any(self._expired(k, now) for k in keys):
            with self._locked():
                self._drop_expired(now)
            keys = self._load()
        return tuple(sorted(keys, key=_newest_first))

    def jwks(self, now: datetime) -> dict[str, Any]:
        """The JWK Set document the provider publishes (public keys only)."""
        return {"keys": [k.public_jwk() for k in self.published(now)]}

    def _expired(self, key: SigningKey, now: datetime) -> bool:
        return key.retired_at is not None and key.retired_at + self.token_lifetime <= now

    def _drop_expired(self, now: datetime) -> None:
        for key in self._load():
            if self._expired(key, now):
                (self.directory / f"{key.kid}.json").unlink(missing_ok=True)

    @staticmethod
    def _signing(keys: tuple[SigningKey, ...], alg: str) -> SigningKey | None:
        live = [k for k in keys if k.retired_at is None and k.alg == alg]
        return max(live, key=lambda k: k.created_at) if live else None

    def _make(self, now: datetime, alg: str) -> SigningKey:
        parameters: KeyParameters = {"alg": alg, "use": "sig"}
        jwk: ECKey | RSAKey = (
            ECKey.generate_key(CURVE, parameters, private=True, auto_kid=True)
            if alg == "ES256"
            else RSAKey.generate_key(RSA_BITS, parameters, private=True, auto_kid=True)
        )
        if jwk.kid is None:  # auto_kid always sets it; the type says it may not
            raise KeyRingError("a new key has no kid")
        made = SigningKey(jwk.kid, alg, now, None, jwk)
        self._write(made, private=True)
        return made

    def _write(self, key: SigningKey, private: bool) -> None:
        document = {
            "kid": key.kid,
            "created_at": key.created_at.isoformat(),
            "retired_at": None if key.retired_at is None else key.retired_at.isoformat(),
            "jwk": key.key.as_dict(private=private),
        }
        path = self.directory / f"{key.kid}.json"
        scratch = path.with_suffix(".tmp")
        scratch.unlink(missing_ok=True)
        fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(document, out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(scratch, path)

    def _load(self) -> tuple[SigningKey, ...]:
        self._directory()
        return tuple(self._read(path) for path in sorted(self.directory.glob("*.json")))

    def _read(self, path: Path) -> SigningKey:
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
            retired = document["retired_at"]
            alg = document["jwk"]["alg"]
            key: ECKey | RSAKey = (
                ECKey.import_key(document["jwk"])
                if alg == "ES256"
                else RSAKey.import_key(document["jwk"])
            )
            signing = SigningKey(
                str(document["kid"]),
                alg,
                datetime.fromisoformat(document["created_at"]),
                None if retired is None else datetime.fromisoformat(retired),
                key,
            )
        except (OSError, ValueError, TypeError, KeyError, JoseError) as e:
            raise KeyRingError(f"signing key file {path.name} cannot be read") from e
        if signing.kid != key.thumbprint() or not _strong(key, alg):
            raise KeyRingError(f"signing key file {path.name} does not hold its key")
        if signing.retired_at is None and not key.is_private:
            raise KeyRingError(f"signing key file {path.name} has no private key")
        return signing

    def _directory(self) -> None:
        """Make the directory (0700) on first use; refuse one others may read."""
        if not self.directory.exists():
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            self.directory.chmod(0o700)
        mode = stat.S_IMODE(self.directory.stat().st_mode)
        if mode & 0o077:
            raise KeyRingError(
                f"the signing key directory {self.directory} is open to others "
                f"(mode {mode:04o}): make it 0700"
            )

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self._directory()
        fd = os.open(self.directory / _LOCK, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
