#!/usr/bin/env bash
# Build the jpki-kiosk Debian package with dpkg-deb over a staged tree (README.md here says why).
#
#   packaging/deb/build.sh [WHEEL]      (default: the newest dist/jpki_kiosk-*.whl)
#
# The package carries the project's wheel and every dependency as a wheel (the wheelhouse,
# /opt/jpki-kiosk/wheels); its postinst builds the virtual environment /opt/jpki-kiosk/venv from
# them with the target's own /usr/bin/python3, offline. The wheels are made here by Debian 12's
# /usr/bin/python3 (3.11), at the versions the development venv was tested with when there is one.
# Needs: dpkg-deb, python3-venv, and what pyscard builds with (gcc, swig, libpcsclite-dev).
# Writes dist/jpki-kiosk_<version>-1_<arch>.deb. No root needed.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
dist="$top/dist"
wheel=${1:-$(ls -t "$dist"/jpki_kiosk-*-py3-none-any.whl 2>/dev/null | head -n 1 || true)}
[ -n "$wheel" ] && [ -f "$wheel" ] || { echo "no wheel: run 'make wheel' first (or pass WHEEL)" >&2; exit 1; }

python=/usr/bin/python3
case "$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')" in
  3.11) ;;
  *) echo "$python is not Python 3.11 (Debian 12's): the package would not run there" >&2; exit 1 ;;
esac

version=$(basename "$wheel" | cut -d- -f2)
revision=1
arch=$(dpkg --print-architecture)
deb="$dist/jpki-kiosk_${version}-${revision}_${arch}.deb"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
stage="$work/stage"

# --- The wheelhouse, made by the target's Python ---------------------------------------------
"$python" -m venv "$work/build-venv"
"$work/build-venv/bin/pip" install -q --upgrade pip
constraints=()
if [ -x "$top/.venv/bin/pip" ]; then
  # The versions the tests ran against; the project itself is the wheel, not the editable tree.
  "$top/.venv/bin/pip" freeze --exclude-editable | grep -iv '^jpki-kiosk' >"$work/constraints.txt"
  constraints=(--constraint "$work/constraints.txt")
fi
mkdir -p "$stage/opt/jpki-kiosk/wheels"
"$work/build-venv/bin/pip" wheel -q "${constraints[@]}" --wheel-dir "$stage/opt/jpki-kiosk/wheels" "$wheel"
# pip itself, so the venv is made with a known pip rather than whatever ensurepip bundles.
"$work/build-venv/bin/pip" download -q --only-binary=:all: --dest "$stage/opt/jpki-kiosk/wheels" pip

# --- Configuration: the example, with the paths of an installed system --------------------------
mkdir -p "$stage/etc/jpki-kiosk/trust"
sed -E \
  -e 's|^data_dir = "var"( +)|data_dir = "/var/lib/jpki-kiosk"|' \
  -e 's|^trust_dir = "var/pki/trust"( +)|trust_dir = "/etc/jpki-kiosk/trust"|' \
  -e 's|^crl_dir = "var/pki/crl"( +)|crl_dir = "/var/lib/jpki-kiosk/crl"|' \
  "$top/packaging/kiosk.example.toml" >"$stage/etc/jpki-kiosk/kiosk.toml"
for key in 'data_dir = "/var/lib/jpki-kiosk"' 'trust_dir = "/etc/jpki-kiosk/trust"' \
  'crl_dir = "/var/lib/jpki-kiosk/crl"'; do
  grep -qF "$key" "$stage/etc/jpki-kiosk/kiosk.toml" ||
    { echo "packaging/kiosk.example.toml changed shape: could not set $key" >&2; exit 1; }
done

# --- systemd units, polkit rule, the command on PATH, documentation ------------------------------
install -D -m 0644 -t "$stage/lib/systemd/system" "$top"/packaging/systemd/*.service \
  "$top"/packaging/systemd/*.timer
install -D -m 0644 -t "$stage/usr/share/polkit-1/rules.d" "$top"/packaging/polkit/*.rules
# The kiosk session's sound server wrapper (jpki-kiosk.service's ExecStart).
install -D -m 0755 "$top/packaging/sound/with-sound-server" \
  "$stage/usr/libexec/jpki-kiosk/with-sound-server"
mkdir -p "$stage/usr/bin"
ln -s /opt/jpki-kiosk/venv/bin/kiosk "$stage/usr/bin/kiosk"
doc="$stage/usr/share/doc/jpki-kiosk"
install -D -m 0644 "$top/README.md" "$doc/README.md"
install -D -m 0644 "$here/README.md" "$doc/README.Debian"
install -D -m 0644 "$top/packaging/kiosk.example.toml" "$doc/examples/kiosk.example.toml"
install -D -m 0644 "$here/debian/copyright" "$doc/copyright"

# --- Control files ---------------------------------------------------------------------------
mkdir -p "$stage/DEBIAN"
installed_kb=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
sed -e "s/@VERSION@/${version}-${revision}/" -e "s/@ARCH@/$arch/" \
  -e "s/@INSTALLED_SIZE@/$installed_kb/" "$here/debian/control" >"$stage/DEBIAN/control"
install -m 0644 "$here/debian/conffiles" "$stage/DEBIAN/conffiles"
install -m 0755 "$here/debian/postinst" "$here/debian/prerm" "$here/debian/postrm" "$stage/DEBIAN/"
(cd "$stage" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z |
  xargs -0 md5sum) >"$stage/DEBIAN/md5sums"

find "$stage" -type d -exec chmod 0755 {} +
mkdir -p "$dist"
# Wheels are compressed already: a light gzip is as small as xz here, and far quicker.
dpkg-deb --root-owner-group -Zgzip -z1 --build "$stage" "$deb" >/dev/null
echo "$deb"
