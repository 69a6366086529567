#!/usr/bin/env bash
# Set up a development environment: Watchman (from Debian's packages, when
# apt-get is usable) and a virtualenv in .venv with reloadd (editable) and its
# test tools. Prints one "setup: ..." line per step and the result; the tools'
# own output is shown only when a step fails. Once set up, a second run checks
# and installs nothing (pyproject.toml unchanged): the demo starts at once and
# reinstalling never rewrites files a running dev server watches.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/quiet.sh
. scripts/quiet.sh

install_watchman() {
    local sudo=()
    if [ "$(id -u)" != 0 ]; then
        sudo=(sudo -n)
    fi
    say "installing Watchman from Debian's packages"
    quietly "apt-get update" "${sudo[@]}" apt-get update -q
    quietly "installing Watchman" "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -q watchman
}

if ! command -v watchman >/dev/null 2>&1; then
    if command -v apt-get >/dev/null 2>&1 &&
        { [ "$(id -u)" = 0 ] || { command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; }; }; then
        install_watchman
    else
        say "Watchman is not installed (and apt-get cannot be used); reloadd will use its built-in watcher"
    fi
fi

PYTHON="${PYTHON:-python3}"
export PIP_DISABLE_PIP_VERSION_CHECK=1
if [ ! -x .venv/bin/python ]; then
    say "creating .venv with $("$PYTHON" -c 'import sys; print(sys.executable)')"
    quietly "creating .venv" "$PYTHON" -m venv .venv
fi

# What the installed environment was made from: redone when pyproject.toml or Python changes.
STAMP=.venv/.reloadd-setup
wanted="$(cat pyproject.toml .venv/pyvenv.cfg | cksum)"
if [ "$(cat "$STAMP" 2>/dev/null)" = "$wanted" ] &&
    .venv/bin/python -c 'import reloadd.client, reloadd.daemon' >/dev/null 2>&1; then
    say "the .venv is up to date (pyproject.toml unchanged); nothing to install"
else
    say "installing reloadd (editable) and its test tools into .venv; a minute on a fresh machine"
    quietly "upgrading pip" .venv/bin/python -m pip install --upgrade pip
    quietly "installing reloadd" .venv/bin/python -m pip install -e ".[dev]"
    echo "$wanted" >"$STAMP"
fi

if command -v watchman >/dev/null 2>&1; then
    watcher="Watchman $(watchman --version 2>/dev/null || echo '(version unknown)')"
else
    watcher="the built-in watcher (no Watchman)"
fi
say "ready: .venv with reloadd $(.venv/bin/python -c 'from importlib.metadata import version; print(version("reloadd"))'), $watcher"
