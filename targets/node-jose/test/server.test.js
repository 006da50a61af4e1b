// End-to-end test of the node-jose target: a tiny discovery + JWKS server on 127.0.0.1:0,
// a manifest in a temp file, `node server.js` spawned with BYOID_PORT/BYOID_MANIFEST.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';

import glue from '../../node-glue/glue.js';
import { checkTyp } from '../server.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const serverJs = path.join(here, '..', 'server.js');
const AUDIENCE = 'api://byoid-resource';
const CLIENT = 'contoso-daemon';
const KID = 'test-key-1';

/** One request to the target; resolves { status, headers, body } or rejects after 5 s. */
function request(port, pathname, { headers = {}, authorization } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: pathname, method: 'GET', headers, timeout: 5000 }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body = null;
        try {
          body = JSON.parse(text);
        } catch {
          body = text;
        }
        resolve({ status: res.statusCode, headers: res.headers, body });
      });
    });
    // An array sends the header once per value (two Authorization headers).
    if (authorization !== undefined) req.setHeader('authorization', authorization);
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end();
  });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

describe('node-jose target', () => {
  let keys;
  let idp;
  let idpBase;
  const idpRequests = [];
  let child;
  let childStderr = '';
  let port;
  let dir;

  const issuer = () => `${idpBase}/contoso`;

  async function token({ claims = {}, iss = issuer(), aud = AUDIENCE, typ = 'at+jwt', exp = '5m', omit = [] } = {}) {
    const payload = { sub: 'user-1', client_id: CLIENT, scp: 'api.read', ...claims };
    for (const k of omit) delete payload[k];
    const header = { alg: 'RS256', kid: KID };
    if (typ !== null) header.typ = typ;
    let jwt = new SignJWT(payload).setProtectedHeader(header).setIssuedAt().setExpirationTime(exp);
    if (iss !== null) jwt = jwt.setIssuer(iss);
    if (aud !== null) jwt = jwt.setAudience(aud);
    return jwt.sign(keys.privateKey);
  }

  const whoami = (tok, tenant = 'contoso', extra = {}) =>
    request(port, '/api/whoami', { headers: { 'X-Tenant-Slug': tenant, ...extra }, authorization: tok === undefined ? undefined : `Bearer ${tok}` });

  before(async () => {
    keys = await generateKeyPair('RS256');
    const jwk = { ...(await exportJWK(keys.publicKey)), kid: KID, alg: 'RS256', use: 'sig' };

    idp = http.createServer((req, res) => {
      idpRequests.push(req.url);
      const send = (body) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      const m = /^\/([^/]+)\/(\.well-known\/openid-configuration|jwks)$/.exec(req.url);
      if (!m) {
        res.writeHead(404).end();
        return;
      }
      const slug = m[1];
      if (m[2] === 'jwks') send({ keys: [jwk] });
      else send({ issuer: `${idpBase}/${slug}`, jwks_uri: `${idpBase}/${slug}/jwks`, id_token_signing_alg_values_supported: ['RS256'] });
    });
    await new Promise((resolve) => idp.listen(0, '127.0.0.1', resolve));
    idpBase = `http://127.0.0.1:${idp.address().port}`;

    dir = mkdtempSync(path.join(tmpdir(), 'byoid-node-jose-'));
    const manifestPath = path.join(dir, 'manifest.json');
    const tenant = (slug, extra = {}) => ({
      slug,
      enabled: true,
      metadata_address: `${idpBase}/${slug}/.well-known/openid-configuration`,
      valid_issuers: null,
      valid_audiences: [AUDIENCE],
      allowed_client_ids: [CLIENT],
      require_access_token_type: false,
      claim_mappings: { groups: 'roles' },
      ...extra,
    });
    const manifest = {
      contract: 'byoid-target/1',
      tenant_source: { kind: 'header', header: 'X-Tenant-Slug' },
      clock_skew_seconds: 60,
      jwks_cache_seconds: 300,
      require_https_metadata: false,
      ca_bundle: null,
      some_future_field: { ignored: true },
      tenants: [tenant('contoso'), tenant('fabrikam', { enabled: false }), tenant('strict', { require_access_token_type: true })],
    };
    writeFileSync(manifestPath, JSON.stringify(manifest, null, 2));

    port = await freePort();
    child = spawn(process.execPath, [serverJs], {
      env: { ...process.env, BYOID_PORT: String(port), BYOID_MANIFEST: manifestPath },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    child.stderr.on('data', (c) => {
      childStderr += c;
    });
    const deadline = Date.now() + 10000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`target exited early:\n${childStderr}`);
      try {
        const r = await request(port, '/healthz');
        if (r.status === 200) break;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`target never became ready:\n${childStderr}`);
      await sleep(50);
    }
  });

  after(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(3000)]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    await new Promise((resolve) => (idp ? idp.close(resolve) : resolve()));
    idp?.closeAllConnections?.();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('healthz answers 200', { timeout: 5000 }, async () => {
    const r = await request(port, '/healthz');
    assert.equal(r.status, 200);
  });

  test('a genuine token gives 200 with tenant and normalized claims', { timeout: 10000 }, async () => {
    const r = await whoami(await token({ claims: { groups: ['readers'] } }));
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.headers['www-authenticate'], undefined);
    assert.equal(r.body.tenant, 'contoso');
    assert.equal(r.body.claims.sub, 'user-1');
    assert.equal(r.body.claims.iss, issuer());
    assert.deepEqual(r.body.claims.roles, ['readers']);
  });

  test('the scheme is case-insensitive and typ JWT is accepted when not required', { timeout: 10000 }, async () => {
    const r = await request(port, '/api/whoami', {
      headers: { 'X-Tenant-Slug': 'contoso' },
      authorization: `bEaReR ${await token({ typ: 'JWT' })}`,
    });
    assert.equal(r.status, 200);
  });

  const invalid = (r) => {
    assert.equal(r.status, 401, JSON.stringify(r.body));
    assert.equal(r.headers['www-authenticate'], 'Bearer error="invalid_token"');
  };

  test('a wrong issuer gives 401 invalid_token', { timeout: 10000 }, async () => {
    invalid(await whoami(await token({ iss: `${idpBase}/fabrikam` })));
  });

  test('a wrong audience gives 401 invalid_token', { timeout: 10000 }, async () => {
    invalid(await whoami(await token({ aud: 'api://someone-else' })));
  });

  test('an expired token gives 401 invalid_token', { timeout: 10000 }, async () => {
    invalid(await whoami(await token({ exp: Math.floor(Date.now() / 1000) - 600 })));
  });

  test('a missing sub gives 401 invalid_token', { timeout: 10000 }, async () => {
    invalid(await whoami(await token({ omit: ['sub'] })));
  });

  test('missing typ, id-token typ, and JWT where at+jwt is required give 401', { timeout: 10000 }, async () => {
    invalid(await whoami(await token({ typ: null })));
    invalid(await whoami(await token({ typ: 'id_token+jwt' })));
    invalid(await whoami(await token({ typ: 'JWT', iss: `${idpBase}/strict` }), 'strict'));
    const ok = await whoami(await token({ typ: 'application/AT+JWT', iss: `${idpBase}/strict` }), 'strict');
    assert.equal(ok.status, 200);
  });

  test('a client outside the allow-list gives 401 invalid_token', { timeout: 10000 }, async () => {
    invalid(await whoami(await token({ claims: { client_id: 'intruder' } })));
  });

  test('garbage and oversized tokens give 401 invalid_token', { timeout: 10000 }, async () => {
    invalid(await whoami('not-a-jwt'));
    invalid(await whoami('a'.repeat(20000)));
  });

  // RFC 6750 section 3: the scheme MUST be followed by one or more auth-params, so not bare.
  test('no credentials give 401 with a Bearer challenge naming only the realm', { timeout: 5000 }, async () => {
    const r = await whoami(undefined);
    assert.equal(r.status, 401);
    assert.equal(r.headers['www-authenticate'], 'Bearer realm="api"');
    assert.doesNotMatch(r.headers['www-authenticate'], /error=/);
  });

  test('a token sent by two methods gives 400 invalid_request', { timeout: 10000 }, async () => {
    const tok = await token();
    const r = await request(port, `/api/whoami?access_token=${tok}`, {
      headers: { 'X-Tenant-Slug': 'contoso' },
      authorization: `Bearer ${tok}`,
    });
    assert.equal(r.status, 400);
    assert.equal(r.headers['www-authenticate'], 'Bearer error="invalid_request"');
  });

  test('two Authorization headers give 400 invalid_request', { timeout: 10000 }, async () => {
    const tok = await token();
    const r = await request(port, '/api/whoami', {
      headers: { 'X-Tenant-Slug': 'contoso' },
      authorization: [`Bearer ${tok}`, `Bearer ${tok}`],
    });
    assert.equal(r.status, 400);
    assert.equal(r.headers['www-authenticate'], 'Bearer error="invalid_request"');
  });

  test('a query-only token gives 400 invalid_request', { timeout: 10000 }, async () => {
    const r = await request(port, `/api/whoami?access_token=${await token()}`, { headers: { 'X-Tenant-Slug': 'contoso' } });
    assert.equal(r.status, 400);
    assert.equal(r.headers['www-authenticate'], 'Bearer error="invalid_request"');
  });

  test('admin without the role gives 403 insufficient_scope', { timeout: 10000 }, async () => {
    const r = await request(port, '/api/admin', {
      headers: { 'X-Tenant-Slug': 'contoso' },
      authorization: `Bearer ${await token({ claims: { groups: ['readers'] } })}`,
    });
    assert.equal(r.status, 403);
    assert.equal(r.headers['www-authenticate'], 'Bearer error="insufficient_scope"');
  });

  test('admin with the role (via the groups mapping) gives 200', { timeout: 10000 }, async () => {
    const r = await request(port, '/api/admin', {
      headers: { 'X-Tenant-Slug': 'contoso' },
      authorization: `Bearer ${await token({ claims: { groups: ['admin'], roles: ['reader'] } })}`,
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body.claims.roles, ['reader', 'admin']);
  });

  test('unknown and disabled tenants give 401 without any IdP fetch', { timeout: 10000 }, async () => {
    invalid(await whoami(await token({ iss: `${idpBase}/nobody` }), 'nobody'));
    invalid(await whoami(await token({ iss: `${idpBase}/fabrikam` }), 'fabrikam'));
    invalid(await whoami(await token(), undefined, { 'X-Tenant-Slug': '' }));
    assert.ok(idpRequests.length > 0, 'the IdP was used for the known tenant');
    assert.deepEqual(
      idpRequests.filter((u) => u.startsWith('/nobody/') || u.startsWith('/fabrikam/')),
      [],
    );
  });

  test('rejections never echo exception text', { timeout: 10000 }, async () => {
    const r = await whoami(await token({ aud: 'api://someone-else' }));
    assert.deepEqual(r.body, { error: 'invalid_token' });
  });
});

describe('helpers', () => {
  test('checkTyp follows the contract', () => {
    assert.doesNotThrow(() => checkTyp('at+jwt', true));
    assert.doesNotThrow(() => checkTyp('Application/AT+JWT', true));
    assert.doesNotThrow(() => checkTyp('JWT', false));
    assert.throws(() => checkTyp('JWT', true));
    assert.throws(() => checkTyp(undefined, false));
    assert.throws(() => checkTyp('id_token+jwt', false));
    assert.throws(() => checkTyp('at+jwt ', false));
  });

  test('the glue\'s extractToken distinguishes none, one and too many methods', () => {
    const url = new URL('http://target.invalid/api/whoami');
    const extract = (authorizationValues, bodyTokens = []) =>
      glue.extractToken({ rawHeaders: authorizationValues.flatMap((v) => ['Authorization', v]) }, url, bodyTokens);
    assert.equal(extract([]), null);
    assert.equal(extract(['Basic dXNlcjpwYXNz']), null);
    assert.equal(extract(['BEARER abc.def.ghi']), 'abc.def.ghi');
    assert.throws(() => extract(['Bearer ']), { error: 'invalid_request' });
    assert.throws(() => extract(['Bearer a', 'Bearer b']), { error: 'invalid_request' });
    assert.throws(() => extract([], ['a']), { error: 'invalid_request' });
  });

  test('the glue\'s normalizeClaims copies and merges', () => {
    const { normalizeClaims } = glue;
    assert.deepEqual(normalizeClaims({ groups: ['a'] }, [['groups', 'roles']]).roles, ['a']);
    assert.deepEqual(normalizeClaims({ groups: 'a', roles: ['b', 'a'] }, [['groups', 'roles']]).roles, ['b', 'a']);
    const out = normalizeClaims({ evil: 1 }, [['evil', '__proto__']]);
    assert.equal(Object.getPrototypeOf(out), Object.prototype);
    assert.equal(Object.hasOwn(out, '__proto__'), true);
  });
});
