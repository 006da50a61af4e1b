"""byoid target adapter: bearer-token validation with python-jose's `jwt.decode`, as documented.

Everything about the token itself is python-jose's: one `jwt.decode(token, jwks, algorithms=,
audience=, issuer=, options=)` call, with the JWK Set passed as the dict its docstring allows
(see validate()). python-jose does not fetch keys, so prepare() fetches the tenant's JWKS
(bounded, size-capped) each time the glue reads its discovery document, and both are kept for
the manifest's jwks_cache_seconds. The rest is the contract's glue, shared with
targets/lib-pyjwt in targets/lib-python-glue/byoid_glue.py: tenant resolution, the RFC 6750
answers, discovery, the client allow-list, claim mappings and the admin role. The glue does
not check the token; what python-jose lets through is the finding. See README.md.
"""

from __future__ import annotations

import os
import sys

import jose
from jose import jwt
from jose.exceptions import JWTError

# The shared glue, found by its path next to this folder (it is not an installed package).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib-python-glue"))
import byoid_glue  # noqa: E402
from byoid_glue import invalid_token  # noqa: E402

# Each IdP fetch (discovery, then the JWKS) may take this long: a request that needs both
# still answers within the contract's 5 s (section 6).
FETCH_TIMEOUT = 1.5
# The asymmetric rows of the "Supported Algorithms" table (docs/jws/index.rst): the keys are
# public keys, so no HS*; python-jose has no PS* and no EdDSA.
ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "ES512"]


def prepare(idp, document: dict, jwks_uri: str, previous) -> dict:
    """The tenant's JWK Set, fetched with its discovery document and cached with it.

    Glue: python-jose takes keys, never a URL. No kid lookup and no refetch on an unknown
    kid: the whole set goes to jwt.decode, which tries its keys itself.
    """
    jwks = byoid_glue.fetch_json(jwks_uri, idp.config, "JWKS")
    if not isinstance(jwks, dict):
        raise invalid_token("JWKS is not a JSON object")
    return jwks


# --- the token: python-jose only ---------------------------------------------------------

def validate(token: str, tenant, issuer, jwks, clock_skew) -> dict:
    # `audience` is one string in python-jose ("audience must be a string or None"): the
    # tenant's first; a second configured audience cannot be expressed.
    audience = tenant.valid_audiences[0] if tenant.valid_audiences else None
    try:
        return jwt.decode(
            token,
            jwks,                      # "a dict ... for a JWK set as defined by RFC 7517"
            algorithms=ALGORITHMS,
            audience=audience,
            issuer=issuer,             # "str or iterable": discovery issuer or valid_issuers
            options={"leeway": clock_skew},  # every verify_*/require_* at its default
        )
    except JWTError as exc:  # what decode documents: JWTError, ExpiredSignatureError, JWTClaimsError
        raise invalid_token("python-jose: %s: %s" % (type(exc).__name__, exc)) from None


LIBRARY = byoid_glue.Library(
    name="lib-python-jose",
    fetch_timeout=FETCH_TIMEOUT,
    prepare=prepare,
    validate=validate,
    banner=lambda: "python-jose %s" % jose.__version__,
)

if __name__ == "__main__":
    byoid_glue.main(LIBRARY)
