#!/usr/bin/env bash
# Install the Debian packages jpki-kiosk needs, only those that are missing.
# Idempotent and quiet on a second run. Needs root, or sudo.
set -euo pipefail

PACKAGES=(
  # build pyscard from source, venv
  gcc libc6-dev python3-dev python3-venv swig libpcsclite-dev make
  # the PC/SC stack: daemon, virtual reader driver (vpcd), OpenSC's clients (benchmarks, e2e);
  # procps for pgrep in pcscd-up.sh (not in a minimal Debian)
  pcscd vsmartcard-vpcd opensc procps
  # Qt (PySide6) runtime for offscreen tests, and a CJK font so Japanese renders
  libgl1 libegl1 libxkbcommon0 libfontconfig1 libdbus-1-3 libglib2.0-0 fonts-noto-cjk
  # real windows under Xvfb (demo without a display, screenshots)
  xvfb xauth xdotool libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-render-util0
  libxcb-shape0 libxcb-xkb1 libxkbcommon-x11-0 libxcb-randr0 libxcb-xfixes0 libxcb-sync1
  libxcb-shm0 libxcb-render0 libx11-xcb1
  # the screen-reader test (tests/ui/test_atspi.py): the AT-SPI bus, a session D-Bus to carry
  # it, and Debian's AT-SPI client library for Python (read by /usr/bin/python3, as Orca does)
  at-spi2-core dbus-daemon python3-pyatspi
  # PostgreSQL server for the store tests (a throwaway cluster is started by the tests)
  postgresql
  # the browser the page tests drive headless (Playwright talks to it; no separate driver)
  chromium
  # the load generator of the platform benchmark (bench/platform_bench.py, and its harness test)
  wrk
  # the spoken guidance's synthesisers, run at build time by packaging/speech/generate.py
  # (docs/guidance.md): Open JTalk and its dictionary for Japanese, espeak-ng for English, sox
  # to resample and encode the WAV files; libpulse0, which Qt's multimedia module (playing the
  # guidance) links and does not load without
  open-jtalk open-jtalk-mecab-naist-jdic espeak-ng sox libpulse0
  # the kiosk session's sound server (packaging/sound/with-sound-server): the guidance tests
  # start it with a null sink (tests/sound_support.py; pactl and parec from pulseaudio-utils)
  pulseaudio pulseaudio-utils
  # make deb-test: the clean Debian 12 root the .deb is installed into (packaging/deb/install-test.sh)
  debootstrap
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  SUDO="sudo"
fi
echo "installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
