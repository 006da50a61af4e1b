"""The token rules of the target contract, section 5.

PyJWT (``jwt.PyJWK`` and ``jwt.algorithms``) does the cryptography.  Everything else is
glue written here because the library does not do it, or does it more leniently than the
contract: strict segment decoding, duplicate members, typ, crit, refusing key-bearing
header parameters, the JWK alg/use/key-type rules, the discovery alg list, ECDSA
signature form, exact iss, aud and NumericDate types, sub/iat presence, client id claims,
tid binding and claim mappings.
"""

from __future__ import annotations

import math
import re
import time
import urllib.parse

from jwt.algorithms import get_default_algorithms

from idp import IdpError, Key, TenantIdp
from strictjson import StrictDecodeError, b64url_decode, loads_object

MAX_TOKEN_CHARS = 32768
V1_CLIENT_ID_CLAIMS = ["client_id", "azp", "cid", "appid"]

# Asymmetric algorithms only: no "none", no HMAC (contract 5.1, RFC 8725 section 3.1).
SUPPORTED_ALGS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
                  "ES256", "ES384", "ES512", "EdDSA")
_ALGORITHMS = {name: alg for name, alg in get_default_algorithms().items() if name in SUPPORTED_ALGS}

# ECDSA (RFC 7518 section 3.4): curve, octets of r and of s, group order n.
_ECDSA = {
    "ES256": ("P-256", 32, 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551),
    "ES384": ("P-384", 48, int(
        "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF"
        "581A0DB248B0A77AECEC196ACCC52973", 16)),
    "ES512": ("P-521", 66, int(
        "01FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF"
        "FA51868783BF2F966B7FCC0148F709A5D03BB5C9B8899C47AEBB6FB71E91386409", 16)),
}

# Header parameters that bring a key or a key address: never used, tokens refused.
_KEY_BEARING = ("jku", "jwk", "x5u", "x5c")

# b64token (RFC 6750 section 2.1); the token must also be a JWS compact serialization.
B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")


class Rejected(Exception):
    """The token is invalid; the reason goes to the debug log only."""


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _typ_ok(typ, require_at_jwt: bool) -> bool:
    """Contract 5.2: case-insensitive, with or without the ``application/`` prefix."""
    if not isinstance(typ, str):
        return False
    value = typ.lower()
    if value.startswith("application/"):
        value = value[len("application/"):]
    if value == "at+jwt":
        return True
    return value == "jwt" and not require_at_jwt


def _key_fits(key: Key, alg: str) -> bool:
    """RFC 7517 section 4.4 (JWK alg) and RFC 7518 (key type for the algorithm)."""
    if key.alg is not None and key.alg != alg:
        return False
    if alg[:2] in ("RS", "PS"):
        return key.kty == "RSA" and key.rsa_bits >= 2048   # RFC 7518 sections 3.3, 3.5
    if alg in _ECDSA:
        return key.kty == "EC" and key.crv == _ECDSA[alg][0]
    if alg == "EdDSA":
        return key.kty == "OKP" and key.crv in ("Ed25519", "Ed448")
    return False


def _ecdsa_form_ok(alg: str, signature: bytes) -> bool:
    """Raw r || s of exactly twice the coordinate size, with 0 < r, s < n."""
    _, size, order = _ECDSA[alg]
    if len(signature) != 2 * size:
        return False
    r = int.from_bytes(signature[:size], "big")
    s = int.from_bytes(signature[size:], "big")
    return 0 < r < order and 0 < s < order


def _candidates(keys: list[Key], alg: str, kid, x5t) -> list[Key]:
    fitting = [k for k in keys if _key_fits(k, alg)]
    if kid is not None:
        return [k for k in fitting if k.kid == kid or k.kid is None]
    if x5t is not None:
        by_thumbprint = [k for k in fitting if k.x5t == x5t]
        if by_thumbprint:
            return by_thumbprint
    return fitting


def _verify(keys: list[Key], alg: str, signing_input: bytes, signature: bytes) -> bool:
    algorithm = _ALGORITHMS[alg]
    for key in keys:   # several keys may share a kid: try each (contract 5.6)
        try:
            if algorithm.verify(signing_input, key.key, signature):
                return True
        except Exception:   # a library error on one key is a failed verification
            continue
    return False


def _names_tenant(iss: str, tid: str) -> bool:
    """Does the issuer URL name the tenant id (as a path segment or the first host label)?"""
    parts = urllib.parse.urlsplit(iss)
    wanted = tid.lower()
    segments = [s.lower() for s in parts.path.split("/") if s]
    host_label = (parts.hostname or "").split(".")[0].lower()
    return wanted in segments or wanted == host_label


def apply_claim_mappings(claims: dict, mappings: dict) -> dict:
    """Contract 5.7: copy source to normalized name; merge arrays into an existing claim."""
    result = dict(claims)
    for source, target in (mappings or {}).items():
        if source not in claims or not isinstance(target, str):
            continue
        value = claims[source]
        if target in result and target != source:
            existing = result[target]
            merged = list(existing) if isinstance(existing, list) else [existing]
            for item in (value if isinstance(value, list) else [value]):
                if item not in merged:
                    merged.append(item)
            result[target] = merged
        else:
            result[target] = value
    return result


class Validator:
    def __init__(self, skew_seconds: float):
        self.skew = float(skew_seconds)

    def validate(self, token: str, tenant, idp: TenantIdp, deadline: float) -> dict:
        """Return the verified claims, or raise Rejected / IdpError."""
        if len(token) > MAX_TOKEN_CHARS:
            raise Rejected("token too large")
        parts = token.split(".")
        if len(parts) != 3:
            raise Rejected("not a three-segment JWS")
        try:
            header = loads_object(b64url_decode(parts[0]))
            claims = loads_object(b64url_decode(parts[1]))
            signature = b64url_decode(parts[2])
        except StrictDecodeError as exc:
            raise Rejected("malformed segment: %s" % exc) from None
        if not signature:
            raise Rejected("empty signature")

        # --- header (5.1, 5.2) -------------------------------------------------------
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in _ALGORITHMS:
            raise Rejected("alg not allowed")
        if "crit" in header:
            # No JWS extension is understood here, so any crit is refused (RFC 7515 4.1.11).
            raise Rejected("crit names an extension not understood")
        if "b64" in header or "zip" in header:
            raise Rejected("b64/zip not supported")
        for name in _KEY_BEARING:
            if name in header:
                raise Rejected("header parameter %s refused" % name)
        if not _typ_ok(header.get("typ"), tenant.require_access_token_type):
            raise Rejected("typ not accepted")
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise Rejected("kid not a string")
        x5t = header.get("x5t")
        if alg in _ECDSA and not _ecdsa_form_ok(alg, signature):
            raise Rejected("ECDSA signature not raw r||s in range")

        # --- claims that need no network (5.3, 5.4) ----------------------------------
        now = time.time()
        iss = claims.get("iss")
        if not isinstance(iss, str) or not iss:
            raise Rejected("iss missing or not a string")
        if "cnf" in claims:
            # Sender-constrained (5.3): the Bearer scheme carries no proof of possession.
            raise Rejected("cnf: a sender-constrained token is not a bearer token")
        self._check_audience(claims, tenant)
        self._check_lifetime(claims, now)
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub:
            raise Rejected("sub missing, empty or not a string")
        self._check_client(claims, tenant)
        if "tid" in claims:
            tid = claims["tid"]
            if not isinstance(tid, str) or not tid or not _names_tenant(iss, tid):
                raise Rejected("tid does not name the issuer's tenant")

        # --- IdP metadata, issuer and signature --------------------------------------
        discovery, keys = idp.current(deadline)
        accepted = tenant.valid_issuers if tenant.valid_issuers is not None else [discovery["issuer"]]
        if iss not in accepted:
            raise Rejected("iss not accepted")
        advertised = discovery.get("id_token_signing_alg_values_supported")
        if advertised is not None and alg not in advertised:
            raise Rejected("alg not advertised by discovery")

        signing_input = (parts[0] + "." + parts[1]).encode("ascii")
        candidates = _candidates(keys, alg, kid, x5t)
        if not candidates or (kid is not None and not any(k.kid == kid for k in candidates)):
            refreshed = idp.refetch_keys(deadline)
            if refreshed is not None:
                candidates = _candidates(refreshed, alg, kid, x5t)
        if not candidates:
            raise Rejected("no key of the tenant fits kid/alg")
        if not _verify(candidates, alg, signing_input, signature):
            raise Rejected("signature does not verify")
        return claims

    def _check_audience(self, claims, tenant):
        if "aud" not in claims:
            raise Rejected("aud missing")
        aud = claims["aud"]
        if isinstance(aud, str):
            values = [aud]
        elif isinstance(aud, list) and aud and all(isinstance(a, str) for a in aud):
            values = aud
        else:
            raise Rejected("aud not a string or array of strings")
        if not any(a in tenant.valid_audiences for a in values):
            raise Rejected("aud not accepted")

    def _check_lifetime(self, claims, now):
        if "exp" not in claims or not _is_number(claims["exp"]):
            raise Rejected("exp missing or not a number")
        if now > claims["exp"] + self.skew:
            raise Rejected("expired")
        if "nbf" in claims:
            if not _is_number(claims["nbf"]):
                raise Rejected("nbf not a number")
            if now + self.skew < claims["nbf"]:
                raise Rejected("not yet valid")
        if "iat" not in claims:
            raise Rejected("iat missing")   # RFC 9068 section 2.2; contract 5.4 SHOULD
        if not _is_number(claims["iat"]):
            raise Rejected("iat not a number")
        if claims["iat"] > now + self.skew:
            raise Rejected("iat in the future")

    def _check_client(self, claims, tenant):
        if not tenant.allowed_client_ids:
            return
        for name in tenant.client_id_claims:
            if name in claims:
                value = claims[name]
                if not isinstance(value, str) or value not in tenant.allowed_client_ids:
                    raise Rejected("client id not allowed")
                return
        raise Rejected("no client id claim")
