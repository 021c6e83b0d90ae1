"""The store's error family: what went wrong with the database or an imported CRL."""

from __future__ import annotations

from kiosk.errors import KioskError


class StoreError(KioskError):
    """The linkage store failed or refused an operation."""

    code = "store"


class DuplicateKey(StoreError):
    """A row with that key exists already."""

    code = "duplicate"


class LinkExists(StoreError):
    """A link for that provider and account (or that authentication certificate) exists."""

    code = "link_exists"


class UnknownLink(StoreError):
    """No link with that id."""

    code = "link_unknown"


class AuditFieldRefused(StoreError):
    """An audit field is not a short code; free text could carry a PIN or personal data."""

    code = "audit_field"


class CrlImportError(StoreError):
    """A CRL could not be imported; nothing was changed."""

    code = "crl_import"


class CrlMalformed(CrlImportError):
    """The file is not a well-formed X.509 CRL."""

    code = "crl_malformed"


class CrlOutdated(CrlImportError):
    """The CRL is older than the one already in force for its issuer."""

    code = "crl_outdated"
