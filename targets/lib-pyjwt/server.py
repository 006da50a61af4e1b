"""byoid target adapter: bearer-token validation with PyJWT's PyJWKClient, as documented.

Everything about the token itself is PyJWT's, called the way its usage guide shows
("Retrieve RSA signing keys from a JWKS endpoint", "OIDC Login Flow", "Requiring Presence
of Claims"): see prepare() and validate(). The rest is the contract's glue, shared with
targets/lib-python-jose in targets/lib-python-glue/byoid_glue.py: tenant resolution, the
RFC 6750 answers, discovery, the client allow-list, claim mappings and the admin role. The
glue does not check the token; what PyJWT lets through is the finding. See README.md.
"""

from __future__ import annotations

import os
import sys

import jwt
from jwt import PyJWKClient

# The shared glue, found by its path next to this folder (it is not an installed package).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib-python-glue"))
import byoid_glue  # noqa: E402
from byoid_glue import invalid_token  # noqa: E402

# Each IdP fetch (discovery, JWKS, one JWKS refetch for an unknown kid) may take this long,
# so a request that needs all three still answers within the contract's 5 s (section 6).
FETCH_TIMEOUT = 1.5
# Used only when a discovery document has no id_token_signing_alg_values_supported (the
# usage guide's OIDC example reads that list): the asymmetric algorithms PyJWT implements.
ASYMMETRIC_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
                         "ES256", "ES384", "ES512", "EdDSA"]


def prepare(idp, document: dict, jwks_uri: str, previous):
    """(algorithms, PyJWKClient) for a freshly read discovery document."""
    algorithms = document.get("id_token_signing_alg_values_supported", ASYMMETRIC_ALGORITHMS)
    if not isinstance(algorithms, list) or not all(isinstance(a, str) for a in algorithms):
        raise invalid_token("id_token_signing_alg_values_supported is not a list of strings")
    client = previous[1] if previous is not None else None
    if client is None or client.uri != jwks_uri:
        # Configuration (README "Configuration"): the usage guide's PyJWKClient(url);
        # glue adds only lifespan (the manifest's cache window), timeout and ssl_context.
        client = PyJWKClient(
            jwks_uri,
            lifespan=max(idp.config.cache_seconds, 0.001),  # must be > 0
            timeout=FETCH_TIMEOUT,
            ssl_context=idp.config.ssl_context,
        )
    return algorithms, client


# --- the token: PyJWT only ---------------------------------------------------------------

def validate(token: str, tenant, issuer, keys, clock_skew) -> dict:
    algorithms, jwks_client = keys
    try:
        signing_key = jwks_client.get_signing_key_from_jwt(token)
        return jwt.decode(
            token,
            signing_key,
            algorithms=algorithms,
            audience=tenant.valid_audiences,
            issuer=issuer,
            leeway=clock_skew,
            options={"require": ["exp", "iss", "sub"]},
        )
    except jwt.PyJWTError as exc:
        raise invalid_token("PyJWT: %s: %s" % (type(exc).__name__, exc)) from None


LIBRARY = byoid_glue.Library(
    name="lib-pyjwt",
    fetch_timeout=FETCH_TIMEOUT,
    prepare=prepare,
    validate=validate,
    banner=lambda: "PyJWT %s" % jwt.__version__,
)

if __name__ == "__main__":
    byoid_glue.main(LIBRARY)
