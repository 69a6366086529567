#!/usr/bin/env bash
# Set up, then run the example dev server through the daemon: edit
# examples/hello_app.py in another terminal and watch it reload (a typo is shown
# and waited on until you fix it).
#
#   scripts/demo.sh [--port PORT]      (or PORT=8001 scripts/demo.sh; default 8000)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/python examples/devserver.py "$@"
