//! Bounded memory check of the mock IdP's JWKS endpoint.
//!
//! Starts a `MockIdp` with one generic tenant in this process, reads this process's resident
//! set size (`VmRSS` in `/proc/self/status`), sends 1,000,000 `GET tenant.jwks_url()` over 16
//! keep-alive connections (stopping early after 120 s), reads `VmRSS` again and prints both,
//! the peak (`VmHWM`) and the request rate. The journal is bounded (8192 entries by default) and
//! the counters are atomics, so RSS after should be within a few MiB of RSS before: growth in
//! proportion to the request count would be a leak.
//!
//! `cargo run --release -p byoid-benches --example jwks_rss [-- REQUESTS [SECONDS]]`
//! Linux only (reads `/proc`). Binds 127.0.0.1 only.

use std::sync::Arc;
use std::time::Duration;

use byoid_benches::{self as b, Client};
use hyper::StatusCode;

const CONNS: usize = 16;

fn hwm_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let requests: usize = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let limit = Duration::from_secs(args.next().and_then(|a| a.parse().ok()).unwrap_or(120));
    let rt = b::runtime();
    rt.block_on(async {
        let (idp, tenant) = b::generic_idp().await;
        let addr = idp.addr();
        let path = b::path_of(&tenant.jwks_url());
        let mut client = Client::connect(addr, CONNS).await.expect("connect to the mock IdP");
        // One warm-up round so lazily built state (JWKS bytes, connection buffers) counts as "before".
        let p = path.clone();
        client
            .run(CONNS * 4, limit, StatusCode::OK, Arc::new(move |_| b::get(addr, &p)))
            .await
            .assert_all_expected("warm-up");
        let before = b::vm_rss_kib();
        let p = path.clone();
        let load = client
            .run(requests, limit, StatusCode::OK, Arc::new(move |_| b::get(addr, &p)))
            .await;
        let after = b::vm_rss_kib();
        let kib = |v: Option<u64>| {
            v.map_or_else(
                || "n/a".to_string(),
                |k| format!("{k} KiB ({:.1} MiB)", k as f64 / 1024.0),
            )
        };
        println!(
            "requests: {} of {requests} in {:.2?} over {CONNS} connections ({} errors, {} unexpected)",
            load.done,
            load.elapsed,
            load.errors,
            load.done - load.expected
        );
        println!("rate: {:.0} req/s", load.rate());
        println!("VmRSS before: {}", kib(before));
        println!("VmRSS after:  {}", kib(after));
        println!("VmHWM (peak): {}", kib(hwm_kib()));
        println!("mock IdP JWKS count: {}", tenant.traffic().jwks);
        if let (Some(a), Some(b)) = (before, after) {
            println!("growth: {:+} KiB", b as i64 - a as i64);
        }
        load.assert_all_expected("JWKS GET");
    });
}
