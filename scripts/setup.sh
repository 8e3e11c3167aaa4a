#!/usr/bin/env bash
# Everything the demo and the tests need on a fresh machine, idempotent:
# SIPp, debootstrap and promtool from Debian, the project's venv, and the
# cached Debian unstable root with Asterisk 22. A second run only checks.
set -euo pipefail
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
if ((${#missing[@]})); then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
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

step "asterisk root"
scripts/build-asterisk-root.sh

