"""The test PKI: JPKI-shaped CAs, card issuance and CRLs (test data only, never J-LIS).

`profile` holds the JPKI certificate profile (OIDs, the basic 4 info); `authority` the CAs and
the on-disk `TestPki`; `cardfile` the virtual card's personalisation file.
"""

from kiosk.pki.authority import (
    PkiError,
    Revocation,
    TestPki,
    init_pki,
    load_pki,
    make_ca,
    make_crl,
    make_end_entity,
    validity_end,
)
from kiosk.pki.profile import BasicFourInfo, ProfileError, classify, parse_basic_four

__all__ = [
    "BasicFourInfo",
    "PkiError",
    "ProfileError",
    "Revocation",
    "TestPki",
    "classify",
    "init_pki",
    "load_pki",
    "make_ca",
    "make_crl",
    "make_end_entity",
    "parse_basic_four",
    "validity_end",
]
