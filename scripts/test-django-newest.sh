#!/usr/bin/env bash
# Run the Django tests against the newest Django release. Django 6 needs Python >= 3.12,
# newer than the main .venv may be, so this keeps a second virtualenv,
# .venv-django-newest, made with Python 3.13 (or 3.12). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
SETUP_NAME=test-django-newest
# shellcheck source=scripts/quiet.sh
. scripts/quiet.sh
export PIP_DISABLE_PIP_VERSION_CHECK=1

VENV=.venv-django-newest
if [ ! -x "$VENV/bin/python" ]; then
    PYTHON=""
    for candidate in /root/.pyenv/versions/3.13.0/bin/python python3.13 python3.12; do
        if command -v "$candidate" >/dev/null 2>&1; then
            PYTHON="$candidate"
            break
        fi
    done
    if [ -z "$PYTHON" ]; then
        echo "test-django-newest: the newest Django needs Python 3.12 or later, and neither" \
            "/root/.pyenv/versions/3.13.0/bin/python nor python3.13 nor python3.12 is installed" >&2
        exit 1
    fi
    say "creating $VENV with $PYTHON"
    quietly "creating $VENV" "$PYTHON" -m venv "$VENV"
fi
# Keep it out of git and of `ruff check .` (Python 3.13's venv writes this file too).
echo '*' >"$VENV/.gitignore"
say "installing reloadd and the newest Django into $VENV"
quietly "upgrading pip" "$VENV/bin/python" -m pip install --upgrade pip
quietly "installing reloadd" "$VENV/bin/python" -m pip install -e ".[test]"
quietly "installing the newest Django" "$VENV/bin/python" -m pip install --upgrade django
"$VENV/bin/python" -c 'import django, sys; print(f"test-django-newest: Django {django.__version__} on Python {sys.version.split()[0]}")'
exec "$VENV/bin/python" -m pytest tests/integration/test_django.py tests/integration/test_django_contract.py \
    tests/integration/test_django_lifecycle.py tests/integration/test_django_socket.py \
    tests/unit/test_django_reloader.py \
    tests/unit/test_django_lifecycle.py "$@"
