// byoid target adapter: bearer-token validation with panva/jose on node:http.
//
// Speaks the target contract `byoid-target/2` (docs/target-contract.md in the byoid repository):
// reads the manifest named by BYOID_MANIFEST, listens on 127.0.0.1:BYOID_PORT and
// serves GET /healthz, GET /api/whoami and GET /api/admin. Token cryptography and
// standard claim checks are jose's; the typ rule, the token's size and characters, and a
// non-empty discovery issuer are this file's own checks. The rest of the contract (manifest,
// tenant resolution, token transport, the RFC 6750 responses, the discovery document, client
// id, claim mappings, admin role, serving) is the glue shared with the library adapters,
// ../node-glue/glue.js, with the options below where node-jose has always differed from them.
// See README.md.

import { readFileSync, realpathSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { fileURLToPath } from 'node:url';
import process from 'node:process';
import { createRemoteJWKSet, customFetch, decodeProtectedHeader, jwtVerify } from 'jose';
import glue from '../node-glue/glue.js';

/** Asymmetric JWS algorithms accepted; HS* and `none` are never accepted. */
export const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'EdDSA'];
/** Claims every access token must carry (jose checks their presence and, for exp, the type). */
export const REQUIRED_CLAIMS = ['exp', 'iss', 'aud', 'sub'];
/** Largest bearer token considered (bytes of the compact form). */
export const MAX_TOKEN_LENGTH = 16 * 1024;
/** Largest discovery document or JWKS read from an IdP. */
const MAX_METADATA_BYTES = 1024 * 1024;
/** Timeout of one discovery or JWKS fetch. */
const FETCH_TIMEOUT_MS = glue.FETCH_TIMEOUT_MS;

// ---------------------------------------------------------------------------------------
// Where node-jose's glue differs from the library adapters' (options of ../node-glue/glue.js)

/**
 * The manifest as node-jose reads it: no `contract` check, no `tenant_source.prefix`, no
 * `agree_header`, a 300 s default cache window, and `require_access_token_type` for the typ rule.
 */
export const MANIFEST_OPTIONS = {
  contract: false,
  pathPrefix: false,
  agreeHeader: false,
  jwksCacheSeconds: 300,
  tenant: (t) => ({ requireAccessTokenType: t.require_access_token_type === true }),
};
/** /healthz answers GET and HEAD only; a path-mode route without its slug is a 404. */
const FRONT_OPTIONS = { healthzMethods: ['GET', 'HEAD'], pathWithoutTenant: 'not_found' };

/** Parses manifest JSON text into the configuration the server uses. Unknown fields are ignored. */
export const parseManifest = (text) => glue.parseManifest(text, MANIFEST_OPTIONS);

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

/** The discovery document at `url`, fetched as the key set is (glue.Discovery's `fetch`). */
async function fetchDiscovery(ca, url) {
  const res = await fetchWithCa(ca, url.href, { headers: { accept: 'application/json' } });
  if (res.status !== 200) throw new Error(`discovery status ${res.status}`);
  return res.json();
}

/**
 * glue.Discovery's `build`: the tenant's jose key set, kept while `jwks_uri` stays the same.
 * The discovery document's issuer must not be empty (node-jose's own check).
 */
function keySetFor(config) {
  return ({ issuer, jwksUri }, prev) => {
    if (!issuer) throw glue.invalidToken('discovery document has no issuer');
    if (prev && prev.jwksUri === jwksUri) return prev.lib;
    return createRemoteJWKSet(new URL(jwksUri), {
      cacheMaxAge: config.jwksCacheSeconds * 1000,
      cooldownDuration: 30000,
      timeoutDuration: FETCH_TIMEOUT_MS,
      // jose v6 dropped the `agent` option; customFetch is its hook for a custom trust store.
      [customFetch]: (url, options) => fetchWithCa(config.ca, url, options),
    });
  };
}

// ---------------------------------------------------------------------------------------
// Request handling

/** RFC 9068 section 4 / contract 2: at+jwt always, JWT unless required, nothing else. */
export function checkTyp(typ, requireAccessTokenType) {
  if (typeof typ !== 'string') throw glue.invalidToken('typ header missing');
  let t = typ.toLowerCase();
  if (t.startsWith('application/')) t = t.slice('application/'.length);
  if (t === 'at+jwt') return;
  if (t === 'jwt' && !requireAccessTokenType) return;
  throw glue.invalidToken(`typ ${JSON.stringify(typ)} not accepted`);
}

export function createApp(config) {
  if (config.caBundle) config.ca = readFileSync(config.caBundle, 'utf8');
  const discoveries = new Map();
  for (const t of config.tenants.values()) {
    // No implied-issuer check: see README.md, "Discovery issuer and address".
    discoveries.set(t.slug, new glue.Discovery(t, config, keySetFor(config), { fetch: (url) => fetchDiscovery(config.ca, url), impliedIssuer: false }));
  }

  /** The tenant and jose's verified payload, or a Reject. */
  async function validate(slug, token, req) {
    if (token.length > MAX_TOKEN_LENGTH) throw glue.invalidToken('token too large');
    if (/[\s\x00-\x1f\x7f]/.test(token)) throw glue.invalidToken('token contains whitespace or control characters');
    const tenant = glue.resolveTenant(config, slug, req);

    // Cheap header check first, so junk never makes us fetch anything.
    let header;
    try {
      header = decodeProtectedHeader(token);
    } catch (err) {
      throw glue.invalidToken(`undecodable header: ${err?.code ?? err?.name}`);
    }
    checkTyp(header.typ, tenant.requireAccessTokenType);

    const d = await discoveries.get(tenant.slug).get();
    const issuer = tenant.validIssuers ?? d.issuer;
    try {
      const result = await jwtVerify(token, d.lib, {
        issuer,
        audience: tenant.validAudiences,
        algorithms: ALGORITHMS,
        clockTolerance: config.clockSkewSeconds,
        requiredClaims: REQUIRED_CLAIMS,
      });
      return { tenant, payload: result.payload };
    } catch (err) {
      throw glue.invalidToken(`jose: ${err?.code ?? err?.name}: ${err?.message}`);
    }
  }

  async function handle(req, res) {
    try {
      const r = await glue.front(config, req, res, FRONT_OPTIONS);
      if (!r) return; // answered: /healthz, 400, 404, 405, no credentials
      const { tenant, payload } = await validate(r.slug, r.token, req);
      glue.answer(res, r.route, tenant, payload); // client id, claim mappings, admin role
    } catch (err) {
      // Anything unexpected while handling a token still rejects it, without detail.
      glue.sendError(res, err);
    }
  }

  return (req, res) => handle(req, res).catch((err) => glue.sendError(res, err));
}

export function main() {
  glue.serve('node-jose', createApp, MANIFEST_OPTIONS);
}

function isEntryPoint() {
  try {
    return Boolean(process.argv[1]) && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) main();
