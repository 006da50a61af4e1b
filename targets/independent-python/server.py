"""An independent BYOID access-token validator: the HTTP side of the byoid target contract.

Run:  targets/independent-python/.venv/bin/python targets/independent-python/server.py
with BYOID_PORT and BYOID_MANIFEST set (contract section 1).  BYOID_TARGET_DEBUG=1 logs
each rejection's reason to stderr; responses never carry it.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import sys
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from idp import Fetcher, IdpError, TenantIdp  # noqa: E402
from validator import B64TOKEN, V1_CLIENT_ID_CLAIMS, Rejected, Validator, apply_claim_mappings  # noqa: E402

CONTRACTS = ("byoid-target/1", "byoid-target/2")
FETCH_BUDGET_SECONDS = 2.5      # all IdP fetches of one request; answers stay under 5 s
MAX_BODY_BYTES = 1 << 20
ROUTES = ("/api/whoami", "/api/admin")
DEBUG = os.environ.get("BYOID_TARGET_DEBUG") == "1"

# http.server refuses header lines over 64 KiB with a bare 431; allow larger lines so that
# an oversized token gets the contract's 401 invalid_token instead.
http.client._MAXLINE = 1 << 18


def debug(message: str):
    if DEBUG:
        print("independent-python: " + message, file=sys.stderr, flush=True)


class Tenant:
    def __init__(self, raw: dict):
        self.slug = raw["slug"]
        if not isinstance(self.slug, str) or not self.slug:
            raise ValueError("tenant slug must be a non-empty string")
        self.enabled = raw.get("enabled", True) is True
        self.metadata_address = raw.get("metadata_address")
        issuers = raw.get("valid_issuers")
        self.valid_issuers = None if issuers is None else [i for i in issuers if isinstance(i, str)]
        self.valid_audiences = [a for a in (raw.get("valid_audiences") or []) if isinstance(a, str)]
        self.allowed_client_ids = [c for c in (raw.get("allowed_client_ids") or []) if isinstance(c, str)]
        claims = raw.get("client_id_claims")
        if claims is None:
            claims = V1_CLIENT_ID_CLAIMS          # contract 2.2: the version 1 default
        self.client_id_claims = [c for c in claims if isinstance(c, str)]
        self.require_access_token_type = raw.get("require_access_token_type") is True
        mappings = raw.get("claim_mappings") or {}
        self.claim_mappings = mappings if isinstance(mappings, dict) else {}
        agree = raw.get("agree_header")
        self.agree_header = agree if isinstance(agree, str) and agree else None


class Config:
    def __init__(self, manifest: dict):
        contract = manifest.get("contract")
        if contract not in CONTRACTS:
            raise SystemExit("independent-python: unsupported contract %r (this target implements %s)"
                             % (contract, " and ".join(CONTRACTS)))
        source = manifest.get("tenant_source") or {}
        self.source_kind = source.get("kind")
        if self.source_kind not in ("header", "path", "subdomain"):
            raise SystemExit("independent-python: unsupported tenant_source kind %r" % self.source_kind)
        self.source_header = source.get("header") if self.source_kind == "header" else None
        prefix = source.get("prefix") if self.source_kind == "path" else None
        self.path_prefix = prefix if isinstance(prefix, str) else ""
        if self.source_kind == "header" and not isinstance(self.source_header, str):
            raise SystemExit("independent-python: tenant_source.header missing")
        fetcher = Fetcher(manifest.get("require_https_metadata") is True, manifest.get("ca_bundle"))
        cache_seconds = manifest.get("jwks_cache_seconds", 300)
        self.validator = Validator(manifest.get("clock_skew_seconds", 60))
        self.tenants = {}
        self.idps = {}
        for raw in manifest.get("tenants") or []:
            tenant = Tenant(raw)
            self.tenants[tenant.slug] = tenant
            self.idps[tenant.slug] = TenantIdp(tenant, fetcher, cache_seconds)
        # Subdomain labels compare case-insensitively (contract 3.1).
        self.tenants_lower = {slug.lower(): slug for slug in self.tenants}


class BadRequest(Exception):
    """400 invalid_request (RFC 6750 section 3.1)."""


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "independent-python"
    sys_version = ""
    timeout = 60           # idle or trickling connections are dropped after a minute
    config: Config = None  # set in main()

    def version_string(self):
        return self.server_version

    def log_message(self, format, *args):  # noqa: A002 - signature of the base class
        if DEBUG:
            super().log_message(format, *args)

    # --- responses ----------------------------------------------------------------

    def _send(self, status: int, body: dict, challenge: str | None = None, close: bool = False):
        payload = json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Cache-Control", "no-store")
        if challenge is not None:
            self.send_header("WWW-Authenticate", challenge)
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(payload)

    def _error(self, kind: str):
        if kind == "no-credentials":
            # RFC 6750 section 3: the scheme is followed by one auth-param at least.
            self._send(401, {"error": "unauthorized"}, 'Bearer realm="api"')
        elif kind == "invalid_request":
            self._send(400, {"error": "invalid_request"}, 'Bearer error="invalid_request"')
        elif kind == "insufficient_scope":
            self._send(403, {"error": "insufficient_scope"}, 'Bearer error="insufficient_scope"')
        else:
            self._send(401, {"error": "invalid_token"}, 'Bearer error="invalid_token"')

    # --- request parsing ----------------------------------------------------------

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            raise BadRequest("chunked bodies not supported")
        lengths = self.headers.get_all("Content-Length") or []
        if not lengths:
            return b""
        if len(lengths) != 1 or not lengths[0].strip().isdigit():
            self.close_connection = True
            raise BadRequest("bad Content-Length")
        length = int(lengths[0])
        if length > MAX_BODY_BYTES:
            self.close_connection = True
            raise BadRequest("body too large")
        return self.rfile.read(length) if length else b""

    def _tenant_and_route(self, path: str):
        """(slug or None, route or None) from the configured tenant source only."""
        config = self.config
        if config.source_kind == "path":
            for route in ROUTES:
                if path.endswith(route):
                    prefix = path[: -len(route)]
                    if not prefix.startswith(config.path_prefix):
                        return None, route
                    prefix = prefix[len(config.path_prefix):]
                    if re.fullmatch(r"/[^/]+", prefix):
                        return prefix[1:], route
                    return None, route
            return None, None
        route = path if path in ROUTES else None
        if config.source_kind == "header":
            values = self.headers.get_all(config.source_header) or []
            return (values[0] if len(values) == 1 else None), route
        hosts = self.headers.get_all("Host") or []
        if len(hosts) != 1:
            return None, route
        host = hosts[0].strip()
        if host.startswith("["):
            return None, route
        name = host.rsplit(":", 1)[0] if ":" in host else host
        labels = name.split(".")
        if len(labels) < 2 or not labels[0]:
            return None, route
        return config.tenants_lower.get(labels[0].lower(), "\0unknown"), route

    def _credentials(self, query: str, body: bytes):
        """The bearer token (RFC 6750 section 2), None for no credentials, or BadRequest.

        Returns ("token", value) or ("invalid", None) for a bearer credential that is not a
        b64token, or (None, None).
        """
        methods = []
        headers = self.headers.get_all("Authorization") or []
        if len(headers) > 1:
            raise BadRequest("two Authorization fields")
        bearer = None
        if headers:
            match = re.fullmatch(r"([!#$%&'*+.^_`|~0-9A-Za-z-]+)(?: +(.*))?", headers[0], re.S)
            if match and match.group(1).lower() == "bearer":
                bearer = match.group(2) or ""
                methods.append("header")
        params = urllib.parse.parse_qs(query, keep_blank_values=True)
        if "access_token" in params:
            methods.append("query")
        if body:
            try:
                form = urllib.parse.parse_qs(body.decode("ascii"), keep_blank_values=True)
            except (UnicodeDecodeError, ValueError):
                form = {}
            if "access_token" in form:
                methods.append("body")
        if len(methods) > 1:
            raise BadRequest("token sent by more than one method")
        if methods and methods[0] != "header":
            # Query (RFC 9700 section 4.3.2 discourages it) and form body (never on GET,
            # RFC 6750 section 2.2; POST is not a defined route) are refused.
            raise BadRequest("token method not supported")
        if bearer is None:
            return None, None
        if not B64TOKEN.fullmatch(bearer):
            return "invalid", None
        return "token", bearer

    # --- handlers -----------------------------------------------------------------

    def do_GET(self):
        self._handle(get=True)

    def do_POST(self):
        self._handle(get=False)

    def _handle(self, get: bool):
        has_token = False
        try:
            split = urllib.parse.urlsplit(self.path)
            path, query = split.path, split.query
            body = self._read_body()
            if get and path == "/healthz":
                self._send(200, {"status": "ok"})
                return
            slug, route = self._tenant_and_route(path)
            kind, token = self._credentials(query, body)
            if route is None:
                self._send(404, {"error": "not_found"})
                return
            if not get:
                raise BadRequest("only GET is defined")
            if kind is None:
                self._error("no-credentials")
                return
            has_token = True
            if kind == "invalid":
                raise Rejected("credential is not a b64token")
            tenant = self.config.tenants.get(slug) if slug is not None else None
            if tenant is None:
                raise Rejected("tenant missing, malformed or not configured")
            if not tenant.enabled:
                raise Rejected("tenant disabled")
            if tenant.agree_header is not None:
                # Section 3.1: the one other place that must agree with the configured source.
                if any(v != tenant.slug for v in self.headers.get_all(tenant.agree_header) or []):
                    raise Rejected("%s names another tenant" % tenant.agree_header)
            deadline = time.monotonic() + FETCH_BUDGET_SECONDS
            claims = self.config.validator.validate(token, tenant, self.config.idps[tenant.slug], deadline)
            claims = apply_claim_mappings(claims, tenant.claim_mappings)
            if route == "/api/admin":
                roles = claims.get("roles")
                has_admin = roles == "admin" or (isinstance(roles, list) and "admin" in roles)
                if not has_admin:
                    debug("403: roles lack admin")
                    self._error("insufficient_scope")
                    return
            self._send(200, {"tenant": tenant.slug, "claims": claims})
        except BadRequest as exc:
            debug("400: %s" % exc)
            self._error("invalid_request")
        except (Rejected, IdpError) as exc:
            debug("401: %s" % exc)
            self._error("invalid_token")
        except Exception as exc:  # fail closed, never 5xx because of a token
            debug("401 (unexpected %s: %s)" % (type(exc).__name__, exc))
            if has_token:
                self._error("invalid_token")
            else:
                self._error("invalid_request")


def main():
    port = os.environ.get("BYOID_PORT")
    manifest_path = os.environ.get("BYOID_MANIFEST")
    if not port or not manifest_path:
        raise SystemExit("independent-python: BYOID_PORT and BYOID_MANIFEST must be set")
    with open(manifest_path, "rb") as handle:
        manifest = json.load(handle)
    Handler.config = Config(manifest)
    server = ThreadingHTTPServer(("127.0.0.1", int(port)), Handler)
    server.daemon_threads = True
    print("independent-python: listening on 127.0.0.1:%s (%d tenants, %s)"
          % (port, len(Handler.config.tenants), manifest.get("contract")), file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
