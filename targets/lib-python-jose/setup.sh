#!/bin/sh
# Creates targets/lib-python-jose/.venv and installs the pinned requirements (targets/python-venv.sh).
# Idempotent: re-running reuses the virtualenv and re-checks the pins.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
"$here/../python-venv.sh" "$here"
# python-jose falls back to its pure-Python backend without a word: make sure it did not.
"$here/.venv/bin/python" -c '
import jose, cryptography
from jose.backends import ECKey, RSAKey
assert (RSAKey.__name__, ECKey.__name__) == ("CryptographyRSAKey", "CryptographyECKey"), \
    "python-jose is not using its cryptography backend: %s, %s" % (RSAKey, ECKey)
print("lib-python-jose: python-jose", jose.__version__, "cryptography", cryptography.__version__)'
