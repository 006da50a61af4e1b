"""The contract glue shared by the Python library adapters (targets/lib-pyjwt,
targets/lib-python-jose): everything a byoid target needs that is not token validation.

Speaks `byoid-target/2` (docs/target-contract.md): reads the manifest named by
BYOID_MANIFEST, listens on 127.0.0.1:BYOID_PORT, serves GET /healthz, GET /api/whoami and
GET /api/admin. It resolves the tenant, reads the token from the request, answers with the
RFC 6750 table, fetches and caches each tenant's discovery document, applies the client
allow-list, the claim mappings and the admin role. It never looks at the token itself: each
adapter hands it a `Library` whose `validate` is the library's call, so every verdict on a
token is the library's. Standard library only, so each adapter's venv holds just its pins.

BYOID_TARGET_DEBUG=1 logs each rejection's reason to stderr; responses never carry it.
"""

from __future__ import annotations

import json
import os
import re
import ssl
import sys
import threading
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

CONTRACTS = ("byoid-target/1", "byoid-target/2")
V1_CLIENT_ID_CLAIMS = ["client_id", "azp", "cid", "appid"]  # contract 2.2, version 1 default
ROUTES = ("/api/whoami", "/api/admin")
MAX_DOCUMENT_BYTES = 1 << 20
MAX_BODY_BYTES = 64 << 10
DEBUG = os.environ.get("BYOID_TARGET_DEBUG") == "1"


class Library:
    """What one adapter plugs into the glue.

    prepare(idp, document, jwks_uri, previous) runs under the tenant's discovery lock each
    time the discovery document is (re)loaded and returns whatever validate needs (a JWKS
    client, a key set, ...); `previous` is what it returned last time, or None. Raising
    Reject there makes the load fail, and a failed load is not cached.

    validate(token, tenant, issuer, keys, clock_skew) returns the verified claims (a dict) or
    raises Reject; `issuer` is the discovery `issuer` string or the manifest's valid_issuers
    list, `keys` what prepare returned.
    """

    def __init__(self, name: str, fetch_timeout: float, prepare: Callable, validate: Callable,
                 banner: Callable[[], str]):
        self.name, self.fetch_timeout = name, fetch_timeout
        self.prepare, self.validate, self.banner = prepare, validate, banner

    def log(self, message: str):
        print("%s: %s" % (self.name, message), file=sys.stderr, flush=True)


class Reject(Exception):
    """A request answered with an RFC 6750 error; the message only goes to the debug log."""

    def __init__(self, status: int, error: str, reason: str):
        super().__init__(reason)
        self.status, self.error = status, error


def invalid_token(reason: str) -> Reject:
    return Reject(401, "invalid_token", reason)


def invalid_request(reason: str) -> Reject:
    return Reject(400, "invalid_request", reason)


# --- manifest -------------------------------------------------------------------------

def strings(value) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


class Tenant:
    def __init__(self, raw: dict, config: "Config"):
        self.slug = raw.get("slug")
        if not isinstance(self.slug, str) or not self.slug:
            raise ValueError("tenant without a slug")
        self.enabled = raw.get("enabled", True) is not False
        self.metadata_address = raw.get("metadata_address")
        issuers = raw.get("valid_issuers")
        # null: the discovery document's issuer; a list (even empty) replaces it (2.2).
        self.valid_issuers = None if issuers is None else strings(issuers)
        self.valid_audiences = strings(raw.get("valid_audiences"))
        self.allowed_client_ids = strings(raw.get("allowed_client_ids"))
        claims = raw.get("client_id_claims")
        self.client_id_claims = V1_CLIENT_ID_CLAIMS if claims is None else strings(claims)
        mappings = raw.get("claim_mappings")
        self.claim_mappings = mappings if isinstance(mappings, dict) else {}
        agree = raw.get("agree_header")
        self.agree_header = agree if isinstance(agree, str) and agree else None
        self.idp = Idp(self, config)


class Config:
    def __init__(self, manifest: dict, library: Library):
        self.library = library
        name = library.name
        contract = manifest.get("contract")
        if contract not in CONTRACTS:
            raise SystemExit("%s: unsupported contract %r (this target implements %s)"
                             % (name, contract, " and ".join(CONTRACTS)))
        source = manifest.get("tenant_source") or {}
        self.source_kind = source.get("kind", "header")
        if self.source_kind not in ("header", "path", "subdomain"):
            raise SystemExit("%s: unsupported tenant_source kind %r" % (name, self.source_kind))
        self.source_header = source.get("header") or "X-Tenant-Slug"
        prefix = source.get("prefix")
        self.path_prefix = prefix.rstrip("/") if isinstance(prefix, str) else ""
        self.clock_skew = manifest.get("clock_skew_seconds", 60)
        self.cache_seconds = manifest.get("jwks_cache_seconds", 300)
        self.require_https = manifest.get("require_https_metadata") is True
        ca_bundle = manifest.get("ca_bundle")
        # ca_bundle: the one SSL context for every fetch, the glue's and the library's.
        self.ssl_context = ssl.create_default_context(cafile=ca_bundle) if ca_bundle else None
        self.tenants = {}
        for raw in manifest.get("tenants") or []:
            tenant = Tenant(raw, self)
            if tenant.slug in self.tenants:
                raise ValueError("duplicate tenant slug %r" % tenant.slug)
            self.tenants[tenant.slug] = tenant
        self.tenants_lower = {slug.lower(): t for slug, t in self.tenants.items()}

    def allowed(self, url) -> bool:
        """An http(s) URL, and not http: when the manifest requires HTTPS metadata."""
        scheme = urllib.parse.urlsplit(url).scheme.lower() if isinstance(url, str) else ""
        return scheme == "https" or (scheme == "http" and not self.require_https)


# --- discovery (glue: neither library reads discovery documents) ---------------------------

class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args):
        return None


def fetch_json(url: str, config: Config, what: str):
    """GET url as JSON: the library's fetch timeout, at most 1 MiB, no redirects, ca_bundle.

    Any failure (network, HTTP status, TLS, size, JSON) is a Reject: fail closed.
    """
    handlers = [_NoRedirect()]
    if config.ssl_context is not None:
        handlers.append(urllib.request.HTTPSHandler(context=config.ssl_context))
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    timeout = config.library.fetch_timeout
    try:
        with urllib.request.build_opener(*handlers).open(request, timeout=timeout) as r:
            body = r.read(MAX_DOCUMENT_BYTES + 1)
        if len(body) > MAX_DOCUMENT_BYTES:
            raise ValueError("document too large")
        return json.loads(body)
    except Exception as exc:
        raise invalid_token("%s fetch failed: %s" % (what, type(exc).__name__)) from None


def implied_issuers(address: str) -> set[str]:
    """The issuers a metadata address implies (OIDC Discovery 4.3, RFC 8414 section 3)."""
    out = set()
    for suffix in ("/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"):
        if address.endswith(suffix):
            out.add(address[: -len(suffix)])
    parts = urllib.parse.urlsplit(address)
    marker = "/.well-known/oauth-authorization-server"
    if parts.path.startswith(marker + "/"):
        out.add("%s://%s%s" % (parts.scheme, parts.netloc, parts.path[len(marker):]))
    return out


class Idp:
    """One tenant's discovery document and the library's keys, trusted for jwks_cache_seconds."""

    def __init__(self, tenant: Tenant, config: Config):
        self.tenant, self.config = tenant, config
        self.lock = threading.Lock()
        self.fetched_at = None
        self.issuer = self.keys = None

    def current(self):
        """(accepted issuer(s), the library's keys); loaded lazily, failures not cached."""
        # A bounded wait, so requests queued behind a hanging IdP still answer in time.
        if not self.lock.acquire(timeout=self.config.library.fetch_timeout):
            raise invalid_token("discovery busy")
        try:
            now = time.monotonic()
            if self.fetched_at is None or now - self.fetched_at >= self.config.cache_seconds:
                self._load()
                self.fetched_at = now
            return self.issuer, self.keys
        finally:
            self.lock.release()

    def _load(self):
        address = self.tenant.metadata_address
        if not self.config.allowed(address):
            raise invalid_token("metadata_address refused (scheme)")
        document = fetch_json(address, self.config, "discovery")
        if not isinstance(document, dict):
            raise invalid_token("discovery document is not an object")
        issuer, jwks_uri = document.get("issuer"), document.get("jwks_uri")
        if not isinstance(issuer, str) or not issuer:
            raise invalid_token("discovery document has no issuer")
        if not isinstance(jwks_uri, str) or not self.config.allowed(jwks_uri):
            raise invalid_token("jwks_uri missing or refused (scheme)")
        if self.tenant.valid_issuers is None:
            # Contract 2.2 / 5.3: with no valid_issuers, the document's issuer must be the
            # one its address implies (a trailing slash on the issuer tolerated).
            if not ({issuer, issuer.removesuffix("/")} & implied_issuers(address)):
                raise invalid_token("discovery issuer does not match its address")
        self.keys = self.config.library.prepare(self, document, jwks_uri, self.keys)
        self.issuer = self.tenant.valid_issuers if self.tenant.valid_issuers is not None else issuer


# --- claims after verification (glue) -----------------------------------------------------

def client_id_allowed(claims: dict, tenant: Tenant) -> bool:
    if not tenant.allowed_client_ids:
        return True
    for name in tenant.client_id_claims:
        if name in claims:  # the first claim the token carries decides (2.2)
            value = claims[name]
            return isinstance(value, str) and value in tenant.allowed_client_ids
    return False


def as_list(value) -> list:
    return list(value) if isinstance(value, list) else [value]


def apply_claim_mappings(claims: dict, mappings: dict) -> dict:
    out = dict(claims)
    for source, target in mappings.items():
        if not isinstance(target, str) or source == target or source not in claims:
            continue
        value = claims[source]
        if target not in out:
            out[target] = list(value) if isinstance(value, list) else value
        else:  # contract 5.7: arrays merge
            merged = []
            for item in as_list(out[target]) + as_list(value):
                if item not in merged:
                    merged.append(item)
            out[target] = merged
    return out


def has_admin(claims: dict) -> bool:
    roles = claims.get("roles")
    return roles == "admin" or (isinstance(roles, list) and "admin" in roles)


# --- HTTP (glue) -------------------------------------------------------------------------

BEARER = re.compile(r"([!#$%&'*+.^_`|~0-9A-Za-z-]+)(?:[ \t]+(.*))?", re.S)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    sys_version = ""
    timeout = 60
    config: Config = None  # set in main()

    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        if DEBUG:
            super().log_message(format, *args)

    def _send(self, status: int, body: dict, challenge: str | None = None):
        payload = json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Cache-Control", "no-store")
        if challenge:
            self.send_header("WWW-Authenticate", challenge)
        self.end_headers()
        self.wfile.write(payload)

    def _reject(self, r: Reject):
        if DEBUG:
            self.config.library.log("%d %s: %s" % (r.status, r.error, r))
        self._send(r.status, {"error": r.error}, 'Bearer error="%s"' % r.error)

    def _tenant_and_route(self, path: str):
        """(tenant slug or None, route or None), from the configured source only (3.1)."""
        config = self.config
        if config.source_kind == "path":
            match = re.fullmatch(re.escape(config.path_prefix) + r"/([^/]+)(/api/(?:whoami|admin))", path)
            if match:
                return urllib.parse.unquote(match.group(1)), match.group(2)
            return None, next((r for r in ROUTES if path.endswith(r)), None)
        route = path if path in ROUTES else None
        if config.source_kind == "header":
            values = self.headers.get_all(config.source_header) or []
            return (values[0] if len(values) == 1 else None), route
        hosts = self.headers.get_all("Host") or []
        host = hosts[0].strip() if len(hosts) == 1 else ""
        labels = re.sub(r":\d*$", "", host).split(".")
        if host.startswith("[") or len(labels) < 2 or not labels[0]:
            return None, route
        tenant = config.tenants_lower.get(labels[0].lower())
        return (tenant.slug if tenant else "\0unknown"), route

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            raise invalid_request("chunked bodies are not read")
        length = self.headers.get("Content-Length")
        if not length:
            return b""
        if not length.strip().isdigit() or int(length) > MAX_BODY_BYTES:
            self.close_connection = True
            raise invalid_request("bad Content-Length")
        return self.rfile.read(int(length))

    def _token(self, query: str, body: bytes):
        """The bearer token, None for no credentials; RFC 6750 section 2 and 3.1."""
        values = self.headers.get_all("Authorization") or []
        if len(values) > 1:
            raise invalid_request("two Authorization fields")
        token = None
        if values:
            match = BEARER.fullmatch(values[0].strip())
            if match and match.group(1).lower() == "bearer":
                token = (match.group(2) or "").strip()
                if not token:
                    raise invalid_request("empty Bearer credentials")
        in_query = "access_token" in urllib.parse.parse_qs(query, keep_blank_values=True)
        in_body = b"access_token" in body and "access_token" in urllib.parse.parse_qs(
            body.decode("latin-1"), keep_blank_values=True)
        if (token is not None) + in_query + in_body > 1:
            raise invalid_request("token sent by more than one method")
        if in_query or in_body:
            # The query method is discouraged (RFC 9700 4.3.2); form bodies are not for GET.
            raise invalid_request("token only accepted in the Authorization header")
        return token

    def do_GET(self):
        try:
            self._handle()
        except Reject as r:
            self._reject(r)
        except Exception as exc:  # fail closed: never a 5xx because of a token (section 4)
            self.config.library.log("unexpected %s: %s" % (type(exc).__name__, exc))
            self._reject(invalid_token("unexpected error"))

    def do_POST(self):
        self._send(405, {"error": "method_not_allowed"})

    def _handle(self):
        split = urllib.parse.urlsplit(self.path)
        body = self._body()
        if split.path == "/healthz":
            self._send(200, {"status": "ok"})
            return
        slug, route = self._tenant_and_route(split.path)
        if route is None:
            self._send(404, {"error": "not_found"})
            return
        token = self._token(split.query, body)
        if token is None:
            # RFC 6750 section 3: an auth-param at least, and no error code.
            self._send(401, {"error": "unauthorized"}, 'Bearer realm="api"')
            return
        tenant = self.config.tenants.get(slug) if slug is not None else None
        if tenant is None or not tenant.enabled:
            raise invalid_token("tenant missing, unknown or disabled")
        if tenant.agree_header and any(v != tenant.slug for v in self.headers.get_all(tenant.agree_header) or []):
            raise invalid_token("%s names another tenant" % tenant.agree_header)
        issuer, keys = tenant.idp.current()
        claims: Any = self.config.library.validate(token, tenant, issuer, keys, self.config.clock_skew)
        if not client_id_allowed(claims, tenant):
            raise invalid_token("client not allowed")
        claims = apply_claim_mappings(claims, tenant.claim_mappings)
        if route == "/api/admin" and not has_admin(claims):
            self._send(403, {"error": "insufficient_scope"}, 'Bearer error="insufficient_scope"')
            return
        self._send(200, {"tenant": tenant.slug, "claims": claims})


def main(library: Library):
    name = library.name
    port, manifest_path = os.environ.get("BYOID_PORT"), os.environ.get("BYOID_MANIFEST")
    if not port or not manifest_path:
        raise SystemExit("%s: BYOID_PORT and BYOID_MANIFEST must be set" % name)
    handler = type("Handler", (Handler,), {"server_version": name})
    try:
        with open(manifest_path, "rb") as file:
            handler.config = Config(json.load(file), library)
    except (OSError, ValueError, ssl.SSLError) as exc:
        raise SystemExit("%s: cannot load manifest %s: %s" % (name, manifest_path, exc))
    server = ThreadingHTTPServer(("127.0.0.1", int(port)), handler)
    server.daemon_threads = True
    library.log("listening on 127.0.0.1:%s, %s, %d tenant(s), tenant source %s"
                % (port, library.banner(), len(handler.config.tenants), handler.config.source_kind))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
