'use strict';
// byoid target adapter: bearer-token validation with auth0/node-jsonwebtoken + auth0/node-jwks-rsa,
// configured the way their READMEs show it (the getKey callback pattern), on node:http.
//
// Speaks byoid-target/2 (docs/target-contract.md). Everything about the token itself
// (signature, alg allow-list, exp/nbf, iss, aud, kid lookup, JWKS fetching and caching) is
// left to the two libraries with their documented options. The glue, shared with
// lib-node-express-jwt and node-jose in ../node-glue/glue.js (used here with its defaults),
// does only what they do not: tenant resolution, token transport and the RFC 6750 response
// table, reading the discovery document, `enabled`, the client-id allow-list, claim mappings
// and the admin role. Where the contract asks more of a token than the libraries check,
// nothing is added: that is what byoid's report is meant to show. See README.md.

const jwt = require('jsonwebtoken');
const jwksClient = require('jwks-rsa');
const glue = require('../node-glue/glue');

/**
 * Every asymmetric algorithm in jsonwebtoken's README table ("Algorithms supported"); HS* and
 * `none` are left out because the keys are the tenants' public keys. EdDSA is not in the table.
 */
const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512'];

/** One jwks-rsa client per tenant and `jwks_uri`, kept while the discovery's `jwks_uri` stays. */
function clientFor(config) {
  return ({ jwksUri }, prev) => {
    if (prev && prev.jwksUri === jwksUri) return prev.lib;
    // The README / EXAMPLES.md configuration: cache and rateLimit on, as in the Express
    // example; jwksRequestsPerMinute and cacheMaxEntries left at their defaults (10, 5);
    // cacheMaxAge is the manifest's window; timeout bounds a fetch; requestAgent carries the
    // CA bundle ("Using Request Agent for TLS/SSL Configuration").
    return jwksClient({
      jwksUri,
      cache: true,
      cacheMaxAge: config.jwksCacheSeconds * 1000,
      rateLimit: true,
      timeout: glue.FETCH_TIMEOUT_MS,
      ...(config.agent && jwksUri.startsWith('https:') ? { requestAgent: config.agent } : {}),
    });
  };
}

/** jsonwebtoken's verify with the README's getKey callback, as a promise. */
function verify(token, client, options) {
  return new Promise((resolve, reject) => {
    const getKey = (header, callback) => {
      client.getSigningKey(header.kid, (err, key) => {
        // The README example ignores err and reads key.publicKey; passing err on is the only
        // change (otherwise an unknown kid throws a TypeError and kills the process).
        try {
          if (err) callback(err);
          else callback(null, key.getPublicKey());
        } catch (e) {
          reject(e); // never let a throw escape into jwks-rsa's callback (uncaught exception)
        }
      });
    };
    jwt.verify(token, getKey, options, (err, payload) => (err ? reject(err) : resolve(payload)));
  });
}

function createApp(config) {
  const discoveries = new Map();
  for (const t of config.tenants.values()) discoveries.set(t.slug, new glue.Discovery(t, config, clientFor(config)));

  async function handle(req, res) {
    try {
      const r = await glue.front(config, req, res);
      if (!r) return; // answered: /healthz, 404, 405, no credentials
      const tenant = glue.resolveTenant(config, r.slug, req);
      const d = await discoveries.get(tenant.slug).get();
      let payload;
      try {
        payload = await verify(r.token, d.lib, {
          audience: tenant.validAudiences,
          issuer: tenant.validIssuers ?? d.issuer,
          algorithms: ALGORITHMS,
          clockTolerance: config.clockSkewSeconds,
        });
      } catch (err) {
        throw glue.invalidToken(`jsonwebtoken: ${err?.name}: ${err?.message}`);
      }
      glue.answer(res, r.route, tenant, payload);
    } catch (err) {
      glue.sendError(res, err);
    }
  }

  return (req, res) => handle(req, res).catch((err) => glue.sendError(res, err));
}

if (require.main === module) glue.serve('lib-node-jsonwebtoken', createApp);
