'use strict';
// byoid target adapter: bearer-token validation with auth0/express-jwt and auth0/node-jwks-rsa's
// `expressJwtSecret`, configured as jwks-rsa's express-jwt example shows it
// (`expressjwt({ secret: expressJwtSecret({ cache, rateLimit, jwksRequestsPerMinute, jwksUri }),
// audience, issuer, algorithms })`), on Express.
//
// Speaks byoid-target/2 (docs/target-contract.md). Everything about the token itself (reading
// it from the Authorization header, signature, alg allow-list, exp/nbf, iss, aud, kid lookup,
// JWKS fetching and caching) is left to express-jwt, jsonwebtoken under it, and jwks-rsa, with
// their documented options. The glue, shared with lib-node-jsonwebtoken and node-jose in
// ../node-glue/glue.js (used here with its defaults), does only what they do not: tenant
// resolution, token transport and the RFC 6750 response table, reading the discovery
// document, `enabled`, the client-id allow-list, claim mappings and the admin role. Where the
// contract asks more of a token than the libraries check, nothing is added: that is what
// byoid's report is meant to show.
//
// One app serves many tenants, each with its own issuer and JWKS, and express-jwt takes both
// when the middleware is built. So each tenant gets its own middleware, built after the glue
// has read that tenant's discovery document, and the request's route calls the middleware of
// the tenant it resolved. See README.md.

const express = require('express');
const { expressjwt } = require('express-jwt');
const jwksRsa = require('jwks-rsa');
const glue = require('../node-glue/glue');

/** jwks-rsa's express-jwt example (examples/express-demo): `algorithms: ['RS256']`. */
const ALGORITHMS = ['RS256'];
/** The same example's value; jwks-rsa's own default is 10. */
const JWKS_REQUESTS_PER_MINUTE = 5;

/**
 * A tenant's express-jwt middleware, for glue.Discovery: built again whenever the discovery
 * document is read again (its issuer may have changed), while the `expressJwtSecret` (so the
 * JWKS client and its cache) is kept as long as the `jwks_uri` stays the same.
 */
function middlewareFor(tenant, config) {
  return ({ issuer, jwksUri }, prev) => {
    const secret =
      prev && prev.jwksUri === jwksUri
        ? prev.lib.secret
        : jwksRsa.expressJwtSecret({
            // As in the example: cache, rateLimit, jwksRequestsPerMinute, jwksUri.
            cache: true,
            rateLimit: true,
            jwksRequestsPerMinute: JWKS_REQUESTS_PER_MINUTE,
            jwksUri,
            // Added from EXAMPLES.md's documented options, because the manifest and the
            // contract give values: the cache window, a bounded fetch, the CA bundle.
            cacheMaxAge: config.jwksCacheSeconds * 1000,
            timeout: glue.FETCH_TIMEOUT_MS,
            ...(config.agent && jwksUri.startsWith('https:') ? { requestAgent: config.agent } : {}),
          });
    const middleware = expressjwt({
      secret,
      audience: tenant.validAudiences,
      issuer: tenant.validIssuers ?? issuer,
      algorithms: ALGORITHMS,
      // express-jwt passes its options on to jsonwebtoken's verify (its README: "Plus... all
      // the options available in the jsonwebtoken verify function").
      clockTolerance: config.clockSkewSeconds,
    });
    return { secret, middleware };
  };
}

function createApp(config) {
  const discoveries = new Map();
  for (const t of config.tenants.values()) discoveries.set(t.slug, new glue.Discovery(t, config, middlewareFor(t, config)));

  const app = express();
  app.disable('x-powered-by');

  // Glue: /healthz, the routes (404, 405), token transport (400; no credentials: 401 with
  // `Bearer realm="api"`). Express 5 passes a rejected promise on to the error handler.
  app.use(async (req, res, next) => {
    const r = await glue.front(config, req, res);
    if (r) {
      req.byoid = r;
      next();
    }
  });

  // Glue: the resolved tenant (401 when unknown, disabled or contradicted by agree_header), its
  // discovery document, then that tenant's own express-jwt middleware. express-jwt reads the
  // token from the Authorization header itself, its default; every error it passes on (a
  // header not `Bearer <token>` with one space, a token jsonwebtoken refuses, a JWKS failure
  // from jwks-rsa) rejects the token.
  app.use(async (req, res, next) => {
    const tenant = glue.resolveTenant(config, req.byoid.slug, req);
    const d = await discoveries.get(tenant.slug).get();
    req.byoid.tenant = tenant;
    d.lib.middleware(req, res, (err) => {
      if (err === undefined) return next();
      next(glue.invalidToken(`express-jwt: ${[err?.name, err?.code, err?.inner?.name, err?.message].filter(Boolean).join(': ')}`));
    });
  });

  // Glue: express-jwt's `req.auth`, then the client-id allow-list, claim mappings, admin role.
  app.use((req, res) => glue.answer(res, req.byoid.route, req.byoid.tenant, req.auth));

  // The RFC 6750 response table for every rejection; never a 5xx, never a reason.
  app.use((err, req, res, _next) => glue.sendError(res, err));

  return app;
}

if (require.main === module) glue.serve('lib-node-express-jwt', createApp);
