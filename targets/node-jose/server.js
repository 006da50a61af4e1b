// byoid target adapter: bearer-token validation with panva/jose on node:http.
//
// Speaks the target contract `byoid-target/2` (docs/target-contract.md in the byoid repository):
// reads the manifest named by BYOID_MANIFEST, listens on 127.0.0.1:BYOID_PORT and
// serves GET /healthz, GET /api/whoami and GET /api/admin. Token cryptography and
// standard claim checks are jose's; typ, tenant, client id, claim mappings and
// roles are the application-level checks the contract asks for. See README.md.

import http from 'node:http';
import https from 'node:https';
import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import process from 'node:process';
import { createRemoteJWKSet, customFetch, decodeProtectedHeader, jwtVerify } from 'jose';

/** Asymmetric JWS algorithms accepted; HS* and `none` are never accepted. */
export const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'EdDSA'];
/** Claims every access token must carry (jose checks their presence and, for exp, the type). */
export const REQUIRED_CLAIMS = ['exp', 'iss', 'aud', 'sub'];
/** Largest bearer token considered (bytes of the compact form). */
export const MAX_TOKEN_LENGTH = 16 * 1024;
/** Largest discovery document or JWKS read from an IdP. */
const MAX_METADATA_BYTES = 1024 * 1024;
/** Timeout of one discovery or JWKS fetch. */
const FETCH_TIMEOUT_MS = 2000;
/** Largest request body read (only to detect a form-encoded access_token). */
const MAX_BODY_BYTES = 64 * 1024;
/** Client id claims of a `byoid-target/1` manifest, which does not name them per tenant. */
const DEFAULT_CLIENT_ID_CLAIMS = ['client_id', 'azp', 'cid', 'appid'];

const DEBUG = process.env.BYOID_TARGET_DEBUG === '1';

function debug(...args) {
  if (DEBUG) console.error('[node-jose]', ...args);
}

/** A rejection with the RFC 6750 error it maps to; its message only ever goes to the debug log. */
class Reject extends Error {
  constructor(status, error, reason) {
    super(reason);
    this.status = status;
    this.error = error;
  }
}
const invalidToken = (reason) => new Reject(401, 'invalid_token', reason);
const invalidRequest = (reason) => new Reject(400, 'invalid_request', reason);

// ---------------------------------------------------------------------------------------
// Manifest

function nonNegative(value, fallback) {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : fallback;
}

function stringList(value) {
  return Array.isArray(value) ? value.filter((v) => typeof v === 'string') : [];
}

/** Parses manifest JSON text into the configuration the server uses. Unknown fields are ignored. */
export function parseManifest(text) {
  const m = JSON.parse(text);
  if (m === null || typeof m !== 'object' || Array.isArray(m)) throw new Error('manifest is not a JSON object');
  const source = m.tenant_source && typeof m.tenant_source === 'object' ? m.tenant_source : {};
  const kind = source.kind ?? 'header';
  if (!['header', 'path', 'subdomain'].includes(kind)) throw new Error(`unknown tenant_source.kind ${JSON.stringify(kind)}`);
  const header = typeof source.header === 'string' && source.header ? source.header : 'X-Tenant-Slug';
  const tenants = new Map();
  for (const t of Array.isArray(m.tenants) ? m.tenants : []) {
    if (!t || typeof t.slug !== 'string' || !t.slug) throw new Error('tenant without a slug');
    if (tenants.has(t.slug)) throw new Error(`duplicate tenant slug ${JSON.stringify(t.slug)}`);
    const mappings = [];
    if (t.claim_mappings && typeof t.claim_mappings === 'object') {
      for (const [from, to] of Object.entries(t.claim_mappings)) if (typeof to === 'string') mappings.push([from, to]);
    }
    tenants.set(t.slug, {
      slug: t.slug,
      enabled: t.enabled !== false,
      metadataAddress: typeof t.metadata_address === 'string' ? t.metadata_address : '',
      // null/absent: the discovery document's issuer; a list (even an empty one) overrides it.
      validIssuers: Array.isArray(t.valid_issuers) ? stringList(t.valid_issuers) : null,
      validAudiences: stringList(t.valid_audiences),
      allowedClientIds: stringList(t.allowed_client_ids),
      clientIdClaims: Array.isArray(t.client_id_claims) ? stringList(t.client_id_claims) : DEFAULT_CLIENT_ID_CLAIMS,
      requireAccessTokenType: t.require_access_token_type === true,
      claimMappings: mappings,
    });
  }
  return {
    tenantSource: { kind, header: header.toLowerCase() },
    clockSkewSeconds: nonNegative(m.clock_skew_seconds, 60),
    jwksCacheSeconds: nonNegative(m.jwks_cache_seconds, 300),
    requireHttpsMetadata: m.require_https_metadata === true,
    caBundle: typeof m.ca_bundle === 'string' && m.ca_bundle ? m.ca_bundle : null,
    tenants,
  };
}

// ---------------------------------------------------------------------------------------
// Fetching IdP metadata

/**
 * GET `url` with node:http(s), trusting `ca` (PEM text) when set, never following redirects,
 * reading at most MAX_METADATA_BYTES. Resolves to a WHATWG Response so jose can use it too.
 */
function fetchWithCa(ca, url, { headers, signal } = {}) {
  return new Promise((resolve, reject) => {
    let u;
    try {
      u = new URL(url);
    } catch {
      reject(new Error('bad URL'));
      return;
    }
    const mod = u.protocol === 'https:' ? https : u.protocol === 'http:' ? http : null;
    if (!mod) {
      reject(new Error('unsupported URL scheme'));
      return;
    }
    const plainHeaders = headers ? Object.fromEntries(new Headers(headers)) : {};
    const options = { method: 'GET', headers: plainHeaders, signal: signal ?? AbortSignal.timeout(FETCH_TIMEOUT_MS), timeout: FETCH_TIMEOUT_MS };
    if (mod === https && ca) options.ca = ca;
    const req = mod.request(u, options, (res) => {
      const chunks = [];
      let size = 0;
      res.on('data', (chunk) => {
        size += chunk.length;
        if (size > MAX_METADATA_BYTES) {
          req.destroy(new Error('response too large'));
          return;
        }
        chunks.push(chunk);
      });
      res.on('end', () => {
        const h = new Headers();
        for (const [k, v] of Object.entries(res.headers)) {
          if (typeof v === 'string') h.set(k, v);
        }
        // Response rejects 1xx/out-of-range statuses; anything but 200 fails the same way.
        const status = res.statusCode >= 200 && res.statusCode <= 599 ? res.statusCode : 502;
        const nullBody = [204, 205, 304].includes(status);
        resolve(new Response(nullBody ? null : Buffer.concat(chunks), { status, headers: h }));
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

/** Per-tenant discovery and key-set cache. */
class TenantState {
  constructor(tenant, config) {
    this.tenant = tenant;
    this.config = config;
    this.discovery = null; // { issuer, jwksUri, jwks, fetchedAt }
    this.pending = null;
  }

  get ttlMs() {
    return this.config.jwksCacheSeconds * 1000;
  }

  checkScheme(url, what) {
    let u;
    try {
      u = new URL(url);
    } catch {
      throw invalidToken(`${what} is not a URL`);
    }
    if (u.protocol !== 'https:' && u.protocol !== 'http:') throw invalidToken(`${what} is not http(s)`);
    if (this.config.requireHttpsMetadata && u.protocol !== 'https:') throw invalidToken(`${what} is not https`);
    return u;
  }

  /** The tenant's discovery data, fetched lazily and cached for jwks_cache_seconds; never caches failures. */
  async get() {
    const d = this.discovery;
    if (d && Date.now() - d.fetchedAt < this.ttlMs) return d;
    if (!this.pending) {
      this.pending = this.load().finally(() => {
        this.pending = null;
      });
    }
    return this.pending;
  }

  async load() {
    const metadataUrl = this.checkScheme(this.tenant.metadataAddress, 'metadata_address');
    let doc;
    try {
      const res = await fetchWithCa(this.config.ca, metadataUrl.href, { headers: { accept: 'application/json' } });
      if (res.status !== 200) throw new Error(`discovery status ${res.status}`);
      doc = await res.json();
    } catch (err) {
      throw invalidToken(`discovery fetch failed: ${err?.message}`);
    }
    if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw invalidToken('discovery document is not an object');
    if (typeof doc.issuer !== 'string' || !doc.issuer) throw invalidToken('discovery document has no issuer');
    if (typeof doc.jwks_uri !== 'string' || !doc.jwks_uri) throw invalidToken('discovery document has no jwks_uri');
    const jwksUrl = this.checkScheme(doc.jwks_uri, 'jwks_uri');
    const prev = this.discovery;
    const jwks =
      prev && prev.jwksUri === jwksUrl.href
        ? prev.jwks
        : createRemoteJWKSet(jwksUrl, {
            cacheMaxAge: this.ttlMs,
            cooldownDuration: 30000,
            timeoutDuration: FETCH_TIMEOUT_MS,
            // jose v6 dropped the `agent` option; customFetch is its hook for a custom trust store.
            [customFetch]: (url, options) => fetchWithCa(this.config.ca, url, options),
          });
    this.discovery = { issuer: doc.issuer, jwksUri: jwksUrl.href, jwks, fetchedAt: Date.now() };
    return this.discovery;
  }
}

// ---------------------------------------------------------------------------------------
// Request handling

/** Values of a request header, however many times it was sent (node keeps only the first). */
function rawHeaderValues(req, name) {
  const out = [];
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    if (req.rawHeaders[i].toLowerCase() === name) out.push(req.rawHeaders[i + 1]);
  }
  return out;
}

function parseUrl(req) {
  const raw = req.url ?? '/';
  // Origin-form is the normal case; prefixing keeps `//x/...` a path rather than a host.
  return raw.startsWith('/') ? new URL(`http://target.invalid${raw}`) : new URL(raw);
}

/** Reads (and bounds) the body, only to find a form-encoded access_token (RFC 6750 section 2.2). */
function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        reject(invalidRequest('body too large'));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', () => reject(invalidRequest('body read failed')));
  });
}

/**
 * Finds the bearer token. Returns null when the request carries no credentials at all.
 * Throws invalid_request for a token sent by more than one method, a repeated parameter,
 * an empty Bearer credential, or a token sent by a method other than the Authorization header.
 */
export function extractToken({ authorizationValues, queryTokens, bodyTokens }) {
  if (authorizationValues.length > 1) throw invalidRequest('more than one Authorization header');
  let headerToken = null;
  if (authorizationValues.length === 1) {
    const value = authorizationValues[0].trim();
    const m = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+)(?:[ \t]+(.*))?$/s.exec(value);
    if (m && m[1].toLowerCase() === 'bearer') {
      const cred = (m[2] ?? '').trim();
      if (!cred) throw invalidRequest('empty Bearer credentials');
      headerToken = cred;
    }
    // Any other scheme (Basic, ...) is not a bearer credential: treated as none.
  }
  const methods = (headerToken !== null ? 1 : 0) + (queryTokens.length > 0 ? 1 : 0) + (bodyTokens.length > 0 ? 1 : 0);
  if (methods > 1) throw invalidRequest('token sent by more than one method');
  if (queryTokens.length > 0) throw invalidRequest('token in the URI query is not accepted');
  if (bodyTokens.length > 0) throw invalidRequest('form-encoded token on a GET route is not accepted');
  return headerToken;
}

/** RFC 9068 section 4 / contract 2: at+jwt always, JWT unless required, nothing else. */
export function checkTyp(typ, requireAccessTokenType) {
  if (typeof typ !== 'string') throw invalidToken('typ header missing');
  let t = typ.toLowerCase();
  if (t.startsWith('application/')) t = t.slice('application/'.length);
  if (t === 'at+jwt') return;
  if (t === 'jwt' && !requireAccessTokenType) return;
  throw invalidToken(`typ ${JSON.stringify(typ)} not accepted`);
}

function asList(v) {
  return Array.isArray(v) ? v : [v];
}

function defineClaim(obj, name, value) {
  Object.defineProperty(obj, name, { value, enumerable: true, writable: true, configurable: true });
}

/** Applies claim_mappings: the source value appears under the normalized name, arrays merged. */
export function normalizeClaims(payload, mappings) {
  const out = {};
  for (const [k, v] of Object.entries(payload)) defineClaim(out, k, v);
  for (const [from, to] of mappings) {
    if (from === to || !Object.hasOwn(payload, from)) continue;
    const value = payload[from];
    if (!Object.hasOwn(out, to)) {
      defineClaim(out, to, Array.isArray(value) ? [...value] : value);
      continue;
    }
    const merged = [];
    for (const item of [...asList(out[to]), ...asList(value)]) {
      if (!merged.some((m) => m === item)) merged.push(item);
    }
    defineClaim(out, to, merged);
  }
  return out;
}

export function hasRole(claims, role) {
  if (!Object.hasOwn(claims, 'roles')) return false;
  const roles = claims.roles;
  return Array.isArray(roles) ? roles.some((r) => r === role) : roles === role;
}

function clientIdOf(payload, names) {
  for (const name of names) {
    if (Object.hasOwn(payload, name)) return payload[name];
  }
  return undefined;
}

export function createApp(config) {
  const states = new Map();
  for (const t of config.tenants.values()) states.set(t.slug, new TenantState(t, config));
  if (config.caBundle) config.ca = readFileSync(config.caBundle, 'utf8');

  /** Splits the request into { tenantSlug, route } or null for an unknown path. */
  function route(url, req) {
    const path = url.pathname;
    if (config.tenantSource.kind === 'path') {
      const m = /^\/([^/]+)(\/api\/(?:whoami|admin))$/.exec(path);
      return m ? { slug: m[1], route: m[2] } : null;
    }
    if (path !== '/api/whoami' && path !== '/api/admin') return null;
    if (config.tenantSource.kind === 'header') {
      const values = rawHeaderValues(req, config.tenantSource.header);
      return { slug: values.length === 1 ? values[0].trim() : null, route: path };
    }
    // subdomain
    const hosts = rawHeaderValues(req, 'host');
    if (hosts.length > 1) throw invalidRequest('more than one Host header');
    const host = (hosts[0] ?? '').trim().toLowerCase();
    const name = host.startsWith('[') ? '' : host.replace(/:\d*$/, '');
    const label = name.includes('.') ? name.split('.')[0] : '';
    return { slug: label || null, route: path };
  }

  async function validate(slug, token) {
    if (token.length > MAX_TOKEN_LENGTH) throw invalidToken('token too large');
    if (/[\s\x00-\x1f\x7f]/.test(token)) throw invalidToken('token contains whitespace or control characters');
    const tenant = slug !== null ? config.tenants.get(slug) : undefined;
    if (!tenant || !tenant.enabled) throw invalidToken('unknown or disabled tenant');

    // Cheap header check first, so junk never makes us fetch anything.
    let header;
    try {
      header = decodeProtectedHeader(token);
    } catch (err) {
      throw invalidToken(`undecodable header: ${err?.code ?? err?.name}`);
    }
    checkTyp(header.typ, tenant.requireAccessTokenType);

    const d = await states.get(tenant.slug).get();
    const issuer = tenant.validIssuers ?? d.issuer;
    let result;
    try {
      result = await jwtVerify(token, d.jwks, {
        issuer,
        audience: tenant.validAudiences,
        algorithms: ALGORITHMS,
        clockTolerance: config.clockSkewSeconds,
        requiredClaims: REQUIRED_CLAIMS,
      });
    } catch (err) {
      throw invalidToken(`jose: ${err?.code ?? err?.name}: ${err?.message}`);
    }
    const payload = result.payload;
    if (tenant.allowedClientIds.length > 0) {
      const clientId = clientIdOf(payload, tenant.clientIdClaims);
      if (typeof clientId !== 'string' || !tenant.allowedClientIds.includes(clientId)) {
        throw invalidToken('client not allowed');
      }
    }
    return { tenant, claims: normalizeClaims(payload, tenant.claimMappings) };
  }

  function send(res, status, body, wwwAuthenticate) {
    const text = JSON.stringify(body);
    const headers = {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
      'cache-control': 'no-store',
    };
    if (wwwAuthenticate) headers['www-authenticate'] = wwwAuthenticate;
    res.writeHead(status, headers);
    res.end(text);
  }

  function sendReject(res, r) {
    debug('reject', r.status, r.error, r.message);
    send(res, r.status, { error: r.error }, `Bearer error="${r.error}"`);
  }

  async function handle(req, res) {
    let url;
    try {
      url = parseUrl(req);
    } catch {
      send(res, 400, { error: 'bad_request' });
      return;
    }
    if (url.pathname === '/healthz') {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        send(res, 405, { error: 'method_not_allowed' });
        return;
      }
      send(res, 200, { status: 'ok' });
      return;
    }
    let r;
    try {
      r = route(url, req);
    } catch (err) {
      if (err instanceof Reject) return sendReject(res, err);
      throw err;
    }
    if (!r) {
      send(res, 404, { error: 'not_found' });
      return;
    }
    if (req.method !== 'GET') {
      res.setHeader('allow', 'GET');
      send(res, 405, { error: 'method_not_allowed' });
      return;
    }
    try {
      let bodyTokens = [];
      const contentType = String(req.headers['content-type'] ?? '').toLowerCase();
      const body = await readBody(req);
      if (body.length > 0 && contentType.startsWith('application/x-www-form-urlencoded')) {
        bodyTokens = new URLSearchParams(body.toString('latin1')).getAll('access_token');
      }
      const token = extractToken({
        authorizationValues: rawHeaderValues(req, 'authorization'),
        queryTokens: url.searchParams.getAll('access_token'),
        bodyTokens,
      });
      if (token === null) {
        debug('no credentials');
        send(res, 401, { error: 'unauthorized' }, 'Bearer realm="api"'); // RFC 6750 section 3: an auth-param at least
        return;
      }
      const { tenant, claims } = await validate(r.slug, token);
      if (r.route === '/api/admin' && !hasRole(claims, 'admin')) {
        debug('forbidden: no admin role');
        send(res, 403, { error: 'insufficient_scope' }, 'Bearer error="insufficient_scope"');
        return;
      }
      send(res, 200, { tenant: tenant.slug, claims });
    } catch (err) {
      if (err instanceof Reject) return sendReject(res, err);
      // Anything unexpected while handling a token still rejects it, without detail.
      debug('unexpected', err);
      sendReject(res, invalidToken('internal'));
    }
  }

  return (req, res) => {
    handle(req, res).catch((err) => {
      debug('unexpected', err);
      if (!res.headersSent) sendReject(res, invalidToken('internal'));
      else res.destroy();
    });
  };
}

export function main() {
  const port = Number(process.env.BYOID_PORT);
  const manifestPath = process.env.BYOID_MANIFEST;
  if (!Number.isInteger(port) || port <= 0 || port > 65535) {
    console.error('node-jose: BYOID_PORT must be a TCP port number');
    process.exit(2);
  }
  if (!manifestPath) {
    console.error('node-jose: BYOID_MANIFEST must name the manifest file');
    process.exit(2);
  }
  let config;
  let handler;
  try {
    config = parseManifest(readFileSync(manifestPath, 'utf8'));
    handler = createApp(config);
  } catch (err) {
    console.error(`node-jose: cannot load manifest ${manifestPath}: ${err.message}`);
    process.exit(2);
  }
  // Room for a 16 KiB token plus other headers, so an oversized token gets our 401, not a 431.
  const server = http.createServer({ maxHeaderSize: 64 * 1024 }, handler);
  server.on('error', (err) => {
    console.error(`node-jose: cannot listen on 127.0.0.1:${port}: ${err.message}`);
    process.exit(1);
  });
  server.listen(port, '127.0.0.1', () => {
    console.error(`node-jose: listening on 127.0.0.1:${port}, ${config.tenants.size} tenant(s), tenant source ${config.tenantSource.kind}`);
  });
  const stop = () => {
    server.close();
    server.closeAllConnections?.();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

function isEntryPoint() {
  try {
    return Boolean(process.argv[1]) && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) main();
