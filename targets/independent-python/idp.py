"""Per-tenant IdP metadata: discovery document and JWKS, fetched lazily and cached.

Contract sections 2.1, 5.3 (discovery issuer), 5.6 (caching, unknown-kid refetch) and 6
(bounded fetches).  Only the standard library is used for HTTP(S).
"""

from __future__ import annotations

import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import jwt
from jwt.exceptions import PyJWTError

from strictjson import StrictDecodeError, loads_object

MAX_DOCUMENT_BYTES = 1 << 20   # a discovery document or key set larger than 1 MiB is refused
PER_OPERATION_TIMEOUT = 1.5    # seconds for one connect or one read
NEGATIVE_CACHE_SECONDS = 0.5   # after a failed fetch, fail fast for this long

# Members that only a private or symmetric key carries: never used, stripped before PyJWK.
_PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")


class IdpError(Exception):
    """The tenant's metadata or keys cannot be fetched or make no sense (fail closed)."""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Redirects are not followed: they could leave https or the configured host."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


class Fetcher:
    """Fetches JSON documents with a bounded time, optionally HTTPS-only."""

    def __init__(self, require_https: bool, ca_bundle: str | None):
        self.require_https = require_https
        context = ssl.create_default_context()
        if ca_bundle:
            context.load_verify_locations(cafile=ca_bundle)
        self._opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({}),     # never send IdP traffic through a proxy
            urllib.request.HTTPSHandler(context=context),
            _NoRedirect(),
        )

    def url_allowed(self, url) -> bool:
        if not isinstance(url, str):
            return False
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return False
        return parts.scheme == "https" or not self.require_https

    def fetch_json(self, url: str, deadline: float) -> dict:
        if not self.url_allowed(url):
            raise IdpError("address not allowed")
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise IdpError("fetch budget exhausted")
        request = urllib.request.Request(url, headers={"Accept": "application/json"})
        try:
            with self._opener.open(request, timeout=min(PER_OPERATION_TIMEOUT, remaining)) as resp:
                if resp.status != 200:
                    raise IdpError("status %d" % resp.status)
                chunks, size = [], 0
                while True:
                    if time.monotonic() > deadline:
                        raise IdpError("fetch too slow")
                    chunk = resp.read(65536)
                    if not chunk:
                        break
                    size += len(chunk)
                    if size > MAX_DOCUMENT_BYTES:
                        raise IdpError("document too large")
                    chunks.append(chunk)
        except IdpError:
            raise
        except (urllib.error.URLError, OSError, ValueError) as exc:
            # HTTPError (4xx/5xx, unfollowed 3xx), timeouts, resets, TLS failures.
            raise IdpError("fetch failed: %s" % type(exc).__name__) from exc
        try:
            return loads_object(b"".join(chunks))
        except StrictDecodeError as exc:
            raise IdpError("document is not a JSON object") from exc


def issuer_matches_address(issuer: str, address: str) -> bool:
    """OpenID Connect Discovery 1.0 section 4.3 (and the RFC 8414 section 3.3 form).

    The discovery document must come from the address its issuer implies:
    ``issuer + "/.well-known/openid-configuration"`` (a trailing slash on the issuer is
    tolerated), or RFC 8414's ``scheme://host/.well-known/<suffix><issuer path>``.
    """
    parts = urllib.parse.urlsplit(issuer)
    if parts.query or parts.fragment or parts.scheme not in ("http", "https"):
        return False
    candidates = {issuer.rstrip("/") + "/.well-known/openid-configuration"}
    path = parts.path.rstrip("/")
    for suffix in ("openid-configuration", "oauth-authorization-server"):
        candidates.add("%s://%s/.well-known/%s%s" % (parts.scheme, parts.netloc, suffix, path))
    return address in candidates


class Key:
    """One usable verification key of a tenant's JWKS."""

    __slots__ = ("kid", "kty", "crv", "alg", "x5t", "key", "rsa_bits")

    def __init__(self, jwk: dict, key, rsa_bits: int):
        self.kid = jwk.get("kid")
        self.kty = jwk.get("kty")
        self.crv = jwk.get("crv")
        self.alg = jwk.get("alg")
        self.x5t = jwk.get("x5t")
        self.key = key
        self.rsa_bits = rsa_bits


_FAMILY_DEFAULT_ALG = {"RSA": "RS256", "EC": None, "OKP": "EdDSA"}
_EC_DEFAULT_ALG = {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}


def parse_jwks(document: dict) -> list[Key]:
    """Keep the keys that may verify signatures (RFC 7517 sections 4.2, 4.3, 4.4)."""
    keys = document.get("keys")
    if not isinstance(keys, list):
        raise IdpError("key set has no keys array")
    usable = []
    for jwk in keys:
        if not isinstance(jwk, dict):
            continue
        kty = jwk.get("kty")
        if kty not in _FAMILY_DEFAULT_ALG:        # "oct" and unknown types: never
            continue
        if "use" in jwk and jwk["use"] != "sig":  # use: enc keys never verify signatures
            continue
        ops = jwk.get("key_ops")
        if ops is not None and (not isinstance(ops, list) or "verify" not in ops):
            continue
        for member in ("kid", "alg", "crv", "x5t"):
            if member in jwk and not isinstance(jwk[member], str):
                break
        else:
            public = {k: v for k, v in jwk.items() if k not in _PRIVATE_MEMBERS}
            family_alg = _FAMILY_DEFAULT_ALG[kty] or _EC_DEFAULT_ALG.get(jwk.get("crv"))
            if family_alg is None:
                continue
            try:
                built = jwt.PyJWK(public, algorithm=family_alg)
            except (PyJWTError, ValueError, TypeError, KeyError):
                continue
            rsa_bits = built.key.key_size if kty == "RSA" else 0
            usable.append(Key(jwk, built.key, rsa_bits))
    return usable


class TenantIdp:
    """Discovery and JWKS of one tenant, with its own lock and cache."""

    def __init__(self, tenant, fetcher: Fetcher, cache_seconds: float):
        self.tenant = tenant
        self.fetcher = fetcher
        self.ttl = max(0.0, float(cache_seconds))
        # Unknown-kid refetches: at most one per cooldown (bounded to [1 s, 30 s]).
        self.cooldown = max(1.0, min(self.ttl, 30.0))
        self.lock = threading.Lock()
        self.discovery = None
        self.discovery_at = 0.0
        self.keys: list[Key] | None = None
        self.keys_at = 0.0
        self.failed_until = 0.0

    def _acquire(self, deadline: float):
        if not self.lock.acquire(timeout=max(0.0, deadline - time.monotonic())):
            raise IdpError("tenant busy fetching")

    def _fresh(self, at: float, now: float) -> bool:
        return now - at < self.ttl

    def _fetch_discovery(self, deadline: float) -> dict:
        address = self.tenant.metadata_address
        doc = self.fetcher.fetch_json(address, deadline)
        issuer = doc.get("issuer")
        if not isinstance(issuer, str) or not issuer:
            raise IdpError("discovery has no issuer")
        if self.tenant.valid_issuers is None and not issuer_matches_address(issuer, address):
            raise IdpError("discovery issuer does not match its address")
        if not self.fetcher.url_allowed(doc.get("jwks_uri")):
            raise IdpError("discovery jwks_uri missing or not allowed")
        algs = doc.get("id_token_signing_alg_values_supported")
        if algs is not None and not (isinstance(algs, list) and all(isinstance(a, str) for a in algs)):
            raise IdpError("discovery alg list malformed")
        return doc

    def _fetch_keys(self, deadline: float) -> list[Key]:
        return parse_jwks(self.fetcher.fetch_json(self.discovery["jwks_uri"], deadline))

    def _fail(self, now: float):
        # Nothing stale is kept: a key that left the JWKS is never trusted past its window.
        self.discovery = None
        self.keys = None
        self.failed_until = now + NEGATIVE_CACHE_SECONDS

    def current(self, deadline: float):
        """(discovery, keys), fetched when absent or older than the cache window."""
        self._acquire(deadline)
        try:
            now = time.monotonic()
            if self.discovery is not None and self.keys is not None \
                    and self._fresh(self.discovery_at, now) and self._fresh(self.keys_at, now):
                return self.discovery, self.keys
            if now < self.failed_until:
                raise IdpError("recent fetch failed")
            try:
                if self.discovery is None or not self._fresh(self.discovery_at, now):
                    self.discovery = self._fetch_discovery(deadline)
                    self.discovery_at = time.monotonic()
                self.keys = self._fetch_keys(deadline)
                self.keys_at = time.monotonic()
            except IdpError:
                self._fail(time.monotonic())
                raise
            return self.discovery, self.keys
        finally:
            self.lock.release()

    def refetch_keys(self, deadline: float):
        """One JWKS refetch for an unknown kid, unless the last fetch is within the cooldown.

        Returns the new key list, or None when the cooldown forbids a fetch.
        """
        self._acquire(deadline)
        try:
            now = time.monotonic()
            if self.discovery is None or now - self.keys_at < self.cooldown:
                return None
            if now < self.failed_until:
                raise IdpError("recent fetch failed")
            try:
                self.keys = self._fetch_keys(deadline)
                self.keys_at = time.monotonic()
            except IdpError:
                self._fail(time.monotonic())
                raise
            return self.keys
        finally:
            self.lock.release()
