//! The reference bench's two HTTP goals under two layouts of client and server on this
//! machine's cores, in one process and one run:
//!
//! * `shared` (what `benches/reference.rs` did until session 7): the load client and the server
//!   are tasks of one runtime with a worker per core, so every request's time is the client's
//!   CPU plus the server's, spread over both cores.
//! * `pinned` (what `benches/reference.rs` does): the server has core 1 to itself (a one-worker
//!   runtime pinned there) and the client has core 0. A request's time is then the server's
//!   alone, as long as the client keeps up, and the server thread's CPU clock gives its CPU
//!   time per request directly.
//!
//! Each layout runs alternating rounds (each side first in turn) of 4,096 requests per side:
//! the HTTP floor (a bare server that accepts any token), the bare verify server (the
//! reference's own RS256 check and nothing else), the reference with distinct tokens (a fresh
//! server each round, so no token-cache hit) and the reference with one repeated token. It
//! prints (b) distinct / bare verify, (c) repeated / bare verify, and (c)'s ceiling, the floor
//! / bare verify.
//!
//! ```sh
//! cargo run --release -p byoid-benches --example core_layout             # both layouts, 16 rounds
//! cargo run --release -p byoid-benches --example core_layout -- pinned 32
//! ```
//!
//! Linux only (`sched_setaffinity`, a thread's CPU clock); needs at least 2 cores.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use byoid_benches::{self as b, Client, MakeRequest, Server};
use byoid_reference::Config;
use hyper::StatusCode;
use tokio::runtime::Runtime;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Distinct tokens, and requests per side per round.
const POOL: usize = 4096;
const CONNS: usize = 8;
/// Upper bound on any one round of one side.
const LIMIT: Duration = Duration::from_secs(60);
const SIDES: [&str; 4] = [
    "HTTP floor",
    "bare verify",
    "reference, distinct tokens",
    "reference, repeated token",
];

/// The `pthread_t` of the pinned server runtime's one worker.
static SERVER_THREAD: AtomicU64 = AtomicU64::new(0);

/// CPU time (user and system) the pinned server worker has used so far.
fn server_cpu() -> Duration {
    // SAFETY: the thread id was stored by the worker itself, which lives as long as its
    // runtime (all of `main`); the clock id and timespec are plain out-parameters.
    unsafe {
        let thread = SERVER_THREAD.load(Ordering::Relaxed) as libc::pthread_t;
        let mut clock: libc::clockid_t = 0;
        let mut ts: libc::timespec = std::mem::zeroed();
        if libc::pthread_getcpuclockid(thread, &mut clock) != 0
            || libc::clock_gettime(clock, &mut ts) != 0
        {
            return Duration::ZERO;
        }
        Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
    }
}

/// The runtime the servers run on, and the client's (the same one when shared).
fn runtimes(pinned: bool) -> (Runtime, Option<Runtime>) {
    if !pinned {
        return (b::runtime(), None);
    }
    let (server, client) = b::server_and_client_runtimes(|| {
        // SAFETY: pthread_self has no preconditions.
        let me = unsafe { libc::pthread_self() };
        SERVER_THREAD.store(me as u64, Ordering::Relaxed);
    })
    .expect("the pinned layout needs 2 cores");
    (server, Some(client))
}

/// Requests, wall time and server CPU time of one side, summed over rounds.
#[derive(Default)]
struct Tally {
    requests: u64,
    wall: Duration,
    server_cpu: Duration,
}

impl Tally {
    fn rate(&self) -> f64 {
        self.requests as f64 / self.wall.as_secs_f64().max(1e-9)
    }
    fn cpu_micros(&self) -> f64 {
        self.server_cpu.as_secs_f64() * 1e6 / self.requests.max(1) as f64
    }
}

struct Bench {
    pool: Arc<Vec<String>>,
    warm: String,
    manifest: byoid_reference::Manifest,
    key: byoid_reference::prepared_key::PreparedKey,
}

/// A reference server on the server runtime, with a warmed client on the client runtime.
fn start_reference(bench: &Bench, server_rt: &Runtime, client_rt: &Runtime) -> (Server, Client) {
    let server = server_rt.block_on(b::reference_server(Config::new(bench.manifest.clone())));
    let client = client_rt.block_on(b::warmed_client(server.addr, CONNS, &bench.warm));
    (server, client)
}

fn layout(bench: &Bench, pinned: bool, rounds: usize) {
    let (server_rt, own_client_rt) = runtimes(pinned);
    let client_rt = own_client_rt.as_ref().unwrap_or(&server_rt);
    let (floor, bare) = server_rt.block_on(async {
        (
            b::bare_accept_server().await,
            b::bare_verify_server(bench.key.clone()).await,
        )
    });
    let connect = |s: &Server| {
        client_rt
            .block_on(Client::connect(s.addr, CONNS))
            .expect("connect to a bare server")
    };
    let (mut floor_client, mut bare_client) = (connect(&floor), connect(&bare));
    let (repeated, mut repeated_client) = start_reference(bench, &server_rt, client_rt);
    let mut tally: [Tally; 4] = Default::default();
    for round in 0..rounds {
        for k in 0..SIDES.len() {
            let side = (round + k) % SIDES.len();
            let mut fresh = None;
            let (client, make): (&mut Client, MakeRequest) = match side {
                0 => {
                    let (addr, tok) = (floor.addr, bench.warm.clone());
                    (&mut floor_client, Arc::new(move |_| b::whoami(addr, &tok)))
                }
                1 => {
                    let (addr, pool) = (bare.addr, bench.pool.clone());
                    (
                        &mut bare_client,
                        Arc::new(move |i| b::whoami(addr, &pool[i])),
                    )
                }
                2 => {
                    let (server, client) =
                        fresh.insert(start_reference(bench, &server_rt, client_rt));
                    let (addr, pool) = (server.addr, bench.pool.clone());
                    (client, Arc::new(move |i| b::whoami(addr, &pool[i])))
                }
                _ => {
                    let (addr, tok) = (repeated.addr, bench.warm.clone());
                    (
                        &mut repeated_client,
                        Arc::new(move |_| b::whoami(addr, &tok)),
                    )
                }
            };
            let cpu_before = server_cpu();
            let load = client_rt.block_on(client.run(POOL, LIMIT, StatusCode::OK, make));
            let cpu = server_cpu().saturating_sub(cpu_before);
            load.assert_all_expected(SIDES[side]);
            let t = &mut tally[side];
            t.requests += load.done as u64;
            t.wall += load.elapsed;
            t.server_cpu += cpu;
            drop(fresh);
            // Let a dropped server's connections close before the next timed round.
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let name = if pinned { "pinned" } else { "shared" };
    println!("\n{name} layout, {rounds} rounds x {POOL} requests per side");
    for (side, t) in SIDES.iter().zip(&tally) {
        if pinned {
            let cpu = t.cpu_micros();
            println!(
                "  {side:28} {:>8.0} req/s   server CPU {cpu:6.2} µs/req",
                t.rate()
            );
        } else {
            println!("  {side:28} {:>8.0} req/s", t.rate());
        }
    }
    let rate = |i: usize| tally[i].rate();
    println!(
        "  (b) distinct / bare verify   {:.3}x  (goal >= 0.9x)",
        rate(2) / rate(1)
    );
    println!(
        "  (c) repeated / bare verify   {:.3}x  (goal >= 2x)",
        rate(3) / rate(1)
    );
    println!("  (c) ceiling, floor / bare    {:.3}x", rate(0) / rate(1));
    if pinned {
        let cpu = |i: usize| tally[i].cpu_micros();
        println!(
            "  by server CPU per request: (b) {:.3}x, (c) {:.3}x",
            cpu(1) / cpu(2),
            cpu(1) / cpu(3)
        );
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let which = args.next().unwrap_or_else(|| "both".into());
    let rounds = args
        .next()
        .map_or(16, |r| r.parse().expect("ROUNDS: a number"));
    let layouts: &[bool] = match which.as_str() {
        "both" => &[false, true],
        "shared" => &[false],
        "pinned" => &[true],
        other => panic!("unknown layout {other:?}: shared, pinned or both"),
    };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    assert!(cores >= 2, "needs at least 2 cores, found {cores}");
    let idp_rt = b::runtime();
    let (_idp, tenant) = idp_rt.block_on(b::generic_idp());
    let bench = Bench {
        pool: Arc::new(b::mint_pool(&tenant, POOL)),
        warm: tenant.access_token(),
        manifest: b::reference_manifest(&tenant),
        key: b::prepared_key(tenant.active_key().public_jwk()),
    };
    for &pinned in layouts {
        layout(&bench, pinned, rounds);
    }
}
