#!/usr/bin/env bash
# Set up, then run the example dev server through the daemon: edit
# examples/hello_app.py in another terminal and watch it reload (a typo is shown
# and waited on until you fix it).
#
#   scripts/demo.sh [--port PORT]      (or PORT=8001 scripts/demo.sh; default 8000)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# Not `exec`: a process keeps its start time across exec, so the dev server would count the
# files set-up just wrote as edits made while it started, and restart at once.
.venv/bin/python examples/devserver.py "$@"
