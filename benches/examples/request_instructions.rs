//! Instruction counts per request, for callgrind: the reference validator against the bare
//! verify server and the HTTP floor, on one thread, so that valgrind counts every instruction
//! of client, server and crypto. Unlike the criterion benches, the counts repeat exactly
//! whatever else the machine is doing, which makes changes of 1-2% visible; they do not show
//! cache misses or cross-core traffic (add `--cache-sim=yes` for a simulated L1).
//!
//! ```sh
//! cargo build --release -p byoid-benches --example request_instructions
//! for phase in reference bare jsonwebtoken hit floor; do
//!   valgrind --tool=callgrind --collect-atstart=no \
//!     --toggle-collect="request_instructions::measure_$phase" \
//!     --callgrind-out-file=cg.$phase target/release/examples/request_instructions
//! done
//! callgrind_annotate cg.reference | head -40   # divide by REQUESTS for per-request figures
//! ```
//!
//! `reference`: distinct tokens (full verification), `bare`: the same tokens against the bare
//! verify server (the reference's own signature check), `jsonwebtoken`: against the bare server
//! that checks with `jsonwebtoken::crypto::verify`, `hit`: one repeated token (verified-token
//! cache hit), `floor`: the bare server without the verify. Without valgrind it just runs the
//! five phases.

use std::sync::Arc;
use std::time::Duration;

use byoid_benches::{self as b, Client, MakeRequest};
use hyper::StatusCode;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Requests per measured phase.
const REQUESTS: usize = 200;
/// valgrind runs everything ~50x slower: give the IdP fetches room.
const LIMIT: Duration = Duration::from_secs(600);

fn run(rt: &tokio::runtime::Runtime, client: &mut Client, make: MakeRequest, what: &str) {
    let load = rt.block_on(client.run(REQUESTS, LIMIT, StatusCode::OK, make));
    load.assert_all_expected(what);
}

#[inline(never)]
fn measure_reference(rt: &tokio::runtime::Runtime, c: &mut Client, make: MakeRequest) {
    run(rt, c, make, "reference, distinct tokens");
}
#[inline(never)]
fn measure_bare(rt: &tokio::runtime::Runtime, c: &mut Client, make: MakeRequest) {
    run(rt, c, make, "bare verify server");
}
#[inline(never)]
fn measure_jsonwebtoken(rt: &tokio::runtime::Runtime, c: &mut Client, make: MakeRequest) {
    run(rt, c, make, "bare jsonwebtoken verify server");
}
#[inline(never)]
fn measure_hit(rt: &tokio::runtime::Runtime, c: &mut Client, make: MakeRequest) {
    run(rt, c, make, "reference, repeated token");
}
#[inline(never)]
fn measure_floor(rt: &tokio::runtime::Runtime, c: &mut Client, make: MakeRequest) {
    run(rt, c, make, "HTTP floor");
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (_idp, tenant) = rt.block_on(b::generic_idp());
    let pool = Arc::new(b::mint_pool(&tenant, 2 * REQUESTS + 1));
    let warm = pool[2 * REQUESTS].clone();

    let mut config = byoid_reference::Config::new(b::reference_manifest(&tenant));
    config.fetch_timeout = LIMIT;
    let reference = rt.block_on(b::reference_server(config));
    let addr = reference.addr;
    let bare = rt.block_on(b::bare_verify_server(b::prepared_key(
        tenant.active_key().public_jwk(),
    )));
    let jwt = rt.block_on(b::bare_jsonwebtoken_server(b::decoding_key(
        tenant.active_key().public_jwk(),
    )));
    let floor = rt.block_on(b::bare_accept_server());
    let connect = |a| rt.block_on(Client::connect(a, 1)).expect("connect");
    let (mut rc, mut bc, mut jc, mut fc) = (
        connect(addr),
        connect(bare.addr),
        connect(jwt.addr),
        connect(floor.addr),
    );
    let (bare_addr, jwt_addr, floor_addr) = (bare.addr, jwt.addr, floor.addr);

    // Untimed: discovery and JWKS fetched, code and allocator warm on every path, and the
    // repeated token verified twice so that it is stored.
    let tokens = |a, base: usize| -> MakeRequest {
        let pool = pool.clone();
        Arc::new(move |i| b::whoami(a, &pool[base + i]))
    };
    let same = |a, t: &str| -> MakeRequest {
        let t = t.to_owned();
        Arc::new(move |_| b::whoami(a, &t))
    };
    run(&rt, &mut rc, tokens(addr, REQUESTS), "warm-up");
    run(&rt, &mut bc, tokens(bare_addr, REQUESTS), "warm-up");
    run(&rt, &mut jc, tokens(jwt_addr, REQUESTS), "warm-up");
    run(&rt, &mut fc, same(floor_addr, &warm), "warm-up");
    run(&rt, &mut rc, same(addr, &warm), "warm-up");

    measure_reference(&rt, &mut rc, tokens(addr, 0));
    measure_bare(&rt, &mut bc, tokens(bare_addr, 0));
    measure_jsonwebtoken(&rt, &mut jc, tokens(jwt_addr, 0));
    measure_hit(&rt, &mut rc, same(addr, &warm));
    measure_floor(&rt, &mut fc, same(floor_addr, &warm));
    println!("5 phases of {REQUESTS} requests each: all answered 200");
}
