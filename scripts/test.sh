#!/usr/bin/env bash
# Set up (see setup.sh) and run the whole test suite: unit and integration tests
# against a private Watchman, real daemons and real dev servers.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
exec .venv/bin/python -m pytest "$@"
