//! Counts the heap allocations of one request through the reference validator's
//! router (`byoid_reference::app`, in process, no HTTP connection): a distinct token (full verification) and a repeated one
//! (verified-token cache hit). Allocation counts are what moved the over-HTTP ratios most
//! (see `reports/bench/reference-baseline.md`); run this after changing the hot path.
//!
//! ```sh
//! cargo run --release -p byoid-benches --example request_allocations
//! ```

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use tower::ServiceExt;

/// Counts allocations while `COUNTING` is on, and keeps the first sizes.
struct Counting;
static COUNTING: AtomicBool = AtomicBool::new(false);
static COUNT: AtomicUsize = AtomicUsize::new(0);
static SIZES: [AtomicUsize; 64] = [const { AtomicUsize::new(0) }; 64];

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            let i = COUNT.fetch_add(1, Ordering::Relaxed);
            if let Some(slot) = SIZES.get(i) {
                slot.store(l.size(), Ordering::Relaxed);
            }
        }
        // SAFETY: forwards the caller's layout unchanged.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: `p` came from `alloc` above with this layout.
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn request(token: &str) -> axum::http::Request<axum::body::Body> {
    axum::http::Request::get("/api/whoami")
        .header(byoid_benches::TENANT_HEADER, byoid_benches::TENANT)
        .header("authorization", format!("Bearer {token}"))
        .body(axum::body::Body::empty())
        .expect("request")
}

/// Allocations made by one request through the router (sizes of the first 64).
async fn count(app: &axum::Router, token: &str) -> (u16, usize, Vec<usize>) {
    let req = request(token);
    let app = app.clone();
    COUNT.store(0, Ordering::Relaxed);
    COUNTING.store(true, Ordering::Relaxed);
    let resp = app.oneshot(req).await.expect("infallible");
    COUNTING.store(false, Ordering::Relaxed);
    let n = COUNT.load(Ordering::Relaxed);
    let sizes = SIZES
        .iter()
        .take(n)
        .map(|a| a.load(Ordering::Relaxed))
        .collect();
    (resp.status().as_u16(), n, sizes)
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let (_idp, tenant) = byoid_benches::generic_idp().await;
        let manifest = byoid_benches::reference_manifest(&tenant);
        let app = byoid_reference::app(byoid_reference::Config::new(manifest));
        let tokens: Vec<String> = (0..2).map(|_| tenant.access_token()).collect();
        // Warm: loads discovery and keys; the second token is verified twice, so stored.
        for t in [&tokens[0], &tokens[1], &tokens[1]] {
            let _ = app.clone().oneshot(request(t)).await;
        }
        let fresh = tenant.access_token();
        for (what, token) in [
            ("distinct token", &fresh),
            ("repeated token (cache hit)", &tokens[1]),
        ] {
            let (status, n, sizes) = count(&app, token).await;
            println!("{what}: status {status}, {n} allocations, sizes {sizes:?}");
        }
    });
}
