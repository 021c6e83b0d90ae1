#!/usr/bin/env bash
# Install the jpki-kiosk .deb into a clean Debian 12 root and check it there, as a kiosk would be
# set up: `apt-get install ./jpki-kiosk_*.deb` (dependencies from Debian), vsmartcard-vpcd for
# the virtual card, pcscd started, a TEST card put in the reader with `kiosk sim insert`, then
#   1. `kiosk doctor` with the installed configuration (plus TEST trust anchors and CRLs): exit 0
#   2. `kiosk doctor` with a broken configuration: non-zero, the broken key named, no traceback
#   3. `systemd-analyze verify` on the installed units (their programs exist in the root)
#   4. remove keeps /var/lib/jpki-kiosk, purge deletes it
#
#   packaging/deb/install-test.sh [DEB]     (default: the newest dist/jpki-kiosk_*.deb)
#
# Needs root (chroot, mounts, namespaces) and the Debian mirror of /etc/apt/sources.list.d.
# The root is made by debootstrap, or copied from JPKI_DEB_TEST_ROOT when that names a ready
# debootstrap'd bookworm root (quicker; it is never modified). Set JPKI_KIOSK_DOCTOR=0 to run
# `kiosk --help` in place of `kiosk doctor` (before the doctor command exists), and
# JPKI_DEB_TEST_KEEP=1 to keep the root afterwards (its path is printed) to look into.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
deb=${1:-$(ls -t "$top"/dist/jpki-kiosk_*.deb 2>/dev/null | head -n 1 || true)}
[ -n "$deb" ] && [ -f "$deb" ] || { echo "no .deb: run 'make package' first (or pass DEB)" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || { echo "install-test.sh needs root (chroot and namespaces)" >&2; exit 1; }

work=$(mktemp -d /var/tmp/jpki-deb-test.XXXXXX)
root="$work/root"
cleanup() {
  # The chroot's mounts live in private mount namespaces (unshare below) and die with them.
  if [ "${JPKI_DEB_TEST_KEEP:-0}" = 1 ]; then echo "kept $root"; else rm -rf "$work"; fi
}
trap cleanup EXIT
step() { printf '== %s (%ds)\n' "$1" "$SECONDS"; }

# --- 1. A clean Debian 12 root ------------------------------------------------------------------
mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
if [ -n "${JPKI_DEB_TEST_ROOT:-}" ]; then
  step "copy the Debian 12 root $JPKI_DEB_TEST_ROOT"
  cp -a "$JPKI_DEB_TEST_ROOT" "$root"
else
  step "debootstrap Debian 12 (bookworm) from ${mirror:-the default mirror}"
  debootstrap --variant=minbase bookworm "$root" ${mirror:+"$mirror"} >"$work/debootstrap.log" 2>&1 ||
    { tail -n 20 "$work/debootstrap.log" >&2; exit 1; }
fi
chmod 0755 "$root"
# This machine's apt configuration (its mirror and proxy), DNS and CA certificates.
cp /etc/resolv.conf "$root/etc/resolv.conf"
cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt" 2>/dev/null || true
if [ -f /etc/apt/sources.list.d/debian.sources ]; then
  cp /etc/apt/sources.list.d/debian.sources "$root/etc/apt/sources.list.d/"
  rm -f "$root/etc/apt/sources.list"
fi
for conf in /etc/apt/apt.conf.d/99*; do
  [ -f "$conf" ] && cp "$conf" "$root/etc/apt/apt.conf.d/"
done
# Nothing starts daemons while packages are installed (as in any image build).
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 0755 "$root/usr/sbin/policy-rc.d"
cp "$deb" "$root/tmp/"
cp "$here/install-test-inside.sh" "$here/window-check.py" "$here/qt-modules-check.py" "$root/tmp/"
chmod 0644 "$root/tmp/window-check.py" "$root/tmp/qt-modules-check.py"

# In the root: proc, sys and dev, in a private mount namespace (gone when it exits).
in_root() {
  unshare --mount --fork /bin/bash -c '
    root=$1; shift
    mount -t proc proc "$root/proc"
    mount --rbind /sys "$root/sys"; mount --make-rslave "$root/sys"
    mount --rbind /dev "$root/dev"; mount --make-rslave "$root/dev"
    exec chroot "$root" "$@"' in_root "$root" "$@"
}

# --- 2. Install the package with apt: its dependencies come from Debian ------------------------
step "apt-get install ./$(basename "$deb") vsmartcard-vpcd"
in_root /bin/bash -c "
  set -e
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends /tmp/$(basename "$deb") vsmartcard-vpcd >/tmp/apt.log 2>&1 ||
    { tail -n 40 /tmp/apt.log >&2; exit 1; }
  dpkg-query -W -f='\${Package} \${Version} \${Status}\n' jpki-kiosk
  # What postinst made: the user, its database (migrated), the session enabled for the next boot.
  test \"\$(stat -c %U:%G /var/lib/jpki-kiosk/kiosk.sqlite3)\" = kiosk:kiosk
  test \"\$(stat -c %a:%U:%G /etc/jpki-kiosk/kiosk.toml)\" = 640:root:kiosk
  getent passwd jpki-platform >/dev/null
  test -L /etc/systemd/system/graphical.target.wants/jpki-kiosk.service
  test ! -e /etc/systemd/system/timers.target.wants/jpki-kiosk-crl-refresh.timer
  echo 'postinst: users kiosk and jpki-platform, database migrated, configuration 0640, session enabled'
  # The session's sound server: the dependency, the wrapper the unit runs, the login's own masked.
  dpkg-query -W -f='\${Package} \${Version} \${Status}\n' pulseaudio
  test -x /usr/libexec/jpki-kiosk/with-sound-server
  for unit in pulseaudio.service pulseaudio.socket; do
    test \"\$(readlink /var/lib/jpki-kiosk/.config/systemd/user/\$unit)\" = /dev/null
  done
  echo 'sound: pulseaudio installed, with-sound-server in place, the per-user PulseAudio masked for kiosk'
"

# --- 3. pcscd, the virtual card, kiosk doctor: in their own pid and network namespaces --------
# (this machine's own pcscd listens on vpcd's port too: the root gets a loopback of its own)
step "pcscd + virtual card + kiosk doctor, inside the root"
unshare --pid --net --mount --fork /bin/bash -c '
  ip link set lo up 2>/dev/null || true
  root=$1
  mount -t proc proc "$root/proc"
  mount --rbind /dev "$root/dev"; mount --make-rslave "$root/dev"
  exec chroot "$root" /bin/bash /tmp/install-test-inside.sh' in_net "$root"

# --- 4. The installed units verify (their programs are there now) ------------------------------
step "systemd-analyze verify on the installed units"
systemd-analyze verify --root="$root" jpki-kiosk.service jpki-kiosk-platform.service \
  jpki-kiosk-crl-refresh.service jpki-kiosk-crl-refresh.timer

# --- 5. Reinstalling (an upgrade's path) keeps the data; removal too; purge deletes it ----------
step "apt-get install --reinstall, remove, then purge"
in_root /bin/bash -c '
  set -e
  export DEBIAN_FRONTEND=noninteractive
  fail() { echo "$1" >&2; exit 1; }
  db=/var/lib/jpki-kiosk/kiosk.sqlite3
  before=$(md5sum "$db")
  apt-get install -y -qq --reinstall "/tmp/$1" >/dev/null 2>&1 || fail "reinstall failed"
  [ "$(md5sum "$db")" = "$before" ] || fail "reinstall changed the database"
  runuser -u kiosk -- kiosk --help >/dev/null || fail "no kiosk after the reinstall"
  apt-get remove -y -qq jpki-kiosk >/dev/null
  test -f "$db" || fail "remove deleted the data"
  test ! -e /opt/jpki-kiosk || fail "remove left /opt/jpki-kiosk"
  test -d /opt || fail "remove took /opt"
  test -f /etc/jpki-kiosk/kiosk.toml || fail "remove deleted the configuration"
  apt-get purge -y -qq jpki-kiosk >/dev/null
  test ! -e /var/lib/jpki-kiosk || fail "purge kept the data"
  test ! -e /etc/jpki-kiosk/kiosk.toml || fail "purge kept the configuration"
  test -d /opt || fail "purge took /opt"
  echo "reinstall kept the data; remove kept the data; purge deleted it"
' reinstall "$(basename "$deb")"
step "install test passed"
