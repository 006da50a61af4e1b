//! Shared helpers for the byoid criterion benches (see `benches/README.md`).
//!
//! * [`Client`]: a fixed set of keep-alive HTTP/1.1 connections (hyper's `client::conn::http1`
//!   over kept `TcpStream`s) driven concurrently, one request in flight per connection. Every
//!   comparison in the benches ("reference vs bare", "mock IdP vs bare") uses this same client
//!   with the same connection count against both servers, in the same process and run.
//! * [`bare_bytes_server`], [`bare_verify_server`] and [`bare_jsonwebtoken_server`]: the "bare"
//!   baselines, a handler that does the minimum (return fixed bytes; RS256-verify the bearer
//!   token) and nothing else.
//! * [`generic_idp`], [`reference_manifest`], [`mint_pool`]: one generic RFC 9068 tenant, the
//!   reference validator's manifest for it, and a pool of distinct genuine tokens;
//!   [`reference_server`] and [`warmed_client`] serve the reference and connect to it.
//! * [`vm_rss_kib`]: this process's resident set size, from `/proc/self/status`.
//!
//! Everything binds `127.0.0.1` only, and every load loop is bounded by a request count and
//! a deadline.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::{header, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// The header the benches' reference manifest names tenants with.
pub const TENANT_HEADER: &str = "X-Tenant-Slug";
/// The slug of the one generic tenant the benches use.
pub const TENANT: &str = "bench";

/// A multi-threaded tokio runtime with one worker per available core (2 on the CI box).
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(std::thread::available_parallelism().map_or(2, |n| n.get()))
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Pins the calling thread to CPU `cpu`; `false` where that is not possible.
fn pin_to_cpu(cpu: usize) -> bool {
    // SAFETY: a zeroed cpu_set_t is the empty set; CPU_SET and sched_setaffinity
    // only read and write the set we own.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) == 0
    }
}

/// A runtime with one worker, pinned to CPU `cpu`; `on_start` runs on the worker
/// when it starts (after pinning).
///
/// A load test measures a server's rate only when the load client does not take
/// the server's CPU: [`server_and_client_runtimes`] gives each its own core.
fn pinned_runtime(
    cpu: usize,
    name: &str,
    on_start: impl Fn() + Send + Sync + 'static,
) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name(name)
        .on_thread_start(move || {
            assert!(pin_to_cpu(cpu), "cannot pin a thread to CPU {cpu}");
            on_start();
        })
        .enable_all()
        .build()
        .expect("pinned runtime")
}

/// The servers' runtime (one worker on CPU 1; `on_server_start` runs on it when it
/// starts) and the load client's (one worker on CPU 0, with the calling thread, which
/// drives it, pinned there too), or `None` on a machine with fewer than two cores.
pub fn server_and_client_runtimes(
    on_server_start: impl Fn() + Send + Sync + 'static,
) -> Option<(tokio::runtime::Runtime, tokio::runtime::Runtime)> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cores < 2 || !pin_to_cpu(0) {
        return None;
    }
    Some((
        pinned_runtime(1, "bench-server", on_server_start),
        pinned_runtime(0, "bench-client", || {}),
    ))
}

/// Builds the `i`-th request of a load run.
pub type MakeRequest = Arc<dyn Fn(usize) -> Request<Full<Bytes>> + Send + Sync>;

/// What a load run did.
#[derive(Clone, Debug, Default)]
pub struct Load {
    /// Wall time from the first request sent to the last response read.
    pub elapsed: Duration,
    /// Responses read (any status).
    pub done: usize,
    /// Responses with the expected status.
    pub expected: usize,
    /// The first unexpected status seen, if any.
    pub first_unexpected: Option<StatusCode>,
    /// Connection errors (the connection is dropped after one).
    pub errors: usize,
}

impl Load {
    /// Requests per second.
    pub fn rate(&self) -> f64 {
        self.done as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
    /// Panics unless every request got the expected status: a throughput figure for the
    /// wrong answer is worthless.
    pub fn assert_all_expected(&self, what: &str) {
        assert!(
            self.errors == 0 && self.expected == self.done && self.done > 0,
            "{what}: {} of {} responses as expected, {} connection errors, first unexpected status {:?}",
            self.expected,
            self.done,
            self.errors,
            self.first_unexpected
        );
    }
}

/// A fixed set of keep-alive HTTP/1.1 connections to one server.
pub struct Client {
    addr: SocketAddr,
    conns: Vec<SendRequest<Full<Bytes>>>,
}

impl Client {
    /// Opens `n` connections to `addr`.
    pub async fn connect(addr: SocketAddr, n: usize) -> std::io::Result<Client> {
        let mut conns = Vec::with_capacity(n);
        for _ in 0..n {
            conns.push(open(addr).await?);
        }
        Ok(Client { addr, conns })
    }

    /// The server's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Sends up to `count` requests, `make(i)` for `i` in `0..count`, spread over the
    /// connections (each sends its next request as soon as its previous response is read),
    /// stopping early at `limit`. Responses are read in full. A connection that fails is
    /// reopened for the next run.
    pub async fn run(
        &mut self,
        count: usize,
        limit: Duration,
        expect: StatusCode,
        make: MakeRequest,
    ) -> Load {
        let next = Arc::new(AtomicUsize::new(0));
        let started = Instant::now();
        let deadline = started + limit;
        let mut tasks = Vec::with_capacity(self.conns.len());
        for mut send in std::mem::take(&mut self.conns) {
            let next = next.clone();
            let make = make.clone();
            tasks.push(tokio::spawn(async move {
                let mut load = Load::default();
                let mut alive = true;
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= count || Instant::now() >= deadline {
                        break;
                    }
                    match roundtrip(&mut send, make(i)).await {
                        Ok(status) => {
                            load.done += 1;
                            if status == expect {
                                load.expected += 1;
                            } else if load.first_unexpected.is_none() {
                                load.first_unexpected = Some(status);
                            }
                        }
                        Err(_) => {
                            load.errors += 1;
                            alive = false;
                            break;
                        }
                    }
                }
                (alive.then_some(send), load)
            }));
        }
        let mut total = Load::default();
        let mut dead = 0;
        for t in tasks {
            let (send, load) = t.await.expect("load task");
            match send {
                Some(s) => self.conns.push(s),
                None => dead += 1,
            }
            total.done += load.done;
            total.expected += load.expected;
            total.errors += load.errors;
            total.first_unexpected = total.first_unexpected.or(load.first_unexpected);
        }
        total.elapsed = started.elapsed();
        for _ in 0..dead {
            if let Ok(s) = open(self.addr).await {
                self.conns.push(s);
            }
        }
        total
    }
}

async fn open(addr: SocketAddr) -> std::io::Result<SendRequest<Full<Bytes>>> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(std::io::Error::other)?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(send)
}

async fn roundtrip(
    send: &mut SendRequest<Full<Bytes>>,
    req: Request<Full<Bytes>>,
) -> Result<StatusCode, hyper::Error> {
    send.ready().await?;
    let resp = send.send_request(req).await?;
    let status = resp.status();
    // Read the whole body so the connection can carry the next request.
    resp.into_body().collect().await?;
    Ok(status)
}

/// Sends one request on a new connection and returns the status and the whole body.
pub async fn fetch(
    addr: SocketAddr,
    req: Request<Full<Bytes>>,
) -> Result<(StatusCode, Bytes), hyper::Error> {
    let mut send = open(addr).await.expect("connect");
    send.ready().await?;
    let resp = send.send_request(req).await?;
    let status = resp.status();
    Ok((status, resp.into_body().collect().await?.to_bytes()))
}

/// A `GET path` request with a `Host` header.
pub fn get(addr: SocketAddr, path: &str) -> Request<Full<Bytes>> {
    Request::get(path)
        .header(header::HOST, addr.to_string())
        .body(Full::new(Bytes::new()))
        .expect("request")
}

/// `GET /api/whoami` with `Authorization: Bearer token` and the tenant header, as the
/// reference validator expects (the bare verify server ignores the path and tenant).
pub fn whoami(addr: SocketAddr, token: &str) -> Request<Full<Bytes>> {
    Request::get("/api/whoami")
        .header(header::HOST, addr.to_string())
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(TENANT_HEADER, TENANT)
        .body(Full::new(Bytes::new()))
        .expect("request")
}

/// The path and query of an absolute `http://host:port/path` URL.
pub fn path_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.find('/')
        .map_or_else(|| "/".to_string(), |i| rest[i..].to_string())
}

/// A running server task; aborted when dropped.
pub struct Server {
    /// Where it listens.
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Server {
    /// Runs `serve` (which serves on `addr`) as a task of the current runtime.
    pub fn spawn(
        addr: SocketAddr,
        serve: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Server {
        Server {
            addr,
            task: tokio::spawn(serve),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The reference validator with `config`, served on 127.0.0.1:0 by a task of the current
/// runtime (`byoid_reference::serve`, as its binary runs it).
pub async fn reference_server(config: byoid_reference::Config) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1");
    let addr = listener.local_addr().expect("local addr");
    Server::spawn(addr, async move {
        let _ = byoid_reference::serve(listener, config).await;
    })
}

/// `conns` connections to the reference at `addr`, after one `whoami` with `token` answered
/// 200 (untimed: the first request makes the validator fetch discovery and the JWKS).
pub async fn warmed_client(addr: SocketAddr, conns: usize, token: &str) -> Client {
    let mut client = Client::connect(addr, conns)
        .await
        .expect("connect to the reference");
    let token = token.to_owned();
    client
        .run(
            1,
            Duration::from_secs(60),
            StatusCode::OK,
            Arc::new(move |_| whoami(addr, &token)),
        )
        .await
        .assert_all_expected("reference warm-up");
    client
}

/// Serves `app` with `axum::serve` on 127.0.0.1:0, as `byoid_reference::serve` serves the
/// reference: the same HTTP stack on both sides of every ratio.
async fn axum_server(app: axum::Router) -> Server {
    use axum::serve::ListenerExt;
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1");
    let addr = listener.local_addr().expect("local addr");
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Server { addr, task }
}

/// The bare JWKS baseline: an axum `Router` with one route, `GET /jwks`, answering
/// `bytes` as `application/json` (the same bytes the mock IdP serves).
pub async fn bare_bytes_server(bytes: Bytes) -> Server {
    use axum::routing::get;
    axum_server(axum::Router::new().route(
        "/jwks",
        get(move || {
            let b = bytes.clone();
            async move { ([(header::CONTENT_TYPE, "application/json")], b) }
        }),
    ))
    .await
}

/// The bare verify baseline: an axum server (the reference's stack) with one handler that
/// takes the bearer token, checks its RS256 signature on `key` and answers 200 `{}` or 401.
/// No claim checks, no JSON parsing, no cache: the least a validator can do. The check is the
/// reference validator's own ([`byoid_reference::prepared_key::PreparedKey`]: aws-lc-rs on a
/// key parsed once), so that the reference's ratio to this server counts only what it does
/// besides.
pub async fn bare_verify_server(key: byoid_reference::prepared_key::PreparedKey) -> Server {
    bare_bearer_server(BareCheck::Prepared(Box::new(key))).await
}

/// The same bare server checking with `jsonwebtoken::crypto::verify`, which rebuilds the key
/// on every call: what a validator that calls jsonwebtoken per request does.
pub async fn bare_jsonwebtoken_server(key: jsonwebtoken::DecodingKey) -> Server {
    bare_bearer_server(BareCheck::Jsonwebtoken(key)).await
}

/// The HTTP floor: the same bare server, accepting any bearer token without verifying it.
/// `bare_verify_server`'s rate minus this one's is what the RS256 check costs over HTTP.
pub async fn bare_accept_server() -> Server {
    bare_bearer_server(BareCheck::None).await
}

/// What a bare server checks of the bearer token.
enum BareCheck {
    None,
    Jsonwebtoken(jsonwebtoken::DecodingKey),
    Prepared(Box<byoid_reference::prepared_key::PreparedKey>),
}

async fn bare_bearer_server(check: BareCheck) -> Server {
    let check = Arc::new(check);
    let handler = move |headers: axum::http::HeaderMap| {
        let ok = bare_verify(&check, &headers);
        async move {
            if ok {
                (StatusCode::OK, "{}")
            } else {
                (StatusCode::UNAUTHORIZED, "")
            }
        }
    };
    axum_server(axum::Router::new().fallback(handler)).await
}

fn bare_verify(check: &BareCheck, headers: &axum::http::HeaderMap) -> bool {
    let Some(token) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return false;
    };
    let Some((input, sig)) = token.rsplit_once('.') else {
        return false;
    };
    match check {
        BareCheck::None => true,
        BareCheck::Jsonwebtoken(key) => {
            jsonwebtoken::crypto::verify(sig, input.as_bytes(), key, jsonwebtoken::Algorithm::RS256)
                .unwrap_or(false)
        }
        BareCheck::Prepared(key) => {
            key.verify(input, sig, byoid_reference::checks::Algorithm::RS256)
        }
    }
}

/// The reference validator's prepared key of a public JWK (as the mock IdP publishes it).
pub fn prepared_key(jwk: &serde_json::Value) -> byoid_reference::prepared_key::PreparedKey {
    byoid_reference::jwks::Jwk::parse(jwk)
        .expect("usable JWK")
        .key
}

/// The `DecodingKey` of a public JWK (as the mock IdP publishes it).
pub fn decoding_key(jwk: &serde_json::Value) -> jsonwebtoken::DecodingKey {
    let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(jwk.clone()).expect("JWK");
    jsonwebtoken::DecodingKey::from_jwk(&jwk).expect("decoding key")
}

/// A mock IdP (seed 0) with one generic RFC 9068 tenant, [`TENANT`], signing RS256.
pub async fn generic_idp() -> (mock_idp::MockIdp, mock_idp::Tenant) {
    let idp = mock_idp::MockIdp::builder()
        .tenant(mock_idp::TenantSpec::new(TENANT, mock_idp::Flavor::Generic).roles(["admin"]))
        .start()
        .await
        .expect("mock IdP");
    let tenant = idp.tenant(TENANT).expect("the bench tenant");
    (idp, tenant)
}

/// The reference validator's manifest for `tenant`: header tenant source, one tenant.
pub fn reference_manifest(tenant: &mock_idp::Tenant) -> byoid_reference::Manifest {
    let json = serde_json::json!({
        "tenant_source": {"kind": "header", "header": TENANT_HEADER},
        "tenants": [{
            "slug": TENANT,
            "metadata_address": tenant.discovery_url(),
            "valid_audiences": [tenant.audience()],
        }],
    });
    byoid_reference::Manifest::from_json(&json.to_string()).expect("bench manifest")
}

/// `n` distinct genuine access tokens (each ~1 ms of RSA signing), minted on every core.
pub fn mint_pool(tenant: &mock_idp::Tenant, n: usize) -> Vec<String> {
    let threads = std::thread::available_parallelism()
        .map_or(2, |t| t.get())
        .max(1);
    let per = n.div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|i| {
                let tenant = tenant.clone();
                let k = per.min(n.saturating_sub(i * per));
                s.spawn(move || (0..k).map(|_| tenant.access_token()).collect::<Vec<_>>())
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("mint thread"))
            .collect()
    })
}

/// Requests and timed wall time per named measurement, summed over every `iter_custom`
/// batch of this run (warm-up included), so a bench can print ratios between two
/// measurements taken in the same run with the same client.
static RATES: std::sync::Mutex<std::collections::BTreeMap<String, (u64, Duration)>> =
    std::sync::Mutex::new(std::collections::BTreeMap::new());

/// Adds `n` requests done in `elapsed` to the measurement `name`.
pub fn record(name: &str, n: u64, elapsed: Duration) {
    let mut m = RATES.lock().unwrap_or_else(|e| e.into_inner());
    let e = m.entry(name.to_string()).or_default();
    e.0 += n;
    e.1 += elapsed;
}

/// Requests per second of the measurement `name` so far, if it ran.
pub fn rate(name: &str) -> Option<f64> {
    let m = RATES.lock().unwrap_or_else(|e| e.into_inner());
    m.get(name)
        .filter(|(n, t)| *n > 0 && !t.is_zero())
        .map(|(n, t)| *n as f64 / t.as_secs_f64())
}

/// Prints `label: a/b = ratio (note)` when both measurements ran in this process.
pub fn print_ratio(label: &str, a: &str, b: &str, note: &str) {
    match (rate(a), rate(b)) {
        (Some(x), Some(y)) => println!(
            "{label}: {a} {x:.0}/s / {b} {y:.0}/s = {:.2}x ({note})",
            x / y
        ),
        _ => println!("{label}: not measured in this run (needs both {a} and {b})"),
    }
}

/// Sums of alternating ("paired") rounds of two measurements, A and B.
///
/// Criterion measures one benchmark after another, so on a shared, noisy machine a burst of
/// someone else's load can land on one side of a comparison only. Alternating short rounds of
/// A and B (A first in even rounds, B first in odd ones) spreads that noise over both sides.
#[derive(Clone, Debug, Default)]
pub struct Paired {
    /// Requests and time of A.
    pub a: (u64, Duration),
    /// Requests and time of B.
    pub b: (u64, Duration),
}

impl Paired {
    /// Adds one round of A.
    pub fn add_a(&mut self, l: &Load) {
        self.a.0 += l.done as u64;
        self.a.1 += l.elapsed;
    }
    /// Adds one round of B.
    pub fn add_b(&mut self, l: &Load) {
        self.b.0 += l.done as u64;
        self.b.1 += l.elapsed;
    }
    /// Prints `label: A x/s / B y/s = ratio`.
    pub fn print(&self, label: &str, note: &str) {
        let ra = self.a.0 as f64 / self.a.1.as_secs_f64().max(1e-9);
        let rb = self.b.0 as f64 / self.b.1.as_secs_f64().max(1e-9);
        println!(
            "{label} (paired rounds): {ra:.0}/s / {rb:.0}/s = {:.2}x ({note})",
            ra / rb
        );
    }
}

/// `VmRSS` of this process in KiB, from `/proc/self/status` (Linux only; `None` elsewhere).
pub fn vm_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
