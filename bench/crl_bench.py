"""CRL benchmark: import a generated N-entry CRL (default 5,000,000), then look serials up;
then a refresh that changes 1 % of it, over HTTP through the refresher (issue 14).

Run: .venv/bin/python bench/crl_bench.py [--entries 5000000] [--db sqlite|postgres|both]
     [--skip-import]

The CRL is written straight as DER by a streaming writer and signed by a throwaway RSA-2048 CA.
Each import runs in a child process, so its peak RSS is the importer's alone. PostgreSQL uses
KIOSK_TEST_POSTGRES_URL, or a throwaway cluster started the way the tests start one.

The refresh: complete CRL #11 (N entries) is fetched by `CrlRefresher` from a local HTTP server
on 127.0.0.1 and imported whole (the raw baseline: what every refresh cost before); then #13,
the same list with every 200th entry removed and N/200 new ones added (1 % of the entries
changed), is fetched and applied as its diff in place; then delta CRL #14 on base #13 (N/200
additions and N/200 removeFromCRL entries: 1 % again) is fetched and applied in place.
"""

from __future__ import annotations

import argparse
import hashlib
import http.server
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.x509.oid import NameOID

ROOT = Path(__file__).resolve().parents[1]
SHA256_RSA = bytes.fromhex("300d06092a864886f70d01010b0500")
REASON_EXT = bytes.fromhex("300c300a0603551d150403 0a0101".replace(" ", ""))  # keyCompromise
REMOVE_EXT = bytes.fromhex("300c300a0603551d150403 0a0108".replace(" ", ""))  # removeFromCRL
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


def entry_chunks(count: int, seed: int, drop=None, keep=None):
    """Yield (DER bytes, serials sample) chunks of revoked entries with random 16-octet serials.

    `drop(i)` true: entry i is left out; `keep(i)` true: its serial goes to the sample only
    then (the default: every 997th entry)."""
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
            if keep(done + i) if keep is not None else i % 997 == 0:
                sample.append(int.from_bytes(serial, "big"))
            if drop is not None and drop(done + i):
                continue
            body = b"\x02\x10" + serial + times[(done + i) & 4095]
            if (done + i) % 10 == 0:
                body += REASON_EXT
            parts.append(b"\x30" + bytes([len(body)]) + body)
        yield b"".join(parts), sample
        done += n


def entries_length(count: int) -> int:
    plain = 2 + 18 + 15
    return count * plain + ((count + 9) // 10) * len(REASON_EXT)


def write_crl(
    path: Path, count: int, key: rsa.RSAPrivateKey, cert: x509.Certificate, number: int, seed: int
) -> list[int]:
    """Write a signed DER CRL of `count` entries to path; return a sample of its serials."""
    return write_entries(
        path, [entry_chunks(count, seed)], entries_length(count), key, cert, number
    )


def removal_chunks(serials: list[int]):
    """removeFromCRL entries (a delta CRL's) for the serials, as one chunk."""
    at = tlv(0x17, datetime.now(UTC).strftime("%y%m%d%H%M%SZ").encode())
    parts = []
    for serial in serials:
        body = tlv(0x02, serial.to_bytes(16, "big")) + at + REMOVE_EXT
        parts.append(tlv(0x30, body))
    yield b"".join(parts), []


def integer(n: int) -> bytes:
    return tlv(0x02, n.to_bytes(n.bit_length() // 8 + 1, "big"))


def write_entries(
    path: Path,
    sources: list,
    body_len: int,
    key: rsa.RSAPrivateKey,
    cert: x509.Certificate,
    number: int,
    delta_base: int | None = None,
) -> list[int]:
    """Write a signed DER CRL whose entries are the chunks of `sources` (body_len bytes in
    all) to path; a delta CRL on `delta_base` when given. A sample of its serials."""
    now = datetime.now(UTC).replace(microsecond=0)
    aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key())
    ski = aki.key_identifier
    delta = b""
    if delta_base is not None:  # deltaCRLIndicator, critical
        delta = tlv(0x30, bytes.fromhex("0603551d1b0101ff") + tlv(0x04, integer(delta_base)))
    extensions = tlv(
        0xA0,
        tlv(
            0x30,
            tlv(0x30, bytes.fromhex("0603551d23") + tlv(0x04, tlv(0x30, tlv(0x80, ski))))
            + tlv(0x30, bytes.fromhex("0603551d14") + tlv(0x04, integer(number)))
            + delta,
        ),
    )
    head = (
        b"\x02\x01\x01"
        + SHA256_RSA
        + cert.subject.public_bytes()
        + tlv(0x17, now.strftime("%y%m%d%H%M%SZ").encode())
        + tlv(0x17, (now + timedelta(days=1)).strftime("%y%m%d%H%M%SZ").encode())
    )
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
        for source in sources:
            for chunk, chunk_sample in source:
                out(chunk)
                written += len(chunk)
                sample.extend(chunk_sample)
        assert written == body_len, (written, body_len)
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


# --- the refresh: 1 % of the entries changed, over HTTP through the refresher ---------------

#: One entry in CHANGE_EVERY changes per refresh (1 %).
CHANGE_EVERY = 200
#: Bytes of a generated entry with a reasonCode (every entry at a multiple of 10 has one).
REASON_ENTRY = 2 + 18 + 15 + len(REASON_EXT)


def write_refresh_crls(work: Path, count: int, key: rsa.RSAPrivateKey, cert) -> dict[str, list]:
    """r11.crl (count entries), r13.crl (every CHANGE_EVERY-th entry removed, as many new
    ones), r14.crl (delta on 13: as many new, and removeFromCRL for as many of r13's); the
    serials each step adds and removes."""
    changes = count // CHANGE_EVERY
    write_crl(work / "r11.crl", count, key, cert, 11, seed=11)
    picked = entry_chunks(
        count,
        11,
        drop=lambda i: i % CHANGE_EVERY == 0,
        keep=lambda i: i % CHANGE_EVERY in (0, CHANGE_EVERY // 2),
    )
    added13 = entry_chunks(changes, 13, keep=lambda i: True)
    length13 = entries_length(count) - changes * REASON_ENTRY + entries_length(changes)
    sample = write_entries(work / "r13.crl", [picked, added13], length13, key, cert, 13)
    dropped13, removed14, added13 = (
        sample[0 : 2 * changes : 2],
        sample[1 : 2 * changes : 2],
        sample[2 * changes :],
    )
    removals = list(removal_chunks(removed14))
    added14 = entry_chunks(changes, 14, keep=lambda i: True)
    length14 = entries_length(changes) + len(removals[0][0])
    added14 = write_entries(work / "r14.crl", [added14, removals], length14, key, cert, 14, 13)
    return {"removed13": dropped13, "added13": added13, "removed14": removed14, "added14": added14}


def child_refresh(db_url: str, base_url: str, work: Path, trust: Path) -> None:
    """In the child: one refresher pass over the served full.crl and delta.crl (whichever
    changed); print its wall seconds, the store's share, the peak RSS and the outcome."""
    from kiosk.config import CrlRefreshConfig
    from kiosk.platform.crlrefresh import CrlRefresher
    from kiosk.store.engine import Database
    from kiosk.verify.trust import TrustStore

    settings = CrlRefreshConfig(
        (f"{base_url}/full.crl", f"{base_url}/delta.crl"), timeout_s=600, max_bytes=1 << 30
    )
    refresher = CrlRefresher(Database(db_url), TrustStore.from_dir(trust), settings, work / "cache")
    for url in settings.urls:
        if not (work / "served" / url.rsplit("/", 1)[1]).exists():
            continue
        started = time.perf_counter()
        outcome = refresher.refresh(url, force=True)
        seconds = time.perf_counter() - started
        if outcome.status not in ("applied", "not_modified"):
            raise SystemExit(f"refresh failed: {outcome.line()}")
        if outcome.result is None:
            continue
        rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        store_s = outcome.result.seconds
        print(f"{seconds:.3f} {store_s:.3f} {rss_mb:.1f} {outcome.result.entries} {outcome.line()}")
    refresher.close()


def run_refresh(
    db_url: str, base_url: str, work: Path, trust: Path
) -> tuple[float, float, float, int, str]:
    out = subprocess.run(
        [sys.executable, __file__, "--child-refresh", db_url, base_url, str(work), str(trust)],
        check=False,
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        raise SystemExit(f"refresh failed:\n{out.stdout}{out.stderr}")
    seconds, store_s, rss, entries, line = out.stdout.strip().splitlines()[-1].split(" ", 4)
    return float(seconds), float(store_s), float(rss), int(entries), line


@contextmanager
def crl_http_server(directory: Path):
    """A plain HTTP server for `directory` on 127.0.0.1 (Last-Modified, If-Modified-Since)."""
    handler = partial(QuietHandler, directory=str(directory))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def bench_refresh(name: str, db_url: str, work: Path, trust: Path, issuer: str, serials) -> None:
    """Whole import, diff in place, delta in place: each a refresher pass in a child."""
    from kiosk.store.engine import Database
    from kiosk.store.revocation import SqlRevocationIndex

    served = work / "served"
    shutil.rmtree(served, ignore_errors=True)
    shutil.rmtree(work / "cache", ignore_errors=True)
    served.mkdir()
    index = SqlRevocationIndex(Database(db_url))
    steps = (
        ("whole import of #11 (raw baseline)", "full.crl", "r11.crl", (), ()),
        ("#13 = 1 % changed, diff in place", "full.crl", "r13.crl", "added13", "removed13"),
        ("delta #14 on #13, 1 % changed", "delta.crl", "r14.crl", "added14", "removed14"),
    )
    with crl_http_server(served) as base_url:
        for label, name_served, source, added, removed in steps:
            tmp = served / f".{name_served}"
            shutil.copyfile(work / source, tmp)
            os.replace(tmp, served / name_served)
            seconds, store_s, rss, entries, line = run_refresh(db_url, base_url, work, trust)
            for key, present in ((added, True), (removed, False)):
                for serial in serials[key][:2000] if key else ():
                    assert (index.lookup(issuer, serial) is not None) == present, (label, key)
            target = "" if "baseline" in label else "target < 5 s; "
            print(
                f"{name:8} refresh  {label}: {seconds:.2f}s ({target}store "
                f"{store_s:.2f}s) entries={entries:,} peak_rss={rss:.0f}MB\n"
                f"         {line}",
                flush=True,
            )


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child_import(sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4]))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--child-refresh":
        child_refresh(sys.argv[2], sys.argv[3], Path(sys.argv[4]), Path(sys.argv[5]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=5_000_000)
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument(
        "--skip-import", action="store_true", help="only the refresh (not import and replace)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="crl-bench-", dir=args.workdir) as tmp:
        work = Path(tmp)
        key, cert = make_ca(work / "trust")
        issuer = x509.SubjectKeyIdentifier.from_public_key(key.public_key()).digest.hex()
        crls, samples = [], []
        t = time.perf_counter()
        changed = write_refresh_crls(work, args.entries, key, cert)
        print(f"generated r11, r13, r14.crl in {time.perf_counter() - t:.1f}s", flush=True)
        for number in () if args.skip_import else (1, 2):
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
            url = f"sqlite:///{work / 'bench.sqlite3'}"
            if not args.skip_import:
                bench_db("sqlite", url, crls, work / "trust", issuer, samples)
            fresh = f"sqlite:///{work / 'refresh.sqlite3'}"
            upgrade(fresh)
            bench_refresh("sqlite", fresh, work, work / "trust", issuer, changed)
        if args.db in ("postgres", "both"):
            sys.path.insert(0, str(ROOT / "tests"))
            from postgres_fixtures import postgres_server

            with postgres_server() as url:
                if not args.skip_import:
                    bench_db("postgres", url, crls, work / "trust", issuer, samples)
                fresh = fresh_postgres(url)
                upgrade(fresh)
                bench_refresh("postgres", fresh, work, work / "trust", issuer, changed)


def upgrade(url: str) -> None:
    from kiosk.store.engine import Database

    db = Database(url)
    db.upgrade()
    db.dispose()


def fresh_postgres(url: str) -> str:
    """A new empty database on the server of `url` (the refresh starts from no CRL)."""
    import psycopg
    from sqlalchemy.engine import make_url

    with psycopg.connect(
        url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True
    ) as conn:
        conn.execute("CREATE DATABASE crl_refresh_bench")
    return make_url(url).set(database="crl_refresh_bench").render_as_string(hide_password=False)


if __name__ == "__main__":
    main()
