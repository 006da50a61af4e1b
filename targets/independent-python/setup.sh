#!/bin/sh
# Creates targets/independent-python/.venv and installs the pinned requirements (targets/python-venv.sh).
# Idempotent: re-running reuses the virtualenv and re-checks the pins.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
"$here/../python-venv.sh" "$here"
"$here/.venv/bin/python" -c 'import jwt, cryptography; print("independent-python: PyJWT", jwt.__version__, "cryptography", cryptography.__version__)'
