#!/usr/bin/env bash
# The whole test suite, from a fresh machine: system packages, the venv, the
# cached Asterisk 22 root, lint (ruff, mypy, asterisklint, promtool), then
# unit, integration (real PostgreSQL) and e2e (real Asterisk + SIPp) tests.
#
#   scripts/test.sh [pytest arguments]   (as root: e.g. `sudo scripts/test.sh`, or plainly in a root shell)
#
# Runs as root (the Asterisk sandbox needs chroot and mount); the daemon and the
# tests' PostgreSQL servers run as the unprivileged user hotline-pbx. Reuses what
# is already there: a second run skips the package installs and the root build.
# Fails if the mode of any directory above the checkout, $HOME or the temporary
# directory changed during the run.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
step() { printf '\n== %s (%ss)\n' "$*" "$(( $(date +%s) - started ))"; }
source scripts/modes.sh
watch_modes "$PWD" "$HOME" "${TMPDIR:-/tmp}/." /var/cache/hotline-pbx/.

scripts/setup.sh

step "lint"
.venv/bin/ruff check src tests bench migrations
.venv/bin/mypy
scripts/lint-dialplan.sh

step "tests"
export HOTLINE_E2E=required
.venv/bin/pytest -q -p no:cacheprovider "$@"
step "done"
