#!/usr/bin/env bash
# Set up a development environment: Watchman (from Debian's packages, when
# apt-get is usable) and a virtualenv in .venv with reloadd (editable) and its
# test tools. Prints one "setup: ..." line per step and the result; the tools'
# own output is shown only when a step fails. Once set up, a second run checks
# and installs nothing (pyproject.toml unchanged): the demo starts at once and
# reinstalling never rewrites files a running dev server watches.
#
#   scripts/setup.sh           what the demo needs
#   scripts/setup.sh --test    also what the test-suite needs (scripts/test.sh passes it)
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/quiet.sh
. scripts/quiet.sh

FOR_TESTS=0
if [ "${1:-}" = "--test" ]; then
    FOR_TESTS=1
fi

# Debian packages, each as COMMAND-OR-FILE:PACKAGE (installed when the command, or the
# file for a path, is missing). The demo needs only Watchman, and runs without it.
DEMO_PACKAGES=(watchman:watchman)
# What the tests use for real: one word per package, added by the feature that needs it.
# libsystemd-dev and pkg-config build systemd-python (the reloadd[systemd] extra, whose
# journal and notify code the systemd tests run); systemd itself runs the unit tests.
TEST_PACKAGES=(
    /usr/include/systemd/sd-daemon.h:libsystemd-dev
    pkg-config:pkg-config
    systemd-analyze:systemd
    ip:iproute2 # network namespaces for the network endpoint tests (tests/integration/netns.py)
    unshare:util-linux # a mount namespace as a container's view of the project (test_remote_dev_servers.py)
    nvim:neovim # the Neovim setup of docs/editors.md, run headless (tests/integration/editors)
    vim:vim # the Vim setup, the same way
    chromium:chromium # the browser-refresh tests, headless (tests/browser.py)
    chromedriver:chromium-driver # drives it through Selenium
)

missing_packages() {
    local entry thing package
    for entry in "$@"; do
        thing="${entry%%:*}"
        package="${entry#*:}"
        if [[ "$thing" == /* ]]; then
            [ -e "$thing" ] || echo "$package"
        else
            command -v "$thing" >/dev/null 2>&1 || echo "$package"
        fi
    done
}

can_apt() {
    command -v apt-get >/dev/null 2>&1 &&
        { [ "$(id -u)" = 0 ] || { command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; }; }
}

install_debian_packages() {
    local sudo=()
    if [ "$(id -u)" != 0 ]; then
        sudo=(sudo -n)
    fi
    say "installing $* from Debian's packages"
    quietly "apt-get update" "${sudo[@]}" apt-get update -q
    quietly "installing $*" "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -q --no-install-recommends "$@"
}

wanted_packages=(${DEMO_PACKAGES[@]+"${DEMO_PACKAGES[@]}"})
if [ "$FOR_TESTS" = 1 ]; then
    wanted_packages+=(${TEST_PACKAGES[@]+"${TEST_PACKAGES[@]}"})
fi
mapfile -t missing < <(missing_packages "${wanted_packages[@]}")
if [ "${#missing[@]}" -gt 0 ]; then
    if can_apt; then
        install_debian_packages "${missing[@]}"
    elif [ "$FOR_TESTS" = 1 ]; then
        say "cannot install ${missing[*]} (apt-get cannot be used); the tests need them"
        exit 1
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
# With --test the extras include systemd (systemd-python, built against libsystemd-dev):
# only then are its Debian packages sure to be there.
EXTRAS=dev
if [ "$FOR_TESTS" = 1 ]; then
    EXTRAS=dev,systemd
fi
wanted="$(echo "$EXTRAS" | cat - pyproject.toml .venv/pyvenv.cfg | cksum)"
if [ "$(cat "$STAMP" 2>/dev/null)" = "$wanted" ] &&
    .venv/bin/python -c 'import reloadd.client, reloadd.daemon' >/dev/null 2>&1; then
    say "the .venv is up to date (pyproject.toml unchanged); nothing to install"
else
    say "installing reloadd (editable) and its test tools into .venv; a minute on a fresh machine"
    quietly "upgrading pip" .venv/bin/python -m pip install --upgrade pip
    quietly "installing reloadd" .venv/bin/python -m pip install -e ".[$EXTRAS]"
    echo "$wanted" >"$STAMP"
fi

if command -v watchman >/dev/null 2>&1; then
    watcher="Watchman $(watchman --version 2>/dev/null || echo '(version unknown)')"
else
    watcher="the built-in watcher (no Watchman)"
fi
say "ready: .venv with reloadd $(.venv/bin/python -c 'from importlib.metadata import version; print(version("reloadd"))'), $watcher"
