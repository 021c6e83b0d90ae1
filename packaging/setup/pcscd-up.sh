#!/usr/bin/env bash
# Make sure pcscd runs with the vpcd virtual readers. Starts it when it is not running;
# never stops or restarts a pcscd that something else started.
set -euo pipefail

if pgrep -x pcscd >/dev/null; then
  exit 0
fi
# On a systemd machine pcscd is socket-activated: the socket is there before the daemon, and
# vpcd's port (where `kiosk demo` inserts its card) opens only once a PC/SC client wakes it.
if command -v systemctl >/dev/null && systemctl is-active --quiet pcscd.socket 2>/dev/null; then
  opensc-tool --list-readers >/dev/null 2>&1 || true
  exit 0
fi
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
# pcscd reads /etc/reader.conf.d (where vsmartcard-vpcd put its reader) only when it starts,
# so starting it here, after the packages are installed, gives the virtual readers.
$SUDO pcscd
for _ in $(seq 1 50); do
  [ -S /run/pcscd/pcscd.comm ] && exit 0
  sleep 0.1
done
echo "pcscd did not come up (no /run/pcscd/pcscd.comm)" >&2
exit 1
