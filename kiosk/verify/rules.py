"""RFC 5280 rules the verifier applies to card certificates and to CRLs, in one place.

Both CRL paths — the in-memory one (`verify_crl_in`) and the streaming import into the store
(`check_crl`) — and the certificate checks call these functions, so a rule holds the same
everywhere:

- signatures (of certificates and CRLs) are RSA or ECDSA over SHA-256/384/512; SHA-1 and MD5
  are refused (RFC 9155 deprecates them; `cryptography` no longer writes them);
- a card certificate is X.509 v3 (RFC 5280 §4.1.2.1: extensions appear only in v3);
- a critical extension this verifier does not process makes the certificate or CRL unusable
  (RFC 5280 §4.2, §5.2);
- a leaf's extendedKeyUsage, when present, must allow the key's JPKI purpose (§4.2.1.12);
- only a complete CRL for end-entity certificates may be put in force: no delta CRL (§5.2.4),
  no indirect CRL (§5.2.5), none limited to CA or attribute certificates or to some reasons
  (§5.2.5) — importing one in place of the full list would let a revoked card verify again.
  A distributionPoint in the IssuingDistributionPoint is allowed: the JPKI cards carry no
  cRLDistributionPoints, so the issuer's list for them is the one that has none or one.
"""

from __future__ import annotations

from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID

from kiosk.verify.trust import KeyPurpose
from kiosk.verify.verdict import Reason, Refused

#: Hash algorithms accepted in the signature of a certificate or a CRL.
SIGNATURE_HASHES: Final = frozenset({"sha256", "sha384", "sha512"})

#: The extensions a card certificate may mark critical: the ones the checks read or that
#: only restrict what they already allow.
LEAF_CRITICAL: Final = frozenset(
    {
        ExtensionOID.KEY_USAGE,
        ExtensionOID.CERTIFICATE_POLICIES,
        ExtensionOID.BASIC_CONSTRAINTS,
        ExtensionOID.EXTENDED_KEY_USAGE,
        ExtensionOID.SUBJECT_ALTERNATIVE_NAME,
        ExtensionOID.ISSUER_ALTERNATIVE_NAME,
    }
)

#: The extensions a CRL may mark critical: IssuingDistributionPoint (checked below); a
#: DeltaCRLIndicator is critical by definition and refused for what it is.
CRL_CRITICAL: Final = frozenset(
    {ExtensionOID.ISSUING_DISTRIBUTION_POINT, ExtensionOID.DELTA_CRL_INDICATOR}
)

#: extendedKeyUsage purposes that allow each JPKI key's use, besides anyExtendedKeyUsage.
#: The test CA writes no EKU (none is confirmed on real cards); a card whose EKU names only
#: other purposes (server authentication, code signing, …) is not for this.
ACCEPTED_EKU: Final = {
    KeyPurpose.AUTH: frozenset({ExtendedKeyUsageOID.CLIENT_AUTH}),
    KeyPurpose.SIGN: frozenset(
        {
            ExtendedKeyUsageOID.EMAIL_PROTECTION,
            x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36"),  # id-kp-documentSigning, RFC 9336
        }
    ),
}


def signature_hash_accepted(algorithm: hashes.HashAlgorithm | None) -> bool:
    """Whether a certificate or CRL signed with this hash may be relied on."""
    return algorithm is not None and algorithm.name in SIGNATURE_HASHES


def check_certificate_hash(cert: x509.Certificate) -> None:
    """Refuse (bad_chain) a certificate its CA signed with SHA-1 or another refused hash."""
    if not signature_hash_accepted(cert.signature_hash_algorithm):
        raise Refused(
            Reason.BAD_CHAIN, "The certificate is signed with a hash that is no longer accepted."
        )


def check_leaf(cert: x509.Certificate, purpose: KeyPurpose) -> None:
    """Refuse anything but a v3 certificate and unknown critical extensions (malformed), and a
    foreign EKU (wrong_key_purpose)."""
    if cert.version is not x509.Version.v3:  # extensions, which the checks need, are v3 only
        raise Refused(Reason.MALFORMED, "The certificate is not an X.509 v3 certificate.")
    for extension in cert.extensions:
        if extension.critical and extension.oid not in LEAF_CRITICAL:
            raise Refused(
                Reason.MALFORMED,
                "The certificate has a critical extension this verifier does not process "
                f"({extension.oid.dotted_string}).",
            )
    try:
        usages = set(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    except x509.ExtensionNotFound:
        return
    if ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE in usages or usages & ACCEPTED_EKU[purpose]:
        return
    raise Refused(
        Reason.WRONG_KEY_PURPOSE, "The certificate's extended key usage is for something else."
    )


def check_crl_hash(crl: x509.CertificateRevocationList) -> hashes.HashAlgorithm:
    """Refuse (crl_bad_signature) a CRL signed with SHA-1 or another refused hash (or none);
    the accepted hash otherwise, for the signature check that follows."""
    algorithm = crl.signature_hash_algorithm
    if algorithm is None or not signature_hash_accepted(algorithm):
        raise Refused(
            Reason.CRL_BAD_SIGNATURE, "The CRL is signed with a hash that is no longer accepted."
        )
    return algorithm


def check_crl_scope(extensions: x509.Extensions, *, allow_delta: bool = False) -> None:
    """Refuse (malformed) anything but a complete CRL for end-entity certificates — or, with
    `allow_delta`, a delta CRL of that scope — and unknown critical extensions."""
    for extension in extensions:
        value = extension.value
        if isinstance(value, x509.DeltaCRLIndicator):
            if not allow_delta:
                raise Refused(Reason.MALFORMED, "A delta CRL cannot replace the full CRL.")
        if isinstance(value, x509.IssuingDistributionPoint):
            _check_distribution_point(value)
        elif extension.critical and extension.oid not in CRL_CRITICAL:
            raise Refused(
                Reason.MALFORMED,
                "The CRL has a critical extension this verifier does not process "
                f"({extension.oid.dotted_string}).",
            )


def _check_distribution_point(idp: x509.IssuingDistributionPoint) -> None:
    if idp.indirect_crl:
        raise Refused(Reason.MALFORMED, "An indirect CRL is not accepted.")
    if idp.only_some_reasons:
        raise Refused(Reason.MALFORMED, "A CRL for some revocation reasons only is partial.")
    if idp.only_contains_ca_certs or idp.only_contains_attribute_certs:
        raise Refused(Reason.MALFORMED, "The CRL does not cover card certificates.")
