//! The reference validator's verify path (`byoid-reference`), in process and over HTTP.
//!
//! What it measures, and why:
//!
//! * `reference/in_process/*`: one `Validator::validate` call (no HTTP) for a genuine RS256
//!   token whose signing key is already cached: `distinct_token` is the full pipeline (parse,
//!   header checks, key selection, RSA verify, claim checks, mappings, cache insert) because
//!   each token is new; `cached_token` repeats one token (verified-token cache hit);
//!   `bare_verify` is the reference's signature check alone (aws-lc-rs on a key parsed once),
//!   the floor: the gap between `distinct_token` and it is what the validator's own checks
//!   cost. `bare_jsonwebtoken_verify` is `jsonwebtoken::crypto::verify`, which rebuilds the key
//!   on every call. `claims_json_object` vs `claims_serde_json_map`: one token's claims read by
//!   the reference's strict scanner, and by serde_json into a map (without the scanner's
//!   duplicate-member check): what the scanner saves on every distinct token.
//! * `reference/http/*`: validated requests per second through the whole HTTP stack (bearer
//!   extraction, tenant resolution, validation, JSON answer) with 8 keep-alive connections from
//!   one hyper client, against a bare axum server (the reference's own stack) that only checks
//!   the bearer token's RS256 signature, the same check as the reference's. Same run, same client, same connection
//!   count, same tokens.
//!   - `reference_distinct` vs `bare_verify`: every token distinct (a pool of genuine tokens
//!     minted before timing; the server is restarted, untimed, before the pool would repeat),
//!     so the verified-token cache never hits. Goal: >= 0.9x the bare server.
//!   - `reference_repeated` vs `bare_verify`: one token over and over, so every request is a
//!     verified-token cache hit. Goal: >= 2x the bare server (which verifies every time). No
//!     server can beat `bare_http_floor` (the bare server without the check), so
//!     `bare_http_floor / bare_verify` is this ratio's ceiling, and it is printed too.
//!   - `bare_jsonwebtoken`: the bare server with `jsonwebtoken::crypto::verify`, for context:
//!     the reference against a validator that calls jsonwebtoken per request.
//!   - `reject_bad_signature` / `reject_unknown_kid`: rejection rates (401) for a token whose
//!     signature has one bit flipped, and for a correctly signed token whose `kid` the JWKS
//!     does not have (which may trigger one JWKS refetch per 5 s cooldown).
//!
//! After the groups it prints the ratios computed from every timed batch of this run, then
//! again from 16 alternating rounds of 4,096 requests per side (robust to load drift on a
//! shared machine; each distinct round gets a fresh reference server, started untimed).
//! Filter with e.g. `cargo bench -p byoid-benches --bench reference -- http`.
//!
//! The load client runs on CPU 0 and the servers on CPU 1 (each a one-worker runtime pinned
//! there), so each HTTP rate is the server's own and the client's CPU is not in the ratios.
//! With fewer than two cores everything shares one runtime, and the bench says so.
//! `examples/core_layout.rs` measures (b) and (c) in both layouts, with the server's CPU time.

use std::hint::black_box;

// The allocator the `byoid-reference` and `byoid` binaries use; both servers below
// live in this process, so they share it.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use byoid_benches::{self as b, Client, MakeRequest, Server};
use byoid_reference::tenant::Resolution;
use byoid_reference::{Config, Validator};
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, Throughput};
use hyper::StatusCode;
use mock_idp::forge::{self, SignatureDamage};
use mock_idp::{MintOptions, Tenant};

/// Keep-alive connections per load run.
const CONNS: usize = 8;
/// Distinct genuine tokens minted before timing (~1 ms each, on every core).
const POOL: usize = 4096;
/// Upper bound on any one load run.
const RUN_LIMIT: Duration = Duration::from_secs(60);
/// Alternating rounds of the paired comparison (each side `POOL` requests per round).
/// (16, not 6: on this shared 2-core machine six rounds still moved the ratio by +-3%.)
const PAIRED_ROUNDS: usize = 16;

struct Env {
    /// The load client's runtime (and the mock IdP's); the servers' too without `server_rt`.
    rt: tokio::runtime::Runtime,
    /// The servers' runtime, on a core of its own.
    server_rt: Option<tokio::runtime::Runtime>,
    /// The mock IdP's runtime when it is not `rt`.
    _idp_rt: Option<tokio::runtime::Runtime>,
    _idp: mock_idp::MockIdp,
    tenant: Tenant,
    manifest: byoid_reference::Manifest,
    pool: Arc<Vec<String>>,
    /// A genuine token outside the pool, used to warm a fresh validator's key cache.
    warm: String,
}

impl Env {
    /// Where servers run.
    fn server_rt(&self) -> &tokio::runtime::Runtime {
        self.server_rt.as_ref().unwrap_or(&self.rt)
    }
}

fn env() -> Env {
    let setup = b::runtime();
    let (idp, tenant) = setup.block_on(b::generic_idp());
    let manifest = b::reference_manifest(&tenant);
    let started = Instant::now();
    let pool = Arc::new(b::mint_pool(&tenant, POOL));
    eprintln!("minted {POOL} distinct tokens in {:.2?}", started.elapsed());
    let warm = tenant.access_token();
    // Pinned only now: the minting threads inherit the main thread's CPU set.
    let (rt, server_rt, idp_rt) = match b::server_and_client_runtimes(|| {}) {
        Some((server, client)) => {
            eprintln!("layout: load client on CPU 0, servers on CPU 1");
            (client, Some(server), Some(setup))
        }
        None => {
            eprintln!("layout: fewer than 2 cores, client and servers share one runtime");
            (setup, None, None)
        }
    };
    Env {
        rt,
        server_rt,
        _idp_rt: idp_rt,
        _idp: idp,
        tenant,
        manifest,
        pool,
        warm,
    }
}

/// A fresh validator whose discovery document and JWKS are already fetched.
async fn warm_validator(env: &Env) -> Validator {
    let v = Validator::new(Config::new(env.manifest.clone()));
    v.validate(Resolution::Found(&env.manifest.tenants[0]), &env.warm)
        .await
        .expect("warm-up token validates");
    v
}

fn in_process(c: &mut Criterion, env: &Env) {
    let mut g = c.benchmark_group("reference/in_process");
    g.throughput(Throughput::Elements(1));
    let tc = &env.manifest.tenants[0];

    // Distinct tokens: a fresh validator (untimed) every POOL tokens so none is a cache hit.
    let mut v = env.rt.block_on(warm_validator(env));
    let mut used = 0usize;
    g.bench_function("distinct_token", |bch| {
        bch.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut left = iters as usize;
            while left > 0 {
                if used >= POOL {
                    v = env.rt.block_on(warm_validator(env));
                    used = 0;
                }
                let n = left.min(POOL - used);
                total += env.rt.block_on(async {
                    let t = Instant::now();
                    for tok in &env.pool[used..used + n] {
                        black_box(
                            v.validate(Resolution::Found(tc), tok)
                                .await
                                .expect("genuine token"),
                        );
                    }
                    t.elapsed()
                });
                used += n;
                left -= n;
            }
            total
        })
    });

    let v = env.rt.block_on(warm_validator(env));
    g.bench_function("cached_token", |bch| {
        bch.iter_custom(|iters| {
            env.rt.block_on(async {
                let t = Instant::now();
                for _ in 0..iters {
                    black_box(
                        v.validate(Resolution::Found(tc), &env.warm)
                            .await
                            .expect("genuine token"),
                    );
                }
                t.elapsed()
            })
        })
    });

    let prepared = b::prepared_key(env.tenant.active_key().public_jwk());
    let mut i = 0usize;
    g.bench_function("bare_verify", |bch| {
        bch.iter(|| {
            let tok = &env.pool[i % POOL];
            i += 1;
            let (input, sig) = tok.rsplit_once('.').expect("compact JWS");
            assert!(prepared.verify(input, sig, byoid_reference::checks::Algorithm::RS256));
        })
    });

    let key = b::decoding_key(env.tenant.active_key().public_jwk());
    g.bench_function("bare_jsonwebtoken_verify", |bch| {
        bch.iter(|| {
            let tok = &env.pool[i % POOL];
            i += 1;
            let (input, sig) = tok.rsplit_once('.').expect("compact JWS");
            assert!(jsonwebtoken::crypto::verify(
                sig,
                input.as_bytes(),
                &key,
                jsonwebtoken::Algorithm::RS256
            )
            .expect("verify"));
        })
    });

    // The reference reads a token's claims with its own strict scanner
    // (`byoid_reference::json_object`). What serde_json would cost for the same text, even
    // without the duplicate-member check the scanner makes: whether the scanner earns its place.
    let claims: Vec<String> = env.pool[..64]
        .iter()
        .map(|t| {
            let seg = t.split('.').nth(1).expect("claims segment");
            String::from_utf8(b64url_decode(seg)).expect("UTF-8 claims")
        })
        .collect();
    g.bench_function("claims_json_object", |bch| {
        bch.iter(|| {
            let text = claims[i % claims.len()].clone();
            i += 1;
            black_box(byoid_reference::json_object::JsonObject::parse(text).expect("claims"))
        })
    });
    g.bench_function("claims_serde_json_map", |bch| {
        bch.iter(|| {
            let text = claims[i % claims.len()].clone();
            i += 1;
            let map: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(&text).expect("claims");
            black_box((text, map))
        })
    });
    g.finish();
}

fn b64url_decode(seg: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(seg)
        .expect("base64url")
}

/// A reference validator served on 127.0.0.1:0, its client, and how many pool tokens it saw.
struct RefServer {
    server: Server,
    client: Client,
    used: usize,
}

fn start_reference(env: &Env) -> RefServer {
    let server = env
        .server_rt()
        .block_on(b::reference_server(Config::new(env.manifest.clone())));
    let client = env
        .rt
        .block_on(b::warmed_client(server.addr, CONNS, &env.warm));
    RefServer {
        server,
        client,
        used: 0,
    }
}

/// Lets a dropped server's connections close before anything is timed: their
/// teardown runs on the servers' worker, and a teardown inside the next timed run
/// was charged to whichever side ran next (in the paired rounds, 1.80x instead
/// of the batches' 1.97x for (c)).
fn settle(env: &Env) {
    env.rt
        .block_on(async { tokio::time::sleep(Duration::from_millis(20)).await });
}

/// Times `iters` requests built by `make(i)` on `client` and records them under `name`.
fn timed_run(
    env: &Env,
    client: &mut Client,
    name: &str,
    iters: u64,
    expect: StatusCode,
    make: MakeRequest,
) -> Duration {
    let load = env
        .rt
        .block_on(client.run(iters as usize, RUN_LIMIT, expect, make));
    load.assert_all_expected(name);
    b::record(name, load.done as u64, load.elapsed);
    load.elapsed
}

/// A bench named `name` that sends the same `token` to `addr` on every request and expects
/// `expect` (the floor, the repeated token and the two rejections).
fn one_token_bench(
    g: &mut BenchmarkGroup<'_, WallTime>,
    env: &Env,
    client: &mut Client,
    addr: SocketAddr,
    name: &str,
    token: &str,
    expect: StatusCode,
) {
    g.bench_function(name, |bch| {
        bch.iter_custom(|iters| {
            let tok = token.to_owned();
            timed_run(
                env,
                client,
                name,
                iters,
                expect,
                Arc::new(move |_| b::whoami(addr, &tok)),
            )
        })
    });
}

fn over_http(c: &mut Criterion, env: &Env) {
    let mut g = c.benchmark_group("reference/http");
    g.throughput(Throughput::Elements(1));

    // (b) distinct tokens through the reference: restart it (untimed) before the pool repeats.
    let mut rs = Some(start_reference(env));
    g.bench_function("reference_distinct", |bch| {
        bch.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut left = iters as usize;
            while left > 0 {
                if rs.as_ref().is_none_or(|r| r.used >= POOL) {
                    // Drop the old client first so the old server's connections close.
                    drop(rs.take());
                    settle(env);
                    rs = Some(start_reference(env));
                }
                let r = rs.as_mut().expect("running");
                let n = left.min(POOL - r.used);
                let (addr, pool, base) = (r.server.addr, env.pool.clone(), r.used);
                total += timed_run(
                    env,
                    &mut r.client,
                    "reference_distinct",
                    n as u64,
                    StatusCode::OK,
                    Arc::new(move |i| b::whoami(addr, &pool[base + i])),
                );
                r.used += n;
                left -= n;
            }
            total
        })
    });
    drop(rs);

    // The bare verify servers: same pool, same client shape; no cache, so they cycle.
    let key = env.tenant.active_key();
    let (prepared, jsonwebtoken) = (
        b::prepared_key(key.public_jwk()),
        b::decoding_key(key.public_jwk()),
    );
    let bare = env.server_rt().block_on(b::bare_verify_server(prepared));
    bare_bench(&mut g, env, "bare_verify", bare);
    let bare = env
        .server_rt()
        .block_on(b::bare_jsonwebtoken_server(jsonwebtoken));
    bare_bench(&mut g, env, "bare_jsonwebtoken", bare);

    // The HTTP floor: the same bare server without the RS256 check.
    let floor = env.server_rt().block_on(b::bare_accept_server());
    let mut floor_client = env
        .rt
        .block_on(Client::connect(floor.addr, CONNS))
        .expect("connect to the floor server");
    one_token_bench(
        &mut g,
        env,
        &mut floor_client,
        floor.addr,
        "bare_http_floor",
        &env.warm,
        StatusCode::OK,
    );
    drop(floor_client);
    drop(floor);

    // (c) and (d) on one long-lived reference server.
    let mut r = start_reference(env);
    let addr = r.server.addr;
    one_token_bench(
        &mut g,
        env,
        &mut r.client,
        addr,
        "reference_repeated",
        &env.warm,
        StatusCode::OK,
    );

    let bad_sig = forge::damage_signature(&env.pool[0], SignatureDamage::FlipBit);
    one_token_bench(
        &mut g,
        env,
        &mut r.client,
        addr,
        "reject_bad_signature",
        &bad_sig,
        StatusCode::UNAUTHORIZED,
    );

    let mut parts = env.tenant.parts(&MintOptions::default());
    parts
        .header
        .insert("kid".into(), serde_json::json!("bench-unknown-kid"));
    let unknown_kid = parts.compact();
    one_token_bench(
        &mut g,
        env,
        &mut r.client,
        addr,
        "reject_unknown_kid",
        &unknown_kid,
        StatusCode::UNAUTHORIZED,
    );
    g.finish();
    drop(r);
}

/// A bench named `name` that sends the pool's tokens, in turn, to the bare `server`.
fn bare_bench(g: &mut BenchmarkGroup<'_, WallTime>, env: &Env, name: &str, server: Server) {
    let mut client = env
        .rt
        .block_on(Client::connect(server.addr, CONNS))
        .expect("connect to a bare server");
    let mut cursor = 0usize;
    g.bench_function(name, |bch| {
        bch.iter_custom(|iters| {
            let (addr, pool, base) = (server.addr, env.pool.clone(), cursor);
            cursor = (cursor + iters as usize) % POOL;
            timed_run(
                env,
                &mut client,
                name,
                iters,
                StatusCode::OK,
                Arc::new(move |i| b::whoami(addr, &pool[(base + i) % POOL])),
            )
        })
    });
}

/// Alternating rounds of three sides: a fresh reference server with the whole pool of distinct
/// tokens (then the long-lived one with the repeated token), the bare verify server with the
/// same tokens, and the bare jsonwebtoken server with them; each round starts with another side.
fn paired(env: &Env) {
    let key = env.tenant.active_key();
    let bare = [
        env.server_rt()
            .block_on(b::bare_verify_server(b::prepared_key(key.public_jwk()))),
        env.server_rt()
            .block_on(b::bare_jsonwebtoken_server(b::decoding_key(
                key.public_jwk(),
            ))),
    ];
    let mut bare_clients = bare.each_ref().map(|s| {
        env.rt
            .block_on(Client::connect(s.addr, CONNS))
            .expect("connect to a bare server")
    });
    let make_bare = bare.each_ref().map(|s| -> MakeRequest {
        let (addr, pool) = (s.addr, env.pool.clone());
        Arc::new(move |i| b::whoami(addr, &pool[i % POOL]))
    });
    let mut distinct = b::Paired::default();
    let mut repeated = b::Paired::default();
    let mut distinct_jsonwebtoken = b::Paired::default();
    let mut long_lived = start_reference(env);
    let addr = long_lived.server.addr;
    let tok = env.warm.clone();
    let make_repeated: MakeRequest = Arc::new(move |_| b::whoami(addr, &tok));
    for round in 0..PAIRED_ROUNDS {
        for k in 0..3 {
            let side = (round + k) % 3;
            if side == 0 {
                let mut r = start_reference(env);
                let (addr, pool) = (r.server.addr, env.pool.clone());
                let l = env.rt.block_on(r.client.run(
                    POOL,
                    RUN_LIMIT,
                    StatusCode::OK,
                    Arc::new(move |i| b::whoami(addr, &pool[i])),
                ));
                l.assert_all_expected("paired reference distinct");
                distinct.add_a(&l);
                distinct_jsonwebtoken.add_a(&l);
                drop(r);
                settle(env);
                let l = env.rt.block_on(long_lived.client.run(
                    POOL,
                    RUN_LIMIT,
                    StatusCode::OK,
                    make_repeated.clone(),
                ));
                l.assert_all_expected("paired reference repeated");
                repeated.add_a(&l);
            } else {
                let l = env.rt.block_on(bare_clients[side - 1].run(
                    POOL,
                    RUN_LIMIT,
                    StatusCode::OK,
                    make_bare[side - 1].clone(),
                ));
                l.assert_all_expected("paired bare verify");
                if side == 1 {
                    distinct.add_b(&l);
                    repeated.add_b(&l);
                } else {
                    distinct_jsonwebtoken.add_b(&l);
                }
            }
        }
    }
    let each = format!("{PAIRED_ROUNDS}x{POOL} requests each");
    distinct.print(
        &format!("(b) distinct tokens, reference vs bare verify, {each}"),
        "goal >= 0.9x",
    );
    repeated.print(
        &format!("(c) repeated token, reference vs bare verify, {each}"),
        "goal >= 2x",
    );
    distinct_jsonwebtoken.print(
        &format!("distinct tokens, reference vs bare jsonwebtoken, {each}"),
        "context, no goal",
    );
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    let env = env();
    in_process(&mut c, &env);
    over_http(&mut c, &env);
    c.final_summary();
    println!();
    b::print_ratio(
        "(b) distinct tokens, reference vs bare verify",
        "reference_distinct",
        "bare_verify",
        "goal >= 0.9x",
    );
    b::print_ratio(
        "(c) repeated token, reference vs bare verify",
        "reference_repeated",
        "bare_verify",
        "goal >= 2x",
    );
    b::print_ratio(
        "(c) ceiling: the HTTP floor vs bare verify",
        "bare_http_floor",
        "bare_verify",
        "no server answers faster than the floor",
    );
    b::print_ratio(
        "distinct tokens, reference vs bare jsonwebtoken",
        "reference_distinct",
        "bare_jsonwebtoken",
        "context, no goal",
    );
    if b::rate("reference_distinct").is_some() && b::rate("bare_verify").is_some() {
        paired(&env);
    }
    for name in ["reject_bad_signature", "reject_unknown_kid"] {
        if let Some(r) = b::rate(name) {
            println!("(d) {name}: {r:.0} rejections/s");
        }
    }
}
