#!/usr/bin/env bash
# The whole test suite, from a fresh machine: system packages, the venv, the
# cached Asterisk 22 root, lint (ruff, mypy, asterisklint, promtool), then
# unit, integration (real PostgreSQL) and e2e (real Asterisk + SIPp) tests.
#
#   scripts/test.sh [pytest arguments]   (as root: e.g. `sudo scripts/test.sh`, or plainly in a root shell)
#
# Without arguments the e2e tests and the unit + integration tests run at once;
# with arguments, one pytest run of exactly those.
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

export HOTLINE_E2E=required
if (($#)); then
    step "tests"
    .venv/bin/pytest -q -p no:cacheprovider "$@"
    step "done"
    exit 0
fi

# The whole suite as two runs at once (two cores): the e2e tests, which mostly
# wait on real calls, and the unit and integration tests, whose report is shown
# when the e2e run ends. Each has its own database. Both run in the background
# so that a stop (Ctrl-C, SIGTERM to this script or its group) reaches both
# once, and this script waits for both to tear down before it checks the modes.
step "tests: e2e, with unit + integration alongside"
alongside_log=$(mktemp)
shown=""
.venv/bin/pytest -q -p no:cacheprovider tests/unit tests/integration >"$alongside_log" 2>&1 &
alongside=$!
.venv/bin/pytest -q -p no:cacheprovider tests/e2e &
e2e=$!
# pytest stops on the first SIGINT or SIGTERM and ignores a second SIGTERM
# (tests/conftest.py), so a signal it also got from the terminal does no harm.
trap 'kill -TERM "$e2e" "$alongside" 2>/dev/null || true' INT TERM
show_alongside() {
    [[ -z $shown ]] || return 0
    shown=1
    step "unit + integration (ran alongside)"
    cat "$alongside_log"
}
trap 'status=$?; show_alongside; rm -f "$alongside_log"; check_modes "$status"' EXIT
reap() {  # wait for run $1 to end, through the signals trapped meanwhile; its exit status
    local status
    while :; do
        status=0
        wait "$1" || status=$?
        if ((status > 128)) && kill -0 "$1" 2>/dev/null; then
            continue  # a trapped signal ended the wait, not the run
        fi
        return "$status"
    done
}
e2e_status=0
reap "$e2e" || e2e_status=$?
alongside_status=0
reap "$alongside" || alongside_status=$?
show_alongside
step "done: e2e exit $e2e_status, unit + integration exit $alongside_status"
if ((e2e_status != 0)); then exit "$e2e_status"; fi
exit "$alongside_status"
