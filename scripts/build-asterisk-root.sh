#!/usr/bin/env bash
# Build (once) the Debian unstable root that holds the real Asterisk 22 used by
# the tests, the demo and the benchmarks. Debian 12 has no asterisk package;
# unstable does. The root is cached: a second run returns at once.
#
#   scripts/build-asterisk-root.sh [ROOT]
#
# ROOT defaults to $HOTLINE_SANDBOX_ROOT or /var/cache/hotline-pbx/asterisk-root.
# The Debian mirror is the one this machine's apt already uses, unless
# HOTLINE_DEBIAN_MIRROR says otherwise.
set -euo pipefail

root="${1:-${HOTLINE_SANDBOX_ROOT:-/var/cache/hotline-pbx/asterisk-root}}"
marker="$root/.hotline-sandbox-ok"

if [[ -f "$marker" ]]; then
    echo "asterisk root: cached at $root ($(cat "$marker"))"
    exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
    echo "building the Asterisk root needs root (debootstrap, chroot)" >&2
    exit 1
fi

mirror="${HOTLINE_DEBIAN_MIRROR:-}"
if [[ -z "$mirror" ]]; then
    # The first Debian archive URI apt is configured with (deb822 or one-line format).
    mirror=$(grep -hoE '^(URIs:|deb)\s+\S+' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null \
        | awk '{print $2}' | grep -E '/debian/?$' | head -n1 || true)
fi
if [[ -z "$mirror" ]]; then
    echo "no Debian mirror found in apt's sources; set HOTLINE_DEBIAN_MIRROR" >&2
    exit 1
fi

tmp="$root.building"
rm -rf "$tmp"
mkdir -p "$(dirname "$root")"
echo "asterisk root: debootstrap sid into $tmp (about a minute)…"
debootstrap --variant=minbase --include=asterisk,asterisk-modules,asterisk-core-sounds-en-gsm \
    sid "$tmp" "$mirror" >"$tmp.log" 2>&1 || {
    echo "debootstrap failed; last lines of $tmp.log:" >&2
    tail -n 20 "$tmp.log" >&2
    exit 1
}
version=$(chroot "$tmp" asterisk -V)
rm -rf "$root"
mv "$tmp" "$root"
echo "$version" >"$marker"
rm -f "$tmp.log"
echo "asterisk root: built $root ($version)"
