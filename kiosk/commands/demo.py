"""`kiosk demo`: a test PKI, a test card in the virtual reader, and the kiosk window.

Everything lives under `var/demo/` (made once, reused after): `pki/` (TEST authority),
`card.json` (the demo card: PIN 1234, signature password ABC123), `kiosk.toml` (local
verification against the TEST anchors, SQLite store; the demo clinic's insurance check over
a TEST roster and TEST patient record loaded from `records/`, its results dropped as FHIR
Bundles into `reception/`). The virtual card is inserted into the
vpcd reader for as long as the demo runs. With no display, the window runs under Xvfb and
screenshots of the screens are written to `var/demo/screenshots/`.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import selectors
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kiosk.pos.server import PosServer

DEMO_PIN = "1234"
DEMO_SIGN_PASSWORD = "ABC123"  # noqa: S105 - the documented test card's password
DEMO_STAFF_ID = "1"
DEMO_STAFF_PIN = "000000"  # noqa: S105 - demo only
DEMO_READER = "Virtual PCD 00 00"
DEMO_PORT = 35963
#: The tokens `--token` offers (kiosk.simcard.personality's names).
DEMO_TOKENS = ("card", "android", "iphone", "face_auth")
PACKAGING = Path(__file__).resolve().parents[2] / "packaging"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `demo` command."""
    parser = subparsers.add_parser(
        "demo", help="run the kiosk on a virtual card with a test PKI (var/demo)"
    )
    parser.add_argument("--dir", default="var/demo", help="where the demo keeps its files")
    parser.add_argument("--port", type=int, default=DEMO_PORT, help="vpcd port for the card")
    parser.add_argument("--reader", default=DEMO_READER, help="PC/SC reader of that port")
    parser.add_argument(
        "--headless", action="store_true", help="run under Xvfb and save screenshots"
    )
    parser.add_argument(
        "--token",
        choices=DEMO_TOKENS,
        default="card",
        help="what the virtual card plays: card, android, iphone (confirmed on the phone "
        "before the tap) or face_auth; a phone has its own TEST CAs (docs/tokens.md)",
    )
    parser.add_argument(
        "--generation",
        choices=("current", "next"),
        default="current",
        help="the card's generation: today's (RSA) or the next (ECDSA P-384, docs/next-card.md)",
    )
    parser.set_defaults(func=run_demo)


def prepare(root: Path, reader: str) -> tuple[Path, Path]:
    """Create (once) the demo PKI, card and configuration; return (card path, config path)."""
    from kiosk.pki.authority import init_pki, load_pki
    from kiosk.pki.cardfile import save_card

    pki_dir = root / "pki"
    pki = load_pki(pki_dir) if pki_dir.exists() else init_pki(pki_dir)
    card_path = root / "card.json"
    if not card_path.exists():
        save_card(card_path, pki.issue_card(pin=DEMO_PIN, sign_password=DEMO_SIGN_PASSWORD))
        print(f"demo card issued: {card_path} (PIN {DEMO_PIN}, password {DEMO_SIGN_PASSWORD})")
    config_path = root / "kiosk.toml"
    if not config_path.exists():
        config_path.write_text(
            "# Written by `kiosk demo`: local verification against the project's TEST authority.\n"
            'verification = "local"\n'
            f'data_dir = "{root}"\n'
            f'trust_dir = "{pki.trust_dir}"\n'
            f'crl_dir = "{pki.crl_dir}"\n'
            f'reader = "{reader}"\n'
            'provider_id = "demo-clinic"\n'
            'terminal_id = "demo-kiosk"\n' + _demo_staff(),
            encoding="utf-8",
        )
    else:
        _migrate_staff(config_path)
    _add_clinic(config_path, root)
    _add_shop(config_path)
    _add_online_service(config_path)
    seed_records(root, config_path)
    seed_purchase(config_path)
    return card_path, config_path


def prepare_next_card(root: Path) -> Path:
    """Create (once) the demo's next-generation card, `next-card.json`, from the demo PKI's
    next-generation TEST roots (made on first use, beside today's in its trust directory,
    their CRLs in its CRL directory, which the demo configuration already names)."""
    from kiosk.pki.authority import Generation, load_pki
    from kiosk.pki.cardfile import save_card

    path = root / "next-card.json"
    if not path.exists():
        pki = load_pki(root / "pki")
        card = pki.issue_card(
            pin=DEMO_PIN, sign_password=DEMO_SIGN_PASSWORD, generation=Generation.NEXT
        )
        save_card(path, card)
        print(f"demo next-generation card issued: {path} (PIN {DEMO_PIN})")
    return path


def prepare_phone(root: Path, config_path: Path) -> Path:
    """Create (once) the demo phone: its own TEST CAs in `phone-pki/` (phone certificates have
    their own CA), its certificates in `phone.json` (PIN 1234, password ABC123), its CAs'
    CRLs beside the card's, and `[tokens]` in the configuration so the kiosk takes phones.
    Returns the phone's card-file path."""
    from kiosk.pki.authority import init_pki, load_pki
    from kiosk.pki.cardfile import save_card

    pki_dir = root / "phone-pki"
    pki = load_pki(pki_dir) if pki_dir.exists() else init_pki(pki_dir)
    phone_path = root / "phone.json"
    if not phone_path.exists():
        save_card(phone_path, pki.issue_card(pin=DEMO_PIN, sign_password=DEMO_SIGN_PASSWORD))
        print(f"demo phone issued: {phone_path} (PIN {DEMO_PIN}, password {DEMO_SIGN_PASSWORD})")
    card_crls = load_pki(root / "pki").crl_dir
    for crl in sorted(pki.crl_dir.glob("*.crl")):
        shutil.copy(crl, card_crls / f"phone-{crl.name}")
    text = config_path.read_text(encoding="utf-8")
    if "\n[tokens]\n" not in text:
        config_path.write_text(
            text + "\n# `kiosk demo --token android|iphone`: phones, with their TEST CAs.\n"
            f'[tokens]\naccept_phones = true\nphone_trust_dir = "{pki.trust_dir}"\n',
            encoding="utf-8",
        )
    return phone_path


#: The demo clinic's reception settings: the insurance check over the loaded TEST roster, the
#: card linked to the clinic's own (TEST) patient record, results dropped as FHIR files.
_CLINIC_TOP = (
    "# The demo clinic (`kiosk demo`): the insurance check reads the TEST roster loaded into the\n"
    "# store, enrolment links the clinic's own TEST patient record, results go to reception/.\n"
    'services = ["identity", "insurance"]\n'
    'enrol_to = "patient_record"\n'
)


def _add_clinic(config_path: Path, root: Path) -> None:
    """Give a demo configuration (also one an earlier version wrote) the demo clinic's
    settings, once: top-level keys go first, before any table."""
    text = original = config_path.read_text(encoding="utf-8")
    if "\nenrol_to = " not in text:
        text = _CLINIC_TOP + text
    if "\n[insurance]" not in text:
        text += '\n[insurance]\ndirectory = "roster"\n'
    if "\n[reception]" not in text:
        text += f'\n[reception]\ndelivery = "file"\ndirectory = "{root / "reception"}"\n'
    if text != original:
        config_path.write_text(text, encoding="utf-8")


#: The demo shop's POS token (TEST): `curl -H "Authorization: Bearer TEST-POS-TOKEN" ...`.
DEMO_POS_TOKEN = "TEST-POS-TOKEN"  # noqa: S105 - demo only
#: Where the demo kiosk serves the POS API.
DEMO_POS_LISTEN = "127.0.0.1:8470"


def _add_shop(config_path: Path) -> None:
    """Give a demo configuration the shop counter, once: the payment service over the TEST
    card company, the POS API on this machine with the TEST token, and the receipts on
    screen."""
    text = original = config_path.read_text(encoding="utf-8")
    text = text.replace(
        'services = ["identity", "insurance"]\n',
        'services = ["identity", "insurance", "payment"]\n',
    )
    if "\n[payment]" not in text:
        text += '\n[payment]\ngateway = "test"  # TEST card company: nothing is charged\n'
    if "\n[pos]" not in text:
        text += f'\n[pos]\nlisten = "{DEMO_POS_LISTEN}"\n'
    if "\n[pos_tokens]" not in text:
        digest = hashlib.sha256(DEMO_POS_TOKEN.encode()).hexdigest()
        text += f'\n[pos_tokens]\n"demo-clinic" = "{digest}"  # TEST: {DEMO_POS_TOKEN}\n'
    if text != original:
        config_path.write_text(text, encoding="utf-8")


#: The demo's OpenID Provider (in the kiosk: a one-box operator that verifies itself) and its
#: TEST online service, both on this machine.
DEMO_ISSUER = "http://127.0.0.1:8480"
DEMO_ONLINE_SERVICE = "http://127.0.0.1:8490"
DEMO_CLIENT_ID = "demo-online"
DEMO_CLIENT_SECRET = "TEST-ONLINE-SERVICE-SECRET"  # noqa: S105 - demo only


def _add_online_service(config_path: Path) -> None:
    """Give a demo configuration the login, once: the OpenID Provider served by the kiosk on
    127.0.0.1:8480 and the TEST online service registered as its client."""
    text = original = config_path.read_text(encoding="utf-8")
    text = text.replace(
        'services = ["identity", "insurance", "payment"]\n',
        'services = ["identity", "insurance", "payment", "login"]\n',
    )
    if "\n[oidc]" not in text:
        text += f'\n[oidc]\nissuer = "{DEMO_ISSUER}"\nlisten = "127.0.0.1:8480"\n'
    if "\n[[oidc_clients]]" not in text:
        digest = hashlib.sha256(DEMO_CLIENT_SECRET.encode()).hexdigest()
        text += (
            "\n[[oidc_clients]]  # the TEST online service `kiosk demo` serves\n"
            f'client_id = "{DEMO_CLIENT_ID}"\nname = "TEST ネットサービス"\n'
            f'redirect_uris = ["{DEMO_ONLINE_SERVICE}/callback"]\n'
            f'auth_method = "client_secret_basic"\nsecret_sha256 = "{digest}"\n'
            'providers = ["demo-clinic"]\n'
        )
    if text != original:
        config_path.write_text(text, encoding="utf-8")


def serve_online_service() -> PosServer:
    """The TEST online service on 127.0.0.1:8490 (stopped with `.stop()`)."""
    from kiosk.demo.online_service import OnlineServiceSettings, create_online_service_app
    from kiosk.pos.server import PosServer

    settings = OnlineServiceSettings(
        DEMO_ISSUER, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, f"{DEMO_ONLINE_SERVICE}/callback"
    )
    server = PosServer(create_online_service_app(settings), "127.0.0.1", 8490)
    server.start()
    return server


def seed_purchase(config_path: Path) -> None:
    """One TEST purchase open for the demo kiosk's terminal (unless one is open already), so
    the payment has something to pay before anyone rings up with curl."""
    from kiosk.clock import utc_now
    from kiosk.config import load
    from kiosk.demo.payment import ring_up_demo_purchase
    from kiosk.store.engine import Database
    from kiosk.store.payment_requests import PaymentRequests

    cfg = load(config_path)
    db = Database(cfg.effective_database_url)
    try:
        db.upgrade()
        ring_up_demo_purchase(PaymentRequests(db), cfg.provider_id, cfg.terminal_id, utc_now())
    finally:
        db.dispose()


#: The demo card's person in the TEST roster and the TEST clinic's records (the names as the
#: records write them: an ASCII space where the card has an ideographic one).
_DEMO_ROSTER = (
    "insurer,symbol,number,branch,name,name_kana,birth_date,valid_from,valid_to,lost_on,"
    "copay_tenths\n"
    "00009901,TEST,01,00,試験 太郎,シケン タロウ,1980-02-17,2024-04-01,2099-03-31,,3\n"
)
_DEMO_PATIENTS = (
    "patient_number,name,name_kana,birth_date,insurer,symbol,number,branch\n"
    "TEST-0001,試験 太郎,シケン タロウ,1980-02-17,00009901,TEST,01,00\n"
)


def seed_records(root: Path, config_path: Path) -> None:
    """Load the TEST roster and the TEST clinic's patient records into the demo's store (each
    load replaces the last, so running the demo again changes nothing)."""
    from kiosk.commands.insurance import import_patients_command, import_roster_command

    records = root / "records"
    records.mkdir(exist_ok=True)
    roster, patients = records / "roster.csv", records / "patients.csv"
    roster.write_text(_DEMO_ROSTER, encoding="utf-8")
    patients.write_text(_DEMO_PATIENTS, encoding="utf-8")
    config, by = str(config_path), "kiosk-demo"
    if import_roster_command(argparse.Namespace(file=roster, config=config, by=by)) != 0:
        raise RuntimeError("the demo roster did not load")
    loaded = argparse.Namespace(file=patients, provider="demo-clinic", config=config, by=by)
    if import_patients_command(loaded) != 0:
        raise RuntimeError("the demo patient records did not load")


def _demo_staff() -> str:
    """The demo's one member of staff (staff number 1), as a [[staff]] table."""
    from kiosk.flow.staff import Credential

    credential = Credential.make(DEMO_STAFF_PIN).encode()
    return f'\n[[staff]]\nid = "{DEMO_STAFF_ID}"\ncredential = "{credential}"\n'


def _migrate_staff(config_path: Path) -> None:
    """A demo configuration written before staff credentials had the retired SHA-256 line,
    which the kiosk now refuses: swap it for the demo's [[staff]] table."""
    lines = config_path.read_text(encoding="utf-8").splitlines(keepends=True)
    kept = [line for line in lines if not line.startswith("staff_pin_sha256")]
    if len(kept) != len(lines):
        config_path.write_text("".join(kept) + _demo_staff(), encoding="utf-8")


def insert_card(card_path: Path, port: int, plays: str = "card") -> subprocess.Popen[str]:
    """Start `kiosk sim insert` (playing the token `plays`) and wait until it says the card is
    in the reader; an iPhone is confirmed on the phone before the tap."""
    as_token = ["--as", plays, *(["--confirmed"] if plays == "iphone" else [])]
    sim = subprocess.Popen(
        [sys.executable, "-m", "kiosk.cli", "sim", "insert", str(card_path), "--port", str(port)]
        + as_token,
        stdout=subprocess.PIPE,
        text=True,
    )
    if sim.stdout is None:  # never, with stdout=PIPE; the type allows it
        sim.kill()
        raise RuntimeError("the virtual card started without its output pipe")
    deadline = time.monotonic() + 15
    with selectors.DefaultSelector() as sel:
        sel.register(sim.stdout, selectors.EVENT_READ)
        while (left := deadline - time.monotonic()) > 0 and sim.poll() is None:
            if not sel.select(timeout=left):
                continue
            line = sim.stdout.readline()
            if "card inserted" in line:
                print(line.strip())
                return sim
    sim.terminate()
    from kiosk.errors import KioskError

    raise KioskError(f"the virtual card could not reach vpcd on port {port}: is pcscd running?")


def run_demo(args: argparse.Namespace) -> int:
    """Prepare, insert the card, run the kiosk window (or screenshots without a display)."""
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(line_buffering=True)  # keep order with the children's output
    root = Path(args.dir)
    root.mkdir(parents=True, exist_ok=True)
    card_path, config_path = prepare(root, args.reader)
    if args.generation == "next":
        card_path = prepare_next_card(root)
    if args.token in ("android", "iphone"):
        card_path = prepare_phone(root, config_path)
    sim = insert_card(card_path, args.port, args.token)
    online = serve_online_service()
    try:
        headless = args.headless or not (
            os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
        )
        if headless:
            out = root / "screenshots"
            if not shutil.which("xvfb-run"):
                from kiosk.errors import KioskError

                raise KioskError("no display and no xvfb-run: install xvfb (make demo does)")
            xvfb = ["xvfb-run", "-a", "-s", "-screen 0 1280x800x24", sys.executable]
            print("no display: running the kiosk window under Xvfb and saving screenshots")
            # The real window over PC/SC with the inserted card, then a tour of every screen.
            opts = ["--config", str(config_path), "--out", str(out)]
            rc = subprocess.call([*xvfb, str(PACKAGING / "window_shot.py"), *opts])
            rc = rc or subprocess.call([*xvfb, str(PACKAGING / "screenshots.py"), *opts])
            print(f"screenshots written to {out.resolve()}/")
            return rc
        print(
            f"kiosk window: PIN {DEMO_PIN}; staff number {DEMO_STAFF_ID}, "
            f"staff PIN {DEMO_STAFF_PIN}; sign in online: open {DEMO_ONLINE_SERVICE}/"
        )
        return subprocess.call(
            [sys.executable, "-m", "kiosk.cli", "run", "--config", str(config_path), "--windowed"]
        )
    finally:
        online.stop()
        sim.terminate()
        sim.wait(timeout=10)
