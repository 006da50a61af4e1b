//! Mock OpenID Connect identity providers that behave like Microsoft Entra ID (v1, v2 and the
//! multi-tenant `common` metadata), Okta and Auth0, plus a plain RFC 9068 issuer, for testing
//! BYOID ("bring your own identity") access-token validators over real HTTP.
//!
//! It is not a general OAuth server: it serves discovery, JWKS and a client-credentials token
//! endpoint, mints genuine tokens by library call, and misbehaves on demand. It records what
//! each validator fetched so a test can judge caching, refetch storms and SSRF.
//!
//! # Getting started
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), mock_idp::Error> {
//! use mock_idp::{Flavor, MockIdp, TenantSpec};
//!
//! // One listener on 127.0.0.1, one tenant per flavor you ask for.
//! let idp = MockIdp::builder()
//!     .tenant(TenantSpec::new("contoso", Flavor::EntraV2).roles(["admin"]))
//!     .tenant(TenantSpec::new("initech", Flavor::Okta))
//!     .start()
//!     .await?;
//!
//! let contoso = idp.tenant("contoso").expect("configured above");
//! assert!(contoso.discovery_url().ends_with("/v2.0/.well-known/openid-configuration"));
//! let token = contoso.access_token(); // a genuine, signed v2 access token
//! assert_eq!(token.split('.').count(), 3);
//! assert_eq!(contoso.traffic().jwks, 0); // nothing fetched yet
//! # Ok(()) }
//! ```
//!
//! # Flavors
//!
//! See [`Flavor`]. Decoded samples of each flavor's app-only access token (times shortened):
//!
//! * `entra-v2`: header `{"typ":"JWT","alg":"RS256","x5t":K,"kid":K}`, claims
//!   `{"aud":"6f1c1e8a-…","iss":"http://127.0.0.1:P/{tid}/v2.0","iat":…,"nbf":…,"exp":…,"aio":…,
//!   "azp":"{client guid}","azpacr":"1","oid":…,"rh":…,"roles":["admin"],"sub":…,"tid":"{tid}",
//!   "uti":…,"ver":"2.0"}`.
//! * `entra-v1`: issuer `http://127.0.0.1:P/sts/{tid}/` (the `sts.windows.net` style, trailing
//!   slash), `aud` the App ID URI `api://byoid-resource`, `appid`, `appidacr`, `idp`, `ver":"1.0"`.
//! * `entra-common`: tokens as `entra-v2`; the tenant's discovery URL is the shared
//!   `/common/v2.0/.well-known/openid-configuration` whose `issuer` is the literal template
//!   `http://127.0.0.1:P/{tenantid}/v2.0`; every Entra tenant signs with the same keys.
//! * `okta`: header `{"kid":K,"alg":"RS256"}` (no `typ`), claims `{"ver":1,"jti":"AT.…",
//!   "iss":"http://127.0.0.1:P/{slug}/oauth2/default","aud":"api://byoid","iat":…,"exp":…,
//!   "cid":"0oa…","scp":["api.read"],"sub":"0oa…"}`, `uid` on user tokens, `groups` for roles.
//! * `auth0`: header `{"typ":"JWT","alg":"RS256","kid":K}`, claims
//!   `{"https://byoid.test/roles":[…],"iss":"http://127.0.0.1:P/{slug}/","sub":"{client}@clients",
//!   "aud":"https://api.byoid.test/","iat":…,"exp":…,"scope":"read:data",
//!   "gty":"client-credentials","azp":…,"permissions":["read:data"]}`; with
//!   [`Quirks::rfc9068_profile`] `typ` is `at+jwt` and `jti`, `client_id` are added.
//! * `generic`: header `{"typ":"at+jwt","alg":"RS256","kid":K}`, claims
//!   `{"iss","exp","aud","sub","client_id","iat","jti","scope"}` as RFC 9068 section 2.2 lists.
//!
//! # Quirks and faults
//!
//! [`Quirks`] change what a tenant's tokens and JWKS look like (`typ`, `kid`, `alg`, clock
//! offset, lifetime, duplicate kids, `use: enc` keys, `Cache-Control`); [`Faults`] make its
//! endpoints fail (status, delay, malformed JSON, empty key set, reset, issuer mix-up). Both
//! can be changed while running, by library call or by the admin API under `/_admin/`.
//! [`Tenant::rotate`] moves keys through published, active, previous and retired.
//!
//! # Recorded traffic
//!
//! [`Tenant::traffic`] counts requests per endpoint without locks; [`Journal`] keeps a bounded
//! list of recent requests. The [`Attacker`] host serves keys no tenant publishes; its counts
//! show whether a validator ever followed a `jku` or `x5u`.
//!
//! # Isolation
//!
//! Each tenant lives under its own paths, so tests can run in parallel on one listener, one
//! tenant each. Tenants can be added while running with [`MockIdp::add_tenant`].

#![warn(missing_docs)]

pub mod flavor;
pub mod forge;
pub mod journal;
pub mod keys;
mod server;
mod tenant;
#[cfg(feature = "wiremock")]
pub mod wiremock_support;

use std::net::SocketAddr;
use std::sync::Arc;

pub use flavor::{Flavor, TokenKind};
pub use journal::{Endpoint, Entry, Journal, Traffic};
pub use tenant::{
    Client, Fault, Faults, KeyStatus, MintOptions, Quirks, RotationStep, Tenant, TenantSpec, TokenParts, TypQuirk,
};

/// What went wrong starting or changing a mock IdP.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// A tenant could not be added.
    #[error("invalid tenant: {0}")]
    InvalidTenant(String),
}

/// Configures and starts a [`MockIdp`].
#[must_use = "a builder does nothing until `start` is awaited"]
#[derive(Debug)]
pub struct MockIdpBuilder {
    seed: u64,
    listen: SocketAddr,
    tenants: Vec<TenantSpec>,
    journal_capacity: usize,
}

impl MockIdpBuilder {
    /// Derives every key from this seed (default 0): the same seed gives the same keys.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
    /// Listens here instead of `127.0.0.1:0`.
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }
    /// Adds a tenant.
    pub fn tenant(mut self, spec: TenantSpec) -> Self {
        self.tenants.push(spec);
        self
    }
    /// How many recent requests the journal keeps (default 8192).
    pub fn journal_capacity(mut self, n: usize) -> Self {
        self.journal_capacity = n;
        self
    }

    /// Binds the listeners (the IdP's and the attacker host's) and starts serving.
    pub async fn start(self) -> Result<MockIdp, Error> {
        let listener =
            tokio::net::TcpListener::bind(self.listen).await.map_err(|source| Error::Bind { addr: self.listen, source })?;
        let addr = listener.local_addr().map_err(|source| Error::Bind { addr: self.listen, source })?;
        let shared = Arc::new(server::Shared::new(format!("http://{addr}"), self.seed, self.journal_capacity));
        for spec in &self.tenants {
            shared.add_tenant(spec)?;
        }
        let attacker = Attacker::start(self.seed, self.listen).await?;
        let task = tokio::spawn(serve(listener, server::router(shared.clone())));
        Ok(MockIdp { shared, addr, attacker, task })
    }
}

async fn serve(listener: tokio::net::TcpListener, router: axum::Router) {
    // Errors here end the server; the owner sees it as refused connections, which the
    // harness reports as an IdP outage rather than a panic.
    let _ = axum::serve(listener, router).await;
}

/// Running mock identity providers: one listener for every tenant, plus an attacker host.
/// Stops serving when dropped.
#[derive(Debug)]
pub struct MockIdp {
    shared: Arc<server::Shared>,
    addr: SocketAddr,
    attacker: Attacker,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for server::Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").field("base", &self.base).finish()
    }
}

impl MockIdp {
    /// A builder listening on `127.0.0.1:0` with seed 0 and no tenants.
    pub fn builder() -> MockIdpBuilder {
        MockIdpBuilder {
            seed: 0,
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            tenants: Vec::new(),
            journal_capacity: 8192,
        }
    }
    /// `http://127.0.0.1:PORT`.
    pub fn uri(&self) -> &str {
        &self.shared.base
    }
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
    /// The tenant with this slug.
    pub fn tenant(&self, slug: &str) -> Option<Tenant> {
        self.shared.tenant(slug)
    }
    /// Every tenant, by slug.
    pub fn tenants(&self) -> Vec<Tenant> {
        self.shared.tenants()
    }
    /// Adds a tenant while running.
    pub fn add_tenant(&self, spec: TenantSpec) -> Result<Tenant, Error> {
        self.shared.add_tenant(&spec)
    }
    /// The journal of this listener.
    pub fn journal(&self) -> &Journal {
        &self.shared.journal
    }
    /// The attacker host.
    pub fn attacker(&self) -> &Attacker {
        &self.attacker
    }
    /// A JSON description of a tenant (slug, flavor, URLs, audience, clients).
    pub fn describe(tenant: &Tenant) -> serde_json::Value {
        server::describe(tenant)
    }
}

impl Drop for MockIdp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A host no tenant trusts: it serves a JWKS of keys no tenant publishes and counts every
/// request, so a test can assert that a validator never contacted it.
#[derive(Debug)]
pub struct Attacker {
    shared: Arc<server::Shared>,
    tenant: Tenant,
    task: tokio::task::JoinHandle<()>,
}

impl Attacker {
    async fn start(seed: u64, listen: SocketAddr) -> Result<Attacker, Error> {
        let addr = SocketAddr::new(listen.ip(), 0);
        let listener = tokio::net::TcpListener::bind(addr).await.map_err(|source| Error::Bind { addr, source })?;
        let local = listener.local_addr().map_err(|source| Error::Bind { addr, source })?;
        let mut shared = server::Shared::new(format!("http://{local}"), seed, 1024);
        let tenant = shared.add_tenant(&TenantSpec::new("attacker", Flavor::Generic).roles(["admin"]))?;
        shared.set_catch_all(&tenant);
        let shared = Arc::new(shared);
        let task = tokio::spawn(serve(listener, server::router(shared.clone())));
        Ok(Attacker { shared, tenant, task })
    }
    /// `http://127.0.0.1:PORT` of the attacker host.
    pub fn uri(&self) -> &str {
        &self.shared.base
    }
    /// The attacker's JWKS URL.
    pub fn jwks_url(&self) -> String {
        self.tenant.jwks_url()
    }
    /// The attacker as a tenant (its keys, its issuer).
    pub fn tenant(&self) -> &Tenant {
        &self.tenant
    }
    /// Every request the attacker host received, whatever the path.
    pub fn requests(&self) -> u64 {
        self.shared.journal.total()
    }
    /// The attacker host's journal.
    pub fn journal(&self) -> &Journal {
        &self.shared.journal
    }
}

impl Drop for Attacker {
    fn drop(&mut self) {
        self.task.abort();
    }
}
