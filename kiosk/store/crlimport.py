"""Putting CRL files, directories and URLs in force: read the bytes, have the verifier check
them, store them — one file at a time, so one bad file costs only itself.

Whether a CRL may be put in force is the verifier's decision (`kiosk.verify.crl.check_crl`,
passed in as `check`); this module reads bytes and hands the checked CRL to the store. A DER
file is mapped, not copied, so a CRL of millions of entries is read once, as bytes.
"""

from __future__ import annotations

import mmap
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path

from kiosk.errors import KioskError
from kiosk.store.errors import CrlImportError, CrlMalformed, StoreError
from kiosk.store.records import CrlImportResult
from kiosk.store.revocation import SqlRevocationIndex
from kiosk.verify import crl as verify_crl
from kiosk.verify.crl import CheckedCrl
from kiosk.verify.verdict import Refused, VerifyError

_CRL_SUFFIXES = (".crl", ".der", ".pem")
_URL_TIMEOUT_S = 120

#: The verifier's check of one CRL's DER (kiosk.verify.crl.check_crl with anchors and time).
CrlCheck = Callable[[bytes], CheckedCrl]


@dataclass(frozen=True, slots=True)
class CrlOutcome:
    """What became of one CRL source: imported (`result`), or skipped and why (`refusal`)."""

    source: str  # the file's name or the URL
    result: CrlImportResult | None
    refusal: str | None  # "<code>: <reason in plain words>" when it was skipped

    def line(self) -> str:
        """One line for the operator, naming the source."""
        if self.result is None:
            return f"{self.source}: refused: {self.refusal}"
        r = self.result
        state = "imported" if r.replaced else "already in force"
        return (
            f"{self.source}: {state}: issuer {r.issuer_key_id}, number {r.crl_number}, "
            f"{r.entries} entries, {r.seconds:.1f}s"
        )


def import_sources(
    sources: Iterable[str],
    check: CrlCheck,
    index: SqlRevocationIndex,
    imported_at: datetime,
) -> Iterator[CrlOutcome]:
    """Import each CRL file (of each directory) or URL in turn; a refused one is reported and
    skipped, and the others are imported all the same."""
    for source in sources:
        if source.startswith(("http://", "https://")):
            yield _import_one(source, partial(_fetched, source), check, index, imported_at)
            continue
        try:
            paths = crl_paths(Path(source))
        except CrlImportError as e:
            yield CrlOutcome(source, None, _why(e))
            continue
        for path in paths:
            yield _import_one(str(path), partial(open_crl, path), check, index, imported_at)


def _import_one(
    name: str,
    opened: Callable[[], AbstractContextManager[bytes]],
    check: CrlCheck,
    index: SqlRevocationIndex,
    imported_at: datetime,
) -> CrlOutcome:
    try:
        with opened() as buf:
            return CrlOutcome(name, index.replace(check(buf), imported_at), None)
    except (StoreError, VerifyError) as e:
        return CrlOutcome(name, None, _why(e))
    except OSError as e:
        return CrlOutcome(name, None, f"unreadable: {e.strerror or e}")


def _why(error: KioskError) -> str:
    code = error.reason.value if isinstance(error, Refused) else error.code
    return f"{code}: {error}"


@contextmanager
def _fetched(url: str) -> Iterator[bytes]:
    yield fetch_url(url)


def to_der(data: bytes) -> bytes:
    """The DER of a CRL given as DER or PEM."""
    try:
        return verify_crl.crl_der(data)
    except Refused as e:
        raise CrlMalformed(str(e)) from e


@contextmanager
def open_crl(path: Path) -> Iterator[bytes]:
    """The DER of a CRL file: mapped, not copied, when it is DER."""
    with path.open("rb") as f:
        head = f.read(64)
        if head.lstrip()[:1] == b"-":
            yield to_der(head + f.read())
            return
        if not head:
            raise CrlMalformed(f"{path.name} is empty")
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            yield mapped  # type: ignore[misc]  # supports the bytes operations we use


def crl_paths(source: Path) -> list[Path]:
    """The CRL files of a file or a directory (by suffix .crl, .der, .pem)."""
    if source.is_dir():
        return sorted(p for p in source.iterdir() if p.suffix.lower() in _CRL_SUFFIXES)
    if source.is_file():
        return [source]
    raise CrlImportError(f"no such CRL file or directory: {source}")


def fetch_url(url: str) -> bytes:
    """Download a CRL over HTTP(S) (CRL distribution points are plain HTTP)."""
    if not url.startswith(("http://", "https://")):
        raise CrlImportError("only http:// and https:// CRL URLs are supported")
    try:
        with urllib.request.urlopen(url, timeout=_URL_TIMEOUT_S) as response:  # noqa: S310
            return to_der(response.read())
    except OSError as e:
        raise CrlImportError(f"cannot download the CRL from {url}: {e}") from e
