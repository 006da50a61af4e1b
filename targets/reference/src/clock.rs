//! [`Clock`]: the time the validator runs on, handed to it in [`crate::Config`].
//!
//! Everything that depends on time reads this clock: the token checks (`exp`,
//! `nbf`, `iat`), the verified-token cache and the discovery/JWKS cache with its
//! cooldown and backoff. Only the bounds on waiting for an IdP stay on real
//! time, since they bound real sockets. A [`Clock::manual`] clock moves only when
//! it is told to, so a test (or the harness's built-in target) can step over a
//! cache window without sleeping and get the same answers on every run.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A clock: the system's, or one that moves only by [`Clock::advance`].
///
/// ```
/// use std::time::Duration;
/// use byoid_reference::clock::Clock;
///
/// let clock = Clock::manual(1_700_000_000);
/// let then = clock.instant();
/// assert_eq!(clock.unix_secs(), 1_700_000_000.0);
/// clock.advance(Duration::from_millis(1500));
/// assert_eq!(clock.unix_secs(), 1_700_000_001.5);
/// assert_eq!(clock.instant() - then, Duration::from_millis(1500));
/// ```
#[derive(Debug, Clone)]
pub struct Clock(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    /// Unix time at `origin`.
    origin_unix: Duration,
    origin: Instant,
    /// Whether real time moves this clock.
    runs: bool,
    /// Nanoseconds added by [`Clock::advance`].
    advanced: AtomicU64,
}

impl Default for Clock {
    fn default() -> Self {
        Clock::system()
    }
}

impl Clock {
    /// The system clock (monotonic from the moment it is made).
    pub fn system() -> Clock {
        let origin_unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Clock::new(origin_unix, true)
    }

    /// A clock that reads `unix_secs` until it is advanced.
    pub fn manual(unix_secs: u64) -> Clock {
        Clock::new(Duration::from_secs(unix_secs), false)
    }

    fn new(origin_unix: Duration, runs: bool) -> Clock {
        Clock(Arc::new(Inner {
            origin_unix,
            origin: Instant::now(),
            runs,
            advanced: AtomicU64::new(0),
        }))
    }

    /// Whether only [`Clock::advance`] moves this clock.
    pub fn is_manual(&self) -> bool {
        !self.0.runs
    }

    /// Moves the clock forward by `by` (on a system clock too: it then runs ahead).
    pub fn advance(&self, by: Duration) {
        let nanos = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        self.0.advanced.fetch_add(nanos, Ordering::Relaxed);
    }

    /// Time since the clock was made, as this clock counts it.
    fn elapsed(&self) -> Duration {
        let advanced = Duration::from_nanos(self.0.advanced.load(Ordering::Relaxed));
        if self.0.runs {
            self.0.origin.elapsed() + advanced
        } else {
            advanced
        }
    }

    /// A monotonic instant, for cache lifetimes and cooldowns.
    pub fn instant(&self) -> Instant {
        self.0.origin + self.elapsed()
    }

    /// Unix time in seconds, for `exp`, `nbf` and `iat`.
    pub fn unix_secs(&self) -> f64 {
        (self.0.origin_unix + self.elapsed()).as_secs_f64()
    }
}
