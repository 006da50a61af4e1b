//! The mock IdP's endpoints on loopback: JWKS GET and client-credentials token POST.
//!
//! What it measures, and why:
//!
//! * `mock_idp/jwks/mock_idp`: `GET tenant.jwks_url()` against a `MockIdp` with one generic
//!   tenant. Validators under test hammer the JWKS (refetch storms, unknown-`kid` floods), so
//!   the mock must not be the bottleneck or the harness would measure itself.
//! * `mock_idp/jwks/bare_axum`: the same bytes (fetched once from the mock) served by a bare
//!   axum `Router` with one `GET /jwks` route returning `Bytes`: the ceiling for an axum
//!   server on this machine. Both use the same hyper HTTP/1.1 client with 8 keep-alive
//!   connections in the same run, so the ratio `mock_idp / bare_axum` is the cost of the
//!   mock's routing, journal and counters. Goal: >= 0.9.
//! * `mock_idp/token/client_credentials`: `POST tenant.token_url()` with
//!   `grant_type=client_credentials` and the tenant's default client; each answer mints and
//!   RS256-signs a fresh token, so this is bounded by RSA signing (~1 ms per token per core).
//!
//! After the groups it prints the JWKS ratio computed from every timed batch of this run, and
//! again from 10 alternating rounds of 5,000 requests per side (robust to load drift on a
//! shared machine).
//! The bounded memory check (1,000,000 JWKS GETs, RSS before and after) is the example
//! `cargo run --release -p byoid-benches --example jwks_rss`.

use std::sync::Arc;
use std::time::Duration;

use byoid_benches::{self as b, Client};
use bytes::Bytes;
use criterion::{Criterion, Throughput};
use http_body_util::Full;
use hyper::{header, Request, StatusCode};

/// Keep-alive connections per load run.
const CONNS: usize = 8;
/// Upper bound on any one load run.
const RUN_LIMIT: Duration = Duration::from_secs(60);
/// Alternating rounds, and requests per round, of the paired JWKS comparison.
const PAIRED_ROUNDS: usize = 10;
const PAIRED_N: usize = 5_000;

fn main() {
    let mut c = Criterion::default().configure_from_args();
    let rt = b::runtime();
    let (idp, tenant) = rt.block_on(b::generic_idp());
    let addr = idp.addr();
    let jwks_path = b::path_of(&tenant.jwks_url());
    let token_path = b::path_of(&tenant.token_url());

    // The exact bytes the mock serves, fetched once, for the bare server.
    let (status, jwks) = rt
        .block_on(b::fetch(addr, b::get(addr, &jwks_path)))
        .expect("JWKS fetch");
    assert_eq!(status, StatusCode::OK, "JWKS status");
    let bare = rt.block_on(b::bare_bytes_server(jwks.clone()));
    println!("JWKS body: {} bytes", jwks.len());

    let mut idp_client = rt
        .block_on(Client::connect(addr, CONNS))
        .expect("connect to the mock IdP");
    let mut bare_client = rt
        .block_on(Client::connect(bare.addr, CONNS))
        .expect("connect to the bare server");

    let mut g = c.benchmark_group("mock_idp/jwks");
    g.throughput(Throughput::Elements(1));
    g.bench_function("mock_idp", |bch| {
        bch.iter_custom(|iters| {
            let path = jwks_path.clone();
            let load = rt.block_on(idp_client.run(
                iters as usize,
                RUN_LIMIT,
                StatusCode::OK,
                Arc::new(move |_| b::get(addr, &path)),
            ));
            load.assert_all_expected("mock IdP JWKS");
            b::record("mock_idp_jwks", load.done as u64, load.elapsed);
            load.elapsed
        })
    });
    let bare_addr = bare.addr;
    g.bench_function("bare_axum", |bch| {
        bch.iter_custom(|iters| {
            let load = rt.block_on(bare_client.run(
                iters as usize,
                RUN_LIMIT,
                StatusCode::OK,
                Arc::new(move |_| b::get(bare_addr, "/jwks")),
            ));
            load.assert_all_expected("bare JWKS");
            b::record("bare_axum_jwks", load.done as u64, load.elapsed);
            load.elapsed
        })
    });
    g.finish();

    let client = &tenant.clients()[0];
    let form = Bytes::from(format!(
        "grant_type=client_credentials&client_id={}&client_secret={}",
        client.id, client.secret
    ));
    let mut g = c.benchmark_group("mock_idp/token");
    g.throughput(Throughput::Elements(1));
    g.bench_function("client_credentials", |bch| {
        bch.iter_custom(|iters| {
            let (path, form) = (token_path.clone(), form.clone());
            let load = rt.block_on(idp_client.run(
                iters as usize,
                RUN_LIMIT,
                StatusCode::OK,
                Arc::new(move |_| {
                    Request::post(path.as_str())
                        .header(header::HOST, addr.to_string())
                        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                        .body(Full::new(form.clone()))
                        .expect("request")
                }),
            ));
            load.assert_all_expected("token endpoint");
            b::record("token", load.done as u64, load.elapsed);
            load.elapsed
        })
    });
    g.finish();

    c.final_summary();
    println!();
    b::print_ratio(
        "JWKS GET, mock IdP vs bare axum",
        "mock_idp_jwks",
        "bare_axum_jwks",
        "goal >= 0.9",
    );
    if b::rate("mock_idp_jwks").is_some() && b::rate("bare_axum_jwks").is_some() {
        let mut p = b::Paired::default();
        let path = jwks_path.clone();
        let make_idp: b::MakeRequest = Arc::new(move |_| b::get(addr, &path));
        let make_bare: b::MakeRequest = Arc::new(move |_| b::get(bare_addr, "/jwks"));
        for round in 0..PAIRED_ROUNDS {
            for side in [round % 2, 1 - round % 2] {
                if side == 0 {
                    let l = rt.block_on(idp_client.run(
                        PAIRED_N,
                        RUN_LIMIT,
                        StatusCode::OK,
                        make_idp.clone(),
                    ));
                    l.assert_all_expected("paired mock IdP JWKS");
                    p.add_a(&l);
                } else {
                    let l = rt.block_on(bare_client.run(
                        PAIRED_N,
                        RUN_LIMIT,
                        StatusCode::OK,
                        make_bare.clone(),
                    ));
                    l.assert_all_expected("paired bare JWKS");
                    p.add_b(&l);
                }
            }
        }
        p.print(
            &format!("JWKS GET, mock IdP vs bare axum, {PAIRED_ROUNDS}x{PAIRED_N} requests each"),
            "goal >= 0.9",
        );
    }
    if let Some(r) = b::rate("token") {
        println!("token endpoint (client_credentials): {r:.0} tokens/s");
    }
    drop((idp_client, bare_client, bare, idp));
}
