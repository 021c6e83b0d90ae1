"""CRL benchmark: import a generated N-entry CRL (default 5,000,000), then look serials up.

Run: .venv/bin/python bench/crl_bench.py [--entries 5000000] [--db sqlite|postgres|both]

The CRL is written straight as DER by a streaming writer and signed by a throwaway RSA-2048 CA.
Each import runs in a child process, so its peak RSS is the importer's alone. PostgreSQL uses
KIOSK_TEST_POSTGRES_URL, or a throwaway cluster started the way the tests start one.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.x509.oid import NameOID

ROOT = Path(__file__).resolve().parents[1]
SHA256_RSA = bytes.fromhex("300d06092a864886f70d01010b0500")
REASON_EXT = bytes.fromhex("300c300a0603551d150403 0a0101".replace(" ", ""))  # keyCompromise
CHUNK = 100_000


def der_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    octets = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(octets)]) + octets


def tlv(tag: int, content: bytes) -> bytes:
    return bytes([tag]) + der_length(len(content)) + content


def make_ca(directory: Path) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    """A throwaway RSA-2048 CRL issuer, its certificate written to directory/ca.pem."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Bench CRL CA")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "ca.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key, cert


def entry_chunks(count: int, seed: int):
    """Yield (DER bytes, serials sample) chunks of revoked entries with random 16-octet serials."""
    rng = random.Random(seed)
    base = datetime(2016, 1, 1, tzinfo=UTC)
    times = [
        tlv(
            0x17,
            (base + timedelta(seconds=rng.randrange(10 * 365 * 86400)))
            .strftime("%y%m%d%H%M%SZ")
            .encode(),
        )
        for _ in range(4096)
    ]
    done = 0
    while done < count:
        n = min(CHUNK, count - done)
        raw = rng.randbytes(16 * n)
        parts = []
        sample = []
        for i in range(n):
            serial = bytes([raw[16 * i] % 0x7F + 1]) + raw[16 * i + 1 : 16 * i + 16]
            body = b"\x02\x10" + serial + times[(done + i) & 4095]
            if (done + i) % 10 == 0:
                body += REASON_EXT
            parts.append(b"\x30" + bytes([len(body)]) + body)
            if i % 997 == 0:
                sample.append(int.from_bytes(serial, "big"))
        yield b"".join(parts), sample
        done += n


def entries_length(count: int) -> int:
    plain = 2 + 18 + 15
    return count * plain + ((count + 9) // 10) * len(REASON_EXT)


def write_crl(
    path: Path, count: int, key: rsa.RSAPrivateKey, cert: x509.Certificate, number: int, seed: int
) -> list[int]:
    """Write a signed DER CRL of `count` entries to path; return a sample of its serials."""
    now = datetime.now(UTC).replace(microsecond=0)
    aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key())
    ski = aki.key_identifier
    extensions = tlv(
        0xA0,
        tlv(
            0x30,
            tlv(0x30, bytes.fromhex("0603551d23") + tlv(0x04, tlv(0x30, tlv(0x80, ski))))
            + tlv(
                0x30,
                bytes.fromhex("0603551d14")
                + tlv(0x04, tlv(0x02, number.to_bytes(number.bit_length() // 8 + 1, "big"))),
            ),
        ),
    )
    head = (
        b"\x02\x01\x01"
        + SHA256_RSA
        + cert.subject.public_bytes()
        + tlv(0x17, now.strftime("%y%m%d%H%M%SZ").encode())
        + tlv(0x17, (now + timedelta(days=1)).strftime("%y%m%d%H%M%SZ").encode())
    )
    body_len = entries_length(count)
    revoked_header = b"\x30" + der_length(body_len)
    tbs_len = len(head) + len(revoked_header) + body_len + len(extensions)
    tbs_header = b"\x30" + der_length(tbs_len)
    sig_len = key.key_size // 8
    sig_tlv_len = 1 + len(der_length(sig_len + 1)) + sig_len + 1
    total = len(tbs_header) + tbs_len + len(SHA256_RSA) + sig_tlv_len
    digest = hashlib.sha256()
    sample: list[int] = []
    with path.open("wb") as f:

        def out(b: bytes) -> None:
            digest.update(b)
            f.write(b)

        f.write(b"\x30" + der_length(total))
        out(tbs_header + head + revoked_header)
        written = 0
        for chunk, chunk_sample in entry_chunks(count, seed):
            out(chunk)
            written += len(chunk)
            sample.extend(chunk_sample)
        assert written == body_len
        out(extensions)
        signature = key.sign(digest.digest(), padding.PKCS1v15(), Prehashed(hashes.SHA256()))
        f.write(SHA256_RSA + tlv(0x03, b"\x00" + signature))
    return sample


def child_import(db_url: str, crl: Path, trust: Path) -> None:
    """In the child: import one CRL and print its seconds and peak RSS."""
    from kiosk.store.crlimport import open_crl
    from kiosk.store.engine import Database
    from kiosk.store.revocation import SqlRevocationIndex
    from kiosk.verify.crl import check_crl
    from kiosk.verify.trust import TrustStore

    db = Database(db_url)
    started = time.perf_counter()
    with open_crl(crl) as buf:
        checked = check_crl(buf, TrustStore.from_dir(trust), datetime.now(UTC))
        result = SqlRevocationIndex(db).replace(checked, datetime.now(UTC))
    seconds = time.perf_counter() - started
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{seconds:.3f} {rss_mb:.1f} {result.entries}")


def run_import(db_url: str, crl: Path, trust: Path) -> tuple[float, float, int]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", db_url, str(crl), str(trust)],
        check=False,
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        raise SystemExit(f"import failed:\n{out.stderr}")
    out = out.stdout.split()
    return float(out[0]), float(out[1]), int(out[2])


def lookups(db_url: str, issuer: str, revoked: list[int], rounds: int) -> tuple[float, float]:
    """p50 and p99 lookup latency in ms, half hits, half misses."""
    from kiosk.store.engine import Database
    from kiosk.store.revocation import SqlRevocationIndex

    index = SqlRevocationIndex(Database(db_url))
    rng = random.Random(7)
    samples = []
    for i in range(rounds):
        serial = rng.choice(revoked) if i % 2 == 0 else rng.getrandbits(127) | 1 << 126
        t = time.perf_counter()
        hit = index.lookup(issuer, serial)
        samples.append(time.perf_counter() - t)
        assert (hit is not None) == (i % 2 == 0)
    samples.sort()
    return statistics.median(samples) * 1e3, samples[int(len(samples) * 0.99)] * 1e3


def bench_db(
    name: str, db_url: str, crls: list[Path], trust: Path, issuer: str, samples: list[list[int]]
) -> None:
    from kiosk.store.engine import Database

    db = Database(db_url)
    db.upgrade()
    db.dispose()
    for label, crl, sample in (("import", crls[0], samples[0]), ("replace", crls[1], samples[1])):
        seconds, rss, entries = run_import(db_url, crl, trust)
        p50, p99 = lookups(db_url, issuer, sample, 20_000)
        print(
            f"{name:8} {label:8} entries={entries:,} time={seconds:.1f}s "
            f"(target < 30 s) peak_rss={rss:.0f}MB (target < 600 MB) "
            f"lookup p50={p50:.3f}ms p99={p99:.3f}ms (target < 1 ms)",
            flush=True,
        )


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child_import(sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=5_000_000)
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="crl-bench-", dir=args.workdir) as tmp:
        work = Path(tmp)
        key, cert = make_ca(work / "trust")
        issuer = x509.SubjectKeyIdentifier.from_public_key(key.public_key()).digest.hex()
        crls, samples = [], []
        for number in (1, 2):
            t = time.perf_counter()
            path = work / f"bench-{number}.crl"
            samples.append(write_crl(path, args.entries, key, cert, number, seed=number))
            crls.append(path)
            print(
                f"generated {path.name}: {path.stat().st_size / 1e6:.0f} MB in "
                f"{time.perf_counter() - t:.1f}s",
                flush=True,
            )
        if args.db in ("sqlite", "both"):
            bench_db(
                "sqlite",
                f"sqlite:///{work / 'bench.sqlite3'}",
                crls,
                work / "trust",
                issuer,
                samples,
            )
        if args.db in ("postgres", "both"):
            sys.path.insert(0, str(ROOT / "tests"))
            from postgres_fixtures import postgres_server

            with postgres_server() as url:
                bench_db("postgres", url, crls, work / "trust", issuer, samples)


if __name__ == "__main__":
    main()
