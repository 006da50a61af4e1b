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
//! * `entra-v2`: header `{"typ":"JWT","alg":"RS256","x5t":T,"kid":K}` (`T` the SHA-1 thumbprint
//!   of the key's certificate, as in the JWKS), claims
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
//! Entra (every flavor) and Auth0 JWKS keys carry `x5c` (a self-signed certificate of the key,
//! see [`keys::SigningKey::certificate_der`]) and `x5t` (its base64url SHA-1 thumbprint); the
//! others publish bare keys, as the vendors do.
//!
//! # Quirks and faults
//!
//! [`Quirks`] change what a tenant's tokens and JWKS look like (`typ`, `kid`, `alg`, clock
//! offset, lifetime, duplicate kids, `use: enc` keys, `Cache-Control`); [`Faults`] make its
//! endpoints fail (status, delay, malformed JSON, empty key set, reset, issuer mix-up, discovery
//! members left out). Both can be changed while running, by library call or by the admin API
//! under `/_admin/`.
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
//! tenant each. Tenants can be added while running with [`MockIdp::add_tenant`]. A tenant
//! made with [`TenantSpec::own_listener`] gets a listener (host and port) of its own.
//!
//! # HTTPS
//!
//! [`MockIdpBuilder::tls`] makes a fresh CA at start, signs a certificate for `127.0.0.1`,
//! `::1` and `localhost` with it, and serves every listener over TLS (rustls with aws-lc-rs).
//! Issuers and URLs then start with `https://`. Give the validator [`MockIdp::ca_pem`], or
//! the path of the same PEM, [`MockIdp::ca_pem_path`] (a temporary file removed when the
//! `MockIdp` is dropped); a client that trusts only its usual roots is refused.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), mock_idp::Error> {
//! use mock_idp::{Flavor, MockIdp, TenantSpec};
//! let idp = MockIdp::builder().tls().tenant(TenantSpec::new("acme", Flavor::Auth0)).start().await?;
//! assert!(idp.tenant("acme").unwrap().issuer().starts_with("https://127.0.0.1:"));
//! assert!(idp.ca_pem().starts_with("-----BEGIN CERTIFICATE-----"));
//! let ca_file = idp.ca_pem_path().expect("TLS on").to_path_buf();
//! drop(idp);
//! assert!(!ca_file.exists());
//! # Ok(()) }
//! ```
//!
//! # wiremock
//!
//! With the `wiremock` feature, the module `wiremock_support` mounts a flavor's discovery document
//! and JWKS on your own `wiremock::MockServer` and returns a [`Tenant`] whose issuer is on
//! that server, to mint genuine tokens with; the mocks answer from the live tenant (rotation,
//! quirks, faults) and take wiremock expectations such as `.expect(1)`. Without a server of
//! this crate at all, [`Tenant::detached`] gives a tenant for any base URL.

#![warn(missing_docs)]

// The modules stand in layers, each importing only those listed before it (and the crate
// root importing them all), so that none depends on the crate root or on a later one:
// error, journal, keys, forge, flavor, tenant, registry, tls, server, wiremock_support.
mod error;
pub mod flavor;
pub mod forge;
pub mod journal;
pub mod keys;
mod registry;
mod server;
mod tenant;
mod tls;
#[cfg(feature = "wiremock")]
pub mod wiremock_support;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

pub use error::Error;
pub use flavor::{Flavor, TokenKind};
pub use journal::{Endpoint, Entry, Journal, Traffic};
pub use server::{HEADER_READ_TIMEOUT, MAX_CONNECTIONS};
pub use tenant::{
    Client, Fault, Faults, KeyStatus, MintOptions, Quirks, RotationStep, Tenant, TenantSpec,
    TokenParts, TypQuirk,
};

use registry::TenantRegistry;
use server::{spawn_server, Listening, Shared};

/// Configures and starts a [`MockIdp`].
#[must_use = "a builder does nothing until `start` is awaited"]
#[derive(Debug)]
pub struct MockIdpBuilder {
    seed: u64,
    listen: SocketAddr,
    tenants: Vec<TenantSpec>,
    journal_capacity: usize,
    tls: bool,
    admin_token: Option<String>,
    header_read_timeout: std::time::Duration,
}

impl MockIdpBuilder {
    /// How long a client may take to send a request head before its connection is closed
    /// (default [`HEADER_READ_TIMEOUT`]).
    pub fn header_read_timeout(mut self, limit: std::time::Duration) -> Self {
        self.header_read_timeout = limit;
        self
    }
    /// Requires `Authorization: Bearer <token>` on every admin request (`/_admin/`). Without
    /// it the admin API still answers only loopback `Host` names and JSON bodies.
    pub fn admin_token(mut self, token: impl Into<String>) -> Self {
        self.admin_token = Some(token.into());
        self
    }
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
    /// Serves HTTPS instead of HTTP: at start the IdP makes a fresh CA and a certificate for
    /// `127.0.0.1`, `::1` and `localhost` signed by it, and serves every listener (the IdP's,
    /// own-listener tenants' and the attacker host's) with it. URLs and issuers then start
    /// with `https://`; clients must trust [`MockIdp::ca_pem`] (also written to
    /// [`MockIdp::ca_pem_path`]).
    pub fn tls(mut self) -> Self {
        self.tls = true;
        self
    }

    /// Binds the listeners (the IdP's and the attacker host's) and starts serving.
    pub async fn start(self) -> Result<MockIdp, Error> {
        let tls = if self.tls {
            Some(tls::Tls::generate()?)
        } else {
            None
        };
        let scheme = if tls.is_some() { "https" } else { "http" };
        let listener = tokio::net::TcpListener::bind(self.listen)
            .await
            .map_err(|source| Error::Bind {
                addr: self.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| Error::Bind {
            addr: self.listen,
            source,
        })?;
        let mut shared = Shared::new(
            TenantRegistry::new(format!("{scheme}://{addr}"), self.seed),
            self.journal_capacity,
        );
        shared.admin_token = self.admin_token;
        shared.header_read_timeout = self.header_read_timeout;
        let shared = Arc::new(shared);
        let acceptor = tls.as_ref().map(|t| t.acceptor.clone());
        let attacker = Attacker::start(self.seed, self.listen, acceptor.as_ref()).await?;
        let server =
            spawn_server(listener, shared.clone(), acceptor.as_ref()).map_err(|source| {
                Error::Bind {
                    addr: self.listen,
                    source,
                }
            })?;
        let idp = MockIdp {
            shared,
            addr,
            attacker,
            server,
            own_listeners: Mutex::default(),
            tls,
        };
        for spec in self.tenants {
            idp.add_tenant(spec)?;
        }
        Ok(idp)
    }
}

/// Running mock identity providers: one listener for every tenant, plus an attacker host.
/// Stops serving when dropped; [`MockIdp::stop`] also waits until every listener is closed.
#[derive(Debug)]
pub struct MockIdp {
    shared: Arc<Shared>,
    addr: SocketAddr,
    attacker: Attacker,
    server: Listening,
    /// The servers of own-listener tenants.
    own_listeners: Mutex<Vec<Listening>>,
    tls: Option<tls::Tls>,
}

impl MockIdp {
    /// A builder listening on `127.0.0.1:0` with seed 0 and no tenants.
    pub fn builder() -> MockIdpBuilder {
        MockIdpBuilder {
            seed: 0,
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            tenants: Vec::new(),
            journal_capacity: 8192,
            tls: false,
            admin_token: None,
            header_read_timeout: HEADER_READ_TIMEOUT,
        }
    }
    /// `http://127.0.0.1:PORT` (`https://` with [`MockIdpBuilder::tls`]).
    pub fn uri(&self) -> &str {
        &self.shared.registry.base
    }
    /// With [`MockIdpBuilder::tls`]: the PEM of the CA that signed the server certificate,
    /// the one certificate a client must trust. Without TLS: the empty string.
    pub fn ca_pem(&self) -> &str {
        self.tls.as_ref().map(|t| t.ca_pem.as_str()).unwrap_or("")
    }
    /// With [`MockIdpBuilder::tls`]: a temporary file holding [`MockIdp::ca_pem`], for
    /// validators configured with a CA bundle path. It is removed when the `MockIdp` is
    /// dropped. Without TLS: `None`.
    pub fn ca_pem_path(&self) -> Option<&Path> {
        self.tls.as_ref().map(|t| t.ca_path())
    }
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
    /// The tenant with this slug.
    pub fn tenant(&self, slug: &str) -> Option<Tenant> {
        self.shared.registry.tenant(slug)
    }
    /// Every tenant, by slug.
    pub fn tenants(&self) -> Vec<Tenant> {
        self.shared.registry.tenants()
    }
    /// Adds a tenant while running. A [`TenantSpec::own_listener`] tenant binds its listener
    /// here, so this must be called within a Tokio runtime for those.
    pub fn add_tenant(&self, spec: TenantSpec) -> Result<Tenant, Error> {
        if spec.jwks_plain_http && self.tls.is_some() {
            return self.add_tenant_with_plain_jwks(spec);
        }
        self.add_tenant_here_or_alone(&spec)
    }

    fn add_tenant_here_or_alone(&self, spec: &TenantSpec) -> Result<Tenant, Error> {
        if spec.own_listener {
            self.add_own_listener_tenant(spec)
        } else {
            self.shared.registry.add_tenant(spec)
        }
    }

    /// A listener of its own on the IP the IdP listens on, port 0, for `slug`'s use.
    fn bind_extra(&self, slug: &str) -> Result<(tokio::net::TcpListener, SocketAddr), Error> {
        let handle = tokio::runtime::Handle::try_current().map_err(|_| {
            Error::InvalidTenant(format!(
                "tenant `{slug}`: an own listener can only be started within a Tokio runtime"
            ))
        })?;
        let _entered = handle.enter();
        let want = SocketAddr::new(self.addr.ip(), 0);
        let bind_err = |source| Error::Bind { addr: want, source };
        let std_listener = std::net::TcpListener::bind(want).map_err(bind_err)?;
        std_listener.set_nonblocking(true).map_err(bind_err)?;
        let listener = tokio::net::TcpListener::from_std(std_listener).map_err(bind_err)?;
        let local = listener.local_addr().map_err(bind_err)?;
        Ok((listener, local))
    }

    fn serve_extra(
        &self,
        listener: tokio::net::TcpListener,
        shared: Arc<Shared>,
        acceptor: Option<&tokio_rustls::TlsAcceptor>,
    ) -> Result<(), Error> {
        let addr = listener.local_addr().unwrap_or(self.addr);
        let server = spawn_server(listener, shared, acceptor)
            .map_err(|source| Error::Bind { addr, source })?;
        self.own_listeners
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(server);
        Ok(())
    }

    fn add_own_listener_tenant(&self, spec: &TenantSpec) -> Result<Tenant, Error> {
        self.shared.registry.check_unused(&spec.slug)?;
        let (listener, local) = self.bind_extra(&spec.slug)?;
        let tls = self.tls.as_ref().filter(|_| !spec.plain_http);
        let scheme = if tls.is_some() { "https" } else { "http" };
        let sibling = Arc::new(self.shared.sibling(format!("{scheme}://{local}")));
        let tenant = sibling.registry.add_tenant(spec)?;
        self.shared.registry.adopt(&tenant)?;
        self.serve_extra(listener, sibling, tls.map(|t| &t.acceptor))?;
        Ok(tenant)
    }

    /// [`TenantSpec::jwks_over_plain_http`] under TLS: the tenant as usual, and a plain-HTTP
    /// listener of its own that serves its JWKS.
    fn add_tenant_with_plain_jwks(&self, mut spec: TenantSpec) -> Result<Tenant, Error> {
        if spec.flavor == Flavor::EntraCommon || spec.directory_of.is_some() {
            return Err(Error::InvalidTenant(format!(
                "tenant `{}`: a plain-HTTP JWKS is for tenants that serve their own documents",
                spec.slug
            )));
        }
        self.shared.registry.check_unused(&spec.slug)?;
        let (listener, local) = self.bind_extra(&spec.slug)?;
        let base = format!("http://{local}");
        spec.jwks_base = Some(base.clone());
        let tenant = self.add_tenant_here_or_alone(&spec)?;
        let plain = Arc::new(self.shared.sibling(base));
        plain.registry.serve_jwks_of(&tenant);
        self.serve_extra(listener, plain, None)?;
        Ok(tenant)
    }
    /// The journal of this IdP's listener (and its own-listener tenants' listeners).
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
    /// Stops serving and returns once every listener of the IdP (its own, those of
    /// own-listener tenants and the attacker host's) is closed and every connection they
    /// accepted has ended: a request sent after this fails. Dropping a `MockIdp` stops it
    /// too, without waiting.
    pub async fn stop(self) {
        let MockIdp {
            server,
            own_listeners,
            attacker,
            ..
        } = self;
        server.stop().await;
        for listening in own_listeners
            .into_inner()
            .unwrap_or_else(|e| e.into_inner())
        {
            listening.stop().await;
        }
        attacker.server.stop().await;
    }
}

/// A host no tenant trusts: it serves a JWKS of keys no tenant publishes and counts every
/// request, so a test can assert that a validator never contacted it.
#[derive(Debug)]
pub struct Attacker {
    shared: Arc<Shared>,
    tenant: Tenant,
    server: Listening,
}

impl Attacker {
    async fn start(
        seed: u64,
        listen: SocketAddr,
        acceptor: Option<&tokio_rustls::TlsAcceptor>,
    ) -> Result<Attacker, Error> {
        let addr = SocketAddr::new(listen.ip(), 0);
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| Error::Bind { addr, source })?;
        let local = listener
            .local_addr()
            .map_err(|source| Error::Bind { addr, source })?;
        let scheme = if acceptor.is_some() { "https" } else { "http" };
        let mut registry = TenantRegistry::new(format!("{scheme}://{local}"), seed);
        let tenant =
            registry.add_tenant(&TenantSpec::new("attacker", Flavor::Generic).roles(["admin"]))?;
        registry.set_catch_all(&tenant);
        let shared = Arc::new(Shared::new(registry, 1024));
        let server = spawn_server(listener, shared.clone(), acceptor)
            .map_err(|source| Error::Bind { addr, source })?;
        Ok(Attacker {
            shared,
            tenant,
            server,
        })
    }
    /// `http://127.0.0.1:PORT` of the attacker host (`https://` when the IdP serves TLS,
    /// with the same CA).
    pub fn uri(&self) -> &str {
        &self.shared.registry.base
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
