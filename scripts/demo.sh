#!/usr/bin/env bash
# The product's main job on this machine: hotline-pbx on embedded PostgreSQL
# against a real Asterisk 22, with a demo mix of real SIP calls.
#
#   scripts/demo.sh      (as root: e.g. `sudo scripts/demo.sh`, or plainly in a root shell)
#
# The daemon itself runs as the unprivileged user hotline-pbx, its data in a
# temporary directory of that user's, removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/modes.sh
watch_modes "$PWD" "$HOME" "${TMPDIR:-/tmp}/." /var/cache/hotline-pbx/.
scripts/setup.sh
.venv/bin/python -m hotline_pbx.sandbox.demo "$@"
