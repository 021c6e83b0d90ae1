"""The test PKI: JPKI-shaped CAs, card issuance and CRLs (test data only, never J-LIS).

`authority` holds the CAs and the on-disk `TestPki`, `cardfile` the virtual card's
personalisation file. The certificates follow the JPKI certificate profile that verification
checks, kiosk.verify.profile (OIDs, the basic 4 info).
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

__all__ = [
    "PkiError",
    "Revocation",
    "TestPki",
    "init_pki",
    "load_pki",
    "make_ca",
    "make_crl",
    "make_end_entity",
    "validity_end",
]
