#!/usr/bin/env bash
# The product's main job on this machine: hotline-pbx on embedded PostgreSQL
# against a real Asterisk 22, with a demo mix of real SIP calls.
#
#   sudo scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/python -m hotline_pbx.sandbox.demo "$@"
