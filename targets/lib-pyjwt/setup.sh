#!/bin/sh
# Creates targets/lib-pyjwt/.venv and installs the pinned requirements.
# Idempotent: re-running reuses the virtualenv and re-checks the pins.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
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
"$here/.venv/bin/python" -c 'import jwt, cryptography; print("lib-pyjwt: PyJWT", jwt.__version__, "cryptography", cryptography.__version__)'
