#!/usr/bin/env bash
# Everything the demo and the tests need on a fresh machine, idempotent:
# SIPp, debootstrap and promtool from Debian, the daemon user, the project's
# venv, the daemon user's runtime venv, and the cached Debian unstable root
# with Asterisk 22. A second run only checks.
#
# The daemon never runs as root. The demo and the tests (run as root: the
# Asterisk sandbox needs chroot and mount) start it as the system user
# hotline-pbx, which may not be able to enter the checkout (a clone in a 0700
# directory, or under /root) nor run the checkout's venv (its python3 may live
# under root's home). So that user gets a venv of its own, built from Debian's
# /usr/bin/python3 with the product's dependencies, cached per pyproject.toml
# in /var/cache/hotline-pbx/runtime-<hash>; the daemon runs on a copy of the
# package (src/hotline_pbx/sandbox/unprivileged.py).
set -euo pipefail
umask 022  # what this installs must be readable by the daemon user
cd "$(dirname "$0")/.."
started=$(date +%s)
step() { printf '== %s (%ss)\n' "$*" "$(( $(date +%s) - started ))"; }

if [[ $(id -u) -ne 0 ]]; then
    echo "run as root: the Asterisk sandbox needs chroot and mount, packages need apt" >&2
    exit 1
fi

step "system packages"
missing=()
command -v sipp >/dev/null || missing+=(sip-tester)
command -v debootstrap >/dev/null || missing+=(debootstrap)
command -v promtool >/dev/null || missing+=(prometheus)
command -v espeak-ng >/dev/null || missing+=(espeak-ng)  # the dialer synthesises campaign messages
# The statistics pack as PDF (WeasyPrint): Pango, HarfBuzz's subsetter, a CJK font
# for the Chinese pages; poppler's pdftotext/pdftoppm read the PDFs back in the tests.
for package in libpangoft2-1.0-0 libharfbuzz-subset0 fonts-wqy-microhei; do
    dpkg -s "$package" 2>/dev/null | grep -q "^Status: install ok installed" || missing+=("$package")
done
command -v pdftoppm >/dev/null || missing+=(poppler-utils)
command -v systemd-analyze >/dev/null || missing+=(systemd)  # verifies the shipped unit
# Several daemons behind hagi:// in the failover test: a loopback DNS server for the SRV records.
command -v dnsmasq >/dev/null || missing+=(dnsmasq-base)
# The console's tests drive a real browser: Debian's Chromium and its driver.
command -v chromium >/dev/null || missing+=(chromium)
command -v chromedriver >/dev/null || missing+=(chromium-driver)
/usr/bin/python3 -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3 python3-venv)
if ((${#missing[@]})); then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

step "daemon user"
daemon_user=hotline-pbx  # DAEMON_USER in src/hotline_pbx/sandbox/unprivileged.py
if ! id -u "$daemon_user" >/dev/null 2>&1; then
    useradd --system --user-group --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin "$daemon_user"
fi

step "python environment"
if [[ ! -x .venv/bin/python ]]; then
    python3 -m venv .venv
fi
stamp=.venv/.hotline-installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [[ ! -f $stamp || $(cat "$stamp") != "$want" ]]; then
    .venv/bin/pip install -q --upgrade pip
    .venv/bin/pip install -q -e '.[dev]'
    echo "$want" >"$stamp"
fi

step "runtime venv of the daemon user"
cache=/var/cache/hotline-pbx
runtime="$cache/runtime-${want:0:16}"
mkdir -p "$cache"
exec 9<"$cache"
flock 9  # one build at a time: other checkouts may share this cache
if [[ ! -f $runtime/.hotline-runtime-ok ]]; then
    rm -rf "$runtime"  # an interrupted build
    /usr/bin/python3 -m venv "$runtime"
    /usr/bin/python3 -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]))' \
        >"$runtime/requirements.txt"
    "$runtime/bin/python" -m pip install -q --disable-pip-version-check -r "$runtime/requirements.txt"
    touch "$runtime/.hotline-runtime-ok"
fi
exec 9<&-
echo "$runtime" >.venv/hotline-runtime  # RUNTIME_MARKER in sandbox/unprivileged.py
echo "runtime venv: $runtime"

step "asterisk root"
scripts/build-asterisk-root.sh

