#!/bin/sh
# python-venv.sh DIR: creates DIR/.venv and installs DIR/requirements.txt (the pins) into it,
# for the Python targets (targets/independent-python, targets/lib-pyjwt, targets/lib-python-jose).
# Idempotent: re-running reuses the virtualenv and re-checks the pins.
set -eu
here=$(cd "$1" && pwd)
if ! command -v python3 >/dev/null 2>&1; then
    echo "setup.sh: python3 not found on PATH; install CPython 3.11 or newer first" >&2
    exit 1
fi
if ! python3 -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)'; then
    echo "setup.sh: python3 is $(python3 --version 2>&1); 3.11 or newer is required" >&2
    exit 1
fi
if [ ! -x "$here/.venv/bin/python" ]; then
    python3 -m venv "$here/.venv" || {
        echo "setup.sh: 'python3 -m venv' failed (on Debian: apt-get install python3-venv)" >&2
        exit 1
    }
fi
"$here/.venv/bin/python" -m pip install --disable-pip-version-check --quiet -r "$here/requirements.txt"
