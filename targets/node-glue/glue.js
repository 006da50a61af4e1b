'use strict';
// The contract glue shared by the Node targets (the library adapters lib-node-jsonwebtoken and
// lib-node-express-jwt, and node-jose): everything byoid-target/2 (docs/target-contract.md)
// asks of a service beyond validating the token, so each target's server.js holds only its
// library's calls and its own token checks.
//
// Tenant resolution, manifest parsing, the discovery fetch, token transport, the RFC 6750
// response table, `enabled`, `agree_header`, the client-id allow-list, claim mappings and the
// admin role. Nothing here reads the token's header, signature or any claim a library checks.
// node:* modules only, so each target's package.json stays the library's pins.
//
// The defaults are the library adapters' behaviour. node-jose's glue, written before this
// module, differs in a few places; each difference is an option (MANIFEST_OPTIONS, the
// options of route/front and of Discovery), so neither side's verdicts moved when it came here.

const http = require('node:http');
const https = require('node:https');
const { readFileSync } = require('node:fs');

/** Timeout of one discovery or JWKS fetch: two in a row stay inside the contract's 5 s. */
const FETCH_TIMEOUT_MS = 2000;
/** Largest discovery document read (the JWKS is read by jwks-rsa, which has no such bound). */
const MAX_DISCOVERY_BYTES = 1024 * 1024;
/** Largest request body read (only to find a form-body `access_token`). */
const MAX_BODY_BYTES = 64 * 1024;
/** Client id claims of a `byoid-target/1` manifest, which does not name them per tenant. */
const DEFAULT_CLIENT_ID_CLAIMS = ['client_id', 'azp', 'cid', 'appid'];
const CONTRACTS = ['byoid-target/1', 'byoid-target/2'];

const DEBUG = process.env.BYOID_TARGET_DEBUG === '1';
let label = 'lib-node';
const debug = (...args) => DEBUG && console.error(`[${label}]`, ...args);

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

const stringList = (v) => (Array.isArray(v) ? v.filter((s) => typeof s === 'string') : []);
const nonNegative = (v, fallback) => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : fallback);

/**
 * How parseManifest reads a manifest; the defaults are the library adapters'. node-jose's
 * values are in brackets.
 */
const MANIFEST_OPTIONS = {
  /** Refuse a `contract` other than byoid-target/1 and /2 [node-jose: false, it never read it]. */
  contract: true,
  /** Read `tenant_source.prefix` [node-jose: false, its path routes are `/{slug}/api/...`]. */
  pathPrefix: true,
  /** Read a tenant's `agree_header` [node-jose: false, it never checks one]. */
  agreeHeader: true,
  /** The window when the manifest has no `jwks_cache_seconds` [node-jose: 300]. */
  jwksCacheSeconds: 600,
  /** More fields of each tenant, from its manifest object, for the target's own checks. */
  tenant: (_raw) => ({}),
};

function parseManifest(text, options = {}) {
  const o = { ...MANIFEST_OPTIONS, ...options };
  const m = JSON.parse(text);
  if (m === null || typeof m !== 'object' || Array.isArray(m)) throw new Error('manifest is not a JSON object');
  if (o.contract && !CONTRACTS.includes(m.contract)) throw new Error(`unsupported contract ${JSON.stringify(m.contract)}`);
  const source = m.tenant_source && typeof m.tenant_source === 'object' ? m.tenant_source : {};
  const kind = source.kind ?? 'header';
  if (!['header', 'path', 'subdomain'].includes(kind)) throw new Error(`unknown tenant_source.kind ${JSON.stringify(kind)}`);
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
      // null/absent: the discovery document's issuer; a list (even an empty one) replaces it.
      validIssuers: Array.isArray(t.valid_issuers) ? stringList(t.valid_issuers) : null,
      validAudiences: stringList(t.valid_audiences),
      allowedClientIds: stringList(t.allowed_client_ids),
      clientIdClaims: Array.isArray(t.client_id_claims) ? stringList(t.client_id_claims) : DEFAULT_CLIENT_ID_CLAIMS,
      claimMappings: mappings,
      agreeHeader: o.agreeHeader && typeof t.agree_header === 'string' && t.agree_header ? t.agree_header.toLowerCase() : null,
      ...o.tenant(t),
    });
  }
  return {
    tenantSource: {
      kind,
      header: (typeof source.header === 'string' && source.header ? source.header : 'X-Tenant-Slug').toLowerCase(),
      prefix: o.pathPrefix && typeof source.prefix === 'string' ? source.prefix.replace(/\/+$/, '') : '',
    },
    clockSkewSeconds: nonNegative(m.clock_skew_seconds, 60),
    jwksCacheSeconds: nonNegative(m.jwks_cache_seconds, o.jwksCacheSeconds),
    requireHttpsMetadata: m.require_https_metadata === true,
    caBundle: typeof m.ca_bundle === 'string' && m.ca_bundle ? m.ca_bundle : null,
    tenants,
  };
}

/** The manifest at `path`, with `agent`: an https.Agent trusting `ca_bundle`, when there is one. */
function loadConfig(path, manifestOptions) {
  const config = parseManifest(readFileSync(path, 'utf8'), manifestOptions);
  config.agent = config.caBundle ? new https.Agent({ ca: readFileSync(config.caBundle) }) : undefined;
  return config;
}

// ---------------------------------------------------------------------------------------
// Discovery (neither jwks-rsa nor jsonwebtoken reads it: one wants a jwksUri, the other an issuer)

/** GET a JSON document, bounded in time and size, no redirects, trusting `agent`'s CA. */
function fetchJson(url, agent) {
  return new Promise((resolve, reject) => {
    const mod = url.protocol === 'https:' ? https : http;
    const req = mod.get(url, { agent: url.protocol === 'https:' ? agent : undefined, timeout: FETCH_TIMEOUT_MS, signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) }, (res) => {
      const chunks = [];
      let size = 0;
      res.on('data', (c) => {
        size += c.length;
        if (size > MAX_DISCOVERY_BYTES) req.destroy(new Error('too large'));
        else chunks.push(c);
      });
      res.on('end', () => {
        if (res.statusCode !== 200) return reject(new Error(`status ${res.statusCode}`));
        try {
          resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
        } catch (err) {
          reject(err);
        }
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/**
 * The issuer a metadata address implies (contract 2.2, 5.3): OIDC Discovery 4.3
 * (`issuer + /.well-known/openid-configuration`) or RFC 8414 (suffix, or its own
 * `/.well-known/oauth-authorization-server/<path>` form). null: the address has neither form.
 */
function impliedIssuer(url) {
  const base = url.origin;
  const p = url.pathname;
  for (const suffix of ['/.well-known/openid-configuration', '/.well-known/oauth-authorization-server']) {
    if (p.endsWith(suffix)) return base + p.slice(0, -suffix.length);
  }
  const rfc8414 = '/.well-known/oauth-authorization-server/';
  if (p.startsWith(rfc8414)) return `${base}/${p.slice(rfc8414.length)}`;
  return null;
}

/**
 * One tenant's discovery data, fetched lazily and kept jwks_cache_seconds, with what the
 * adapter builds from it: `build({ issuer, jwksUri }, previous)` returns the library object
 * (a jwks-rsa client, an express-jwt middleware...); `previous` is the last state, so the
 * adapter can keep its library object (and the JWKS cache inside it) across refreshes.
 * `build` may also throw a Reject, for a target's own checks of the document.
 *
 * Options (defaults: the library adapters'; node-jose's in brackets):
 *   fetch(url): the parsed document at `url` (a URL), or a rejection; default fetchJson with
 *     the manifest's CA [node-jose: its own fetch, the one jose's key set uses too].
 *   impliedIssuer: with `valid_issuers` null, refuse a discovery issuer other than the one
 *     its address implies (default true) [node-jose: false; its README says why].
 */
class Discovery {
  constructor(tenant, config, build, { fetch, impliedIssuer = true } = {}) {
    this.tenant = tenant;
    this.config = config;
    this.build = build;
    this.fetch = fetch ?? ((url) => fetchJson(url, config.agent));
    this.checkImpliedIssuer = impliedIssuer;
    this.current = null; // { issuer, jwksUri, lib, fetchedAt }
    this.pending = null;
  }

  url(value, what) {
    let u;
    try {
      u = new URL(value);
    } catch {
      throw invalidToken(`${what} is not a URL`);
    }
    if (u.protocol !== 'https:' && u.protocol !== 'http:') throw invalidToken(`${what} is not http(s)`);
    if (this.config.requireHttpsMetadata && u.protocol !== 'https:') throw invalidToken(`${what} is not https`);
    return u;
  }

  get() {
    const c = this.current;
    if (c && Date.now() - c.fetchedAt < this.config.jwksCacheSeconds * 1000) return Promise.resolve(c);
    // Concurrent requests share one fetch; a failure is not cached (the next request retries).
    this.pending ??= this.load().finally(() => {
      this.pending = null;
    });
    return this.pending;
  }

  async load() {
    const address = this.url(this.tenant.metadataAddress, 'metadata_address');
    let doc;
    try {
      doc = await this.fetch(address);
    } catch (err) {
      throw invalidToken(`discovery fetch failed: ${err?.message}`);
    }
    if (!doc || typeof doc !== 'object' || typeof doc.issuer !== 'string' || typeof doc.jwks_uri !== 'string') {
      throw invalidToken('discovery document without issuer or jwks_uri');
    }
    // valid_issuers null: the discovery issuer must be the one its address implies (a trailing
    // slash tolerated); with a list, the list is the whole answer and the address is not compared.
    if (this.checkImpliedIssuer && this.tenant.validIssuers === null && impliedIssuer(address) !== doc.issuer.replace(/\/$/, '')) {
      throw invalidToken(`discovery issuer ${doc.issuer} does not match its address`);
    }
    const found = { issuer: doc.issuer, jwksUri: this.url(doc.jwks_uri, 'jwks_uri').href };
    const lib = this.build(found, this.current);
    this.current = { ...found, lib, fetchedAt: Date.now() };
    return this.current;
  }
}

// ---------------------------------------------------------------------------------------
// Requests

/** Values of a request header, however many times it was sent (node keeps only the first). */
function rawHeaderValues(req, name) {
  const out = [];
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    if (req.rawHeaders[i].toLowerCase() === name) out.push(req.rawHeaders[i + 1]);
  }
  return out;
}

/** The request target as a URL, or null when it is not one (400). */
function requestUrl(req) {
  try {
    const raw = req.url ?? '/';
    return new URL(raw.startsWith('/') ? `http://target.invalid${raw}` : raw);
  } catch {
    return null;
  }
}

/**
 * Contract 3.1 and 3.2: { slug, route } for the protected routes, or null (404).
 * `pathWithoutTenant: 'not_found'` makes a path-mode route without its slug a 404 rather
 * than a request naming no tenant [node-jose's behaviour].
 */
function route(config, url, req, { pathWithoutTenant = 'no_tenant' } = {}) {
  const { kind, header, prefix } = config.tenantSource;
  if (kind === 'path') {
    // A route without the prefix and slug (`/api/whoami`) names no tenant: 401, not 404.
    const rest = url.pathname.startsWith(`${prefix}/`) ? url.pathname.slice(prefix.length) : null;
    const m = rest === null ? null : /^\/([^/]+)(\/api\/(?:whoami|admin))$/.exec(rest);
    if (m) return { slug: m[1], route: m[2] };
    if (pathWithoutTenant === 'not_found') return null;
    return url.pathname === '/api/whoami' || url.pathname === '/api/admin' ? { slug: null, route: url.pathname } : null;
  }
  if (url.pathname !== '/api/whoami' && url.pathname !== '/api/admin') return null;
  if (kind === 'header') {
    const values = rawHeaderValues(req, header);
    return { slug: values.length === 1 ? values[0].trim() : null, route: url.pathname };
  }
  const hosts = rawHeaderValues(req, 'host');
  if (hosts.length > 1) throw invalidRequest('more than one Host header');
  const host = (hosts[0] ?? '').trim().toLowerCase();
  const name = host.startsWith('[') ? '' : host.replace(/:\d*$/, '');
  return { slug: name.includes('.') ? name.split('.')[0] : null, route: url.pathname };
}

/**
 * RFC 6750 section 2: the bearer token, or null when the request carries no credentials.
 * invalid_request for two Authorization fields, an empty credential, or a token in the query
 * or a form body (only the header method is supported; RFC 9700 discourages the query).
 */
function extractToken(req, url, bodyTokens) {
  const values = rawHeaderValues(req, 'authorization');
  if (values.length > 1) throw invalidRequest('more than one Authorization header');
  let token = null;
  if (values.length === 1) {
    const m = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+)(?:[ \t]+(.*))?$/s.exec(values[0].trim());
    if (m && m[1].toLowerCase() === 'bearer') {
      token = (m[2] ?? '').trim();
      if (!token) throw invalidRequest('empty Bearer credentials');
    } // any other scheme (Basic ...) is not a bearer credential
  }
  const queryTokens = url.searchParams.getAll('access_token');
  const methods = (token !== null) + (queryTokens.length > 0) + (bodyTokens.length > 0);
  if (methods > 1) throw invalidRequest('token sent by more than one method');
  if (queryTokens.length > 0 || bodyTokens.length > 0) throw invalidRequest('only the Authorization header is supported');
  return token;
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        reject(invalidRequest('body too large'));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', () => reject(invalidRequest('body read failed')));
  });
}

/** Token transport (contract 3.3): the bearer token, or null (no credentials); Reject otherwise. */
async function bearerToken(req, url) {
  const body = await readBody(req);
  const form = String(req.headers['content-type'] ?? '').toLowerCase().startsWith('application/x-www-form-urlencoded');
  const bodyTokens = body.length > 0 && form ? new URLSearchParams(body.toString('latin1')).getAll('access_token') : [];
  return extractToken(req, url, bodyTokens);
}

/** The configured, enabled tenant `slug` names, when `agree_header` agrees; else invalid_token. */
function resolveTenant(config, slug, req) {
  const tenant = slug ? config.tenants.get(slug) : undefined;
  if (!tenant || !tenant.enabled) throw invalidToken('unknown or disabled tenant');
  if (tenant.agreeHeader && rawHeaderValues(req, tenant.agreeHeader).some((v) => v.trim() !== tenant.slug)) {
    throw invalidToken('agree_header names another tenant');
  }
  return tenant;
}

const defineClaim = (obj, name, value) =>
  Object.defineProperty(obj, name, { value, enumerable: true, writable: true, configurable: true });
const asList = (v) => (Array.isArray(v) ? v : [v]);

/** Contract 5.7: each source claim's value also under its normalized name, arrays merged. */
function normalizeClaims(payload, mappings) {
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
    for (const item of [...asList(out[to]), ...asList(value)]) if (!merged.includes(item)) merged.push(item);
    defineClaim(out, to, merged);
  }
  return out;
}

function hasRole(claims, role) {
  if (!Object.hasOwn(claims, 'roles')) return false;
  return Array.isArray(claims.roles) ? claims.roles.includes(role) : claims.roles === role;
}

// ---------------------------------------------------------------------------------------
// Responses (contract 4, RFC 6750 section 3)

function send(res, status, body, challenge) {
  const text = JSON.stringify(body);
  const headers = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' };
  if (challenge) headers['www-authenticate'] = challenge;
  res.writeHead(status, headers);
  res.end(text);
}

const sendNoCredentials = (res) => send(res, 401, { error: 'unauthorized' }, 'Bearer realm="api"');

function methodNotAllowed(res) {
  res.setHeader('allow', 'GET');
  send(res, 405, { error: 'method_not_allowed' });
}

/** A Reject as its status and challenge; anything else still rejects the token, without detail. */
function sendError(res, err) {
  if (!(err instanceof Reject)) debug('unexpected', err);
  const r = err instanceof Reject ? err : invalidToken('internal');
  if (res.headersSent) return res.destroy();
  debug('reject', r.status, r.error, r.message);
  send(res, r.status, { error: r.error }, `Bearer error="${r.error}"`);
}

/**
 * What follows a successful verification: the client-id allow-list, claim mappings and the
 * admin role, then 200 or 403.
 */
function answer(res, routeName, tenant, payload) {
  // jsonwebtoken returns a string when the payload is not a JSON object; the audience check
  // has already refused that, but the claims code below wants an object either way.
  if (payload === null || typeof payload !== 'object') throw invalidToken('payload is not an object');
  if (tenant.allowedClientIds.length > 0) {
    const name = tenant.clientIdClaims.find((c) => Object.hasOwn(payload, c));
    const clientId = name === undefined ? undefined : payload[name];
    if (typeof clientId !== 'string' || !tenant.allowedClientIds.includes(clientId)) throw invalidToken('client not allowed');
  }
  const claims = normalizeClaims(payload, tenant.claimMappings);
  if (routeName === '/api/admin' && !hasRole(claims, 'admin')) {
    return send(res, 403, { error: 'insufficient_scope' }, 'Bearer error="insufficient_scope"');
  }
  send(res, 200, { tenant: tenant.slug, claims });
}

/**
 * Everything before the library, for a request: the URL, /healthz, the route (404), the
 * method (405) and token transport. Returns { slug, route, token }, or null once it has
 * answered the request itself (no credentials included); throws a Reject for a 400/401.
 *
 * Options (defaults: the library adapters'; node-jose's in brackets): `healthzMethods`, the
 * methods /healthz answers, others getting a 405 (default: any method) [['GET', 'HEAD'],
 * its 405 without an Allow header]; `pathWithoutTenant`, passed on to route().
 */
async function front(config, req, res, { healthzMethods = null, pathWithoutTenant } = {}) {
  const url = requestUrl(req);
  if (!url) {
    send(res, 400, { error: 'bad_request' });
    return null;
  }
  if (url.pathname === '/healthz') {
    if (healthzMethods && !healthzMethods.includes(req.method)) send(res, 405, { error: 'method_not_allowed' });
    else send(res, 200, { status: 'ok' });
    return null;
  }
  const r = route(config, url, req, { pathWithoutTenant });
  if (!r) {
    send(res, 404, { error: 'not_found' });
    return null;
  }
  if (req.method !== 'GET') {
    methodNotAllowed(res);
    return null;
  }
  const token = await bearerToken(req, url);
  if (token === null) {
    sendNoCredentials(res);
    return null;
  }
  return { ...r, token };
}

// ---------------------------------------------------------------------------------------
// Process

/**
 * Contract 1: read $BYOID_MANIFEST (with parseManifest's `manifestOptions`), serve
 * `makeHandler(config)` on 127.0.0.1:$BYOID_PORT, stop on SIGTERM/SIGINT. A bad environment
 * or manifest ends the process with one line.
 */
function serve(name, makeHandler, manifestOptions) {
  label = name;
  const port = Number(process.env.BYOID_PORT);
  const manifestPath = process.env.BYOID_MANIFEST;
  if (!Number.isInteger(port) || port <= 0 || port > 65535 || !manifestPath) {
    console.error(`${name}: BYOID_PORT must be a TCP port and BYOID_MANIFEST a manifest path`);
    process.exit(2);
  }
  let config;
  let handler;
  try {
    config = loadConfig(manifestPath, manifestOptions);
    handler = makeHandler(config);
  } catch (err) {
    console.error(`${name}: cannot load manifest ${manifestPath}: ${err.message}`);
    process.exit(2);
  }
  // Room for large tokens, so they reach the library rather than Node's 431.
  const server = http.createServer({ maxHeaderSize: 64 * 1024 }, handler);
  server.on('error', (err) => {
    console.error(`${name}: cannot listen on 127.0.0.1:${port}: ${err.message}`);
    process.exit(1);
  });
  server.listen(port, '127.0.0.1', () =>
    console.error(`${name}: listening on 127.0.0.1:${port}, ${config.tenants.size} tenant(s), tenant source ${config.tenantSource.kind}`),
  );
  const stop = () => {
    server.close();
    server.closeAllConnections?.();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

module.exports = {
  FETCH_TIMEOUT_MS,
  Reject,
  invalidToken,
  invalidRequest,
  debug,
  MANIFEST_OPTIONS,
  parseManifest,
  loadConfig,
  fetchJson,
  impliedIssuer,
  Discovery,
  rawHeaderValues,
  requestUrl,
  route,
  extractToken,
  bearerToken,
  resolveTenant,
  normalizeClaims,
  hasRole,
  send,
  sendNoCredentials,
  sendError,
  answer,
  front,
  serve,
};
