#!/bin/bash
# Run by install-test.sh inside the installed Debian 12 root, in pid and network namespaces of
# its own: pcscd, a TEST card in the vpcd reader, then `kiosk doctor` as the kiosk would run it.
set -euo pipefail

CONFIG=/etc/jpki-kiosk/kiosk.toml
kiosk_user() { runuser -u kiosk -- "$@"; }

# `kiosk doctor` as the session runs the kiosk: user kiosk, a client of cage (here on wlroots'
# headless backend and pixman renderer: the root has no screen or GPU). cage exits with its
# client; the client's output and status come back through files.
export XDG_RUNTIME_DIR=/run/jpki-kiosk
install -d -o kiosk -g kiosk -m 0700 "$XDG_RUNTIME_DIR"
in_cage() {  # OUT COMMAND...: runs COMMAND in cage, prints its output, returns its status
  local out=$1
  shift
  rm -f /tmp/cage-client.status
  (cd /var/lib/jpki-kiosk && kiosk_user env XDG_RUNTIME_DIR="$XDG_RUNTIME_DIR" \
    WLR_BACKENDS=headless WLR_LIBINPUT_NO_DEVICES=1 WLR_RENDERER=pixman QT_QPA_PLATFORM=wayland \
    cage -- /bin/sh -c 'out=$1; shift; "$@" >"$out" 2>&1; echo $? >/tmp/cage-client.status' \
    client "$out" "$@" >/root/cage.log 2>&1) || { cat /root/cage.log >&2; return 99; }
  cat "$out"
  [ -f /tmp/cage-client.status ] || { cat /root/cage.log >&2; return 98; }
  return "$(cat /tmp/cage-client.status)"
}
doctor_in_cage() {  # CONFIG OUT
  # Under the session's sound server as jpki-kiosk.service starts it (the installed wrapper),
  # with a null sink standing in for the speaker this root does not have.
  in_cage "$2" /usr/libexec/jpki-kiosk/with-sound-server /bin/sh -c \
    'pactl load-module module-null-sink sink_name=speaker >/dev/null && exec kiosk doctor --config "$1"' \
    doctor "$1"
}

# Every Qt module the kiosk imports loads: the package's Depends carry the libraries they link.
kiosk_user /opt/jpki-kiosk/venv/bin/python /tmp/qt-modules-check.py 2>/dev/null ||
  { echo "a Qt module the kiosk imports does not load" >&2; exit 1; }

# TEST trust anchors and CRLs where the installed configuration looks for them (an operator puts
# the J-LIS CA certificates and CRLs there), and a TEST card for the reader.
pki=/root/test-pki
kiosk pki init "$pki" >/dev/null
install -m 0644 "$pki"/trust/* /etc/jpki-kiosk/trust/
install -o kiosk -g kiosk -m 0640 "$pki"/crl/* /var/lib/jpki-kiosk/crl/
kiosk_user kiosk crl import --config "$CONFIG" >/dev/null
kiosk pki issue "$pki" --out /root/card.json >/dev/null

# pcscd reads vpcd's reader from /etc/reader.conf.d when it starts.
pcscd
for _ in $(seq 1 100); do [ -S /run/pcscd/pcscd.comm ] && break; sleep 0.1; done
[ -S /run/pcscd/pcscd.comm ] || { echo "pcscd did not come up" >&2; exit 1; }
kiosk sim insert /root/card.json >/root/sim.log 2>&1 &
sim=$!
for _ in $(seq 1 100); do grep -qs "card inserted" /root/sim.log && break; sleep 0.1; done
grep -q "card inserted" /root/sim.log || { cat /root/sim.log >&2; echo "no card in vpcd" >&2; exit 1; }

if [ "${JPKI_KIOSK_DOCTOR:-1}" = 0 ]; then
  kiosk_user kiosk --help >/dev/null
  echo "kiosk --help ran as user kiosk (doctor skipped)"
  kill "$sim"
  exit 0
fi

# 1. The installed configuration: every check passes.
set +e
doctor_in_cage "$CONFIG" /tmp/doctor.out
status=$?
set -e
[ "$status" -eq 0 ] || { echo "kiosk doctor failed ($status) on the installed configuration" >&2; exit 1; }
grep -q "^ok  *audio " /tmp/doctor.out || { echo "no audio output in the session" >&2; exit 1; }
echo "kiosk doctor: audio ok through the session's sound server"

# 2. A broken configuration: a value of the wrong type. Named, non-zero, no traceback.
broken=/tmp/broken.toml
sed 's/^idle_timeout_s = 60/idle_timeout_s = "soon"/' "$CONFIG" >"$broken"
grep -q '^idle_timeout_s = "soon"' "$broken" || { echo "could not break the configuration" >&2; exit 1; }
chmod 0644 "$broken"
set +e
doctor_in_cage "$broken" /tmp/doctor-broken.out
status=$?
set -e
[ "$status" -eq 1 ] || { echo "kiosk doctor gave $status on a broken configuration, not 1" >&2; exit 1; }
grep -q "^FAIL  *config .*idle_timeout_s" /tmp/doctor-broken.out ||
  { echo "the broken key is not named" >&2; exit 1; }
if grep -q "Traceback" /tmp/doctor-broken.out; then echo "a traceback" >&2; exit 1; fi

echo "kiosk doctor: all checks pass; the broken key is named"

# 3. The kiosk window, as `kiosk run` makes it, covers the screen of cage's Wayland display.
in_cage /tmp/window.out /opt/jpki-kiosk/venv/bin/python /tmp/window-check.py "$CONFIG" ||
  { echo "the window check failed" >&2; exit 1; }
grep -q '^{"platform": "wayland", "visible": true, "full_screen": [a-z]*, "covers_screen": true' \
  /tmp/window.out || { echo "the kiosk window did not cover cage's screen" >&2; exit 1; }
echo "kiosk window: covers the screen on Wayland inside cage"
kill "$sim"
