//! The traffic journal: what each validator fetched, so the harness can judge caching,
//! refetch storms and SSRF.
//!
//! Counters are per tenant and per endpoint, lock-free on the serving path; a bounded ring of
//! recent entries keeps evidence without letting memory grow under load.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

/// Which endpoint a request hit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Endpoint {
    /// The OpenID discovery document.
    Discovery,
    /// RFC 8414 authorization server metadata.
    OauthMetadata,
    /// The JSON Web Key Set.
    Jwks,
    /// The token endpoint.
    Token,
    /// Anything else on a tenant's host (the attacker host counts every path here).
    Other,
}

impl Endpoint {
    const COUNT: usize = 5;
    fn index(self) -> usize {
        self as usize
    }
}

/// Request counts per endpoint; subtract two snapshots to count what happened in between.
///
/// ```
/// use mock_idp::Traffic;
/// let before = Traffic::default();
/// let after = Traffic { jwks: 3, ..Traffic::default() };
/// assert_eq!(after.since(&before).jwks, 3);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Traffic {
    /// Discovery document requests.
    pub discovery: u64,
    /// RFC 8414 metadata requests.
    pub oauth_metadata: u64,
    /// JWKS requests.
    pub jwks: u64,
    /// Token endpoint requests.
    pub token: u64,
    /// Other requests.
    pub other: u64,
}

impl Traffic {
    /// The requests made after `earlier` was taken.
    pub fn since(&self, earlier: &Traffic) -> Traffic {
        Traffic {
            discovery: self.discovery.saturating_sub(earlier.discovery),
            oauth_metadata: self.oauth_metadata.saturating_sub(earlier.oauth_metadata),
            jwks: self.jwks.saturating_sub(earlier.jwks),
            token: self.token.saturating_sub(earlier.token),
            other: self.other.saturating_sub(earlier.other),
        }
    }
    /// Every request counted.
    pub fn total(&self) -> u64 {
        self.discovery + self.oauth_metadata + self.jwks + self.token + self.other
    }
}

/// Lock-free per-endpoint counters of one tenant (or host).
#[derive(Debug, Default)]
pub struct Counters {
    counts: [AtomicU64; Endpoint::COUNT],
}

impl Counters {
    pub(crate) fn bump(&self, endpoint: Endpoint) {
        self.counts[endpoint.index()].fetch_add(1, Ordering::Relaxed);
    }
    /// A snapshot of the counts.
    pub fn snapshot(&self) -> Traffic {
        let g = |e: Endpoint| self.counts[e.index()].load(Ordering::Relaxed);
        Traffic {
            discovery: g(Endpoint::Discovery),
            oauth_metadata: g(Endpoint::OauthMetadata),
            jwks: g(Endpoint::Jwks),
            token: g(Endpoint::Token),
            other: g(Endpoint::Other),
        }
    }
}

/// One recorded request.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Entry {
    /// Position in the journal, from 1.
    pub seq: u64,
    /// The tenant (or `attacker`, or `unmatched`).
    pub tenant: String,
    /// The endpoint hit.
    pub endpoint: Endpoint,
    /// The request path.
    pub path: String,
    /// Milliseconds since the IdP started.
    pub at_ms: u64,
}

/// What the serving path stores: no allocation for tenant routes (the name is shared, the
/// path is implied by the endpoint); only unmatched paths are copied.
#[derive(Debug)]
struct RawEntry {
    seq: u64,
    tenant: std::sync::Arc<str>,
    endpoint: Endpoint,
    path: PathRecord,
    at_ms: u64,
}

#[derive(Debug)]
enum PathRecord {
    Known(std::sync::Arc<str>),
    Copied(Box<str>),
}

/// The bounded journal of one IdP listener.
#[derive(Debug)]
pub struct Journal {
    started: Instant,
    seq: AtomicU64,
    recent: Mutex<VecDeque<RawEntry>>,
    capacity: usize,
}

impl Journal {
    pub(crate) fn new(capacity: usize) -> Self {
        Journal {
            started: Instant::now(),
            seq: AtomicU64::new(0),
            recent: Mutex::new(VecDeque::new()),
            capacity,
        }
    }

    /// Records a request to a known path (`path` is shared, not copied).
    pub(crate) fn record_known(
        &self,
        tenant: &std::sync::Arc<str>,
        endpoint: Endpoint,
        path: &std::sync::Arc<str>,
    ) {
        self.push(tenant.clone(), endpoint, PathRecord::Known(path.clone()));
    }

    /// Records a request to a path no route knows (copied, at most 256 characters).
    pub(crate) fn record(&self, tenant: &str, endpoint: Endpoint, path: &str) {
        self.push(
            tenant.into(),
            endpoint,
            PathRecord::Copied(path.chars().take(256).collect::<String>().into()),
        );
    }

    fn push(&self, tenant: std::sync::Arc<str>, endpoint: Endpoint, path: PathRecord) {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
        if self.capacity == 0 {
            return;
        }
        let entry = RawEntry {
            seq,
            tenant,
            endpoint,
            path,
            at_ms: self.started.elapsed().as_millis() as u64,
        };
        let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        if recent.len() == self.capacity {
            recent.pop_front();
        }
        recent.push_back(entry);
    }

    /// How many requests this listener has received in all.
    pub fn total(&self) -> u64 {
        self.seq.load(Ordering::Relaxed)
    }

    /// The most recent entries (at most the journal's capacity), oldest first.
    pub fn recent(&self) -> Vec<Entry> {
        self.recent
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(RawEntry::to_entry)
            .collect()
    }

    /// Recent entries for one tenant with `seq > after`.
    pub fn entries_for(&self, tenant: &str, after: u64) -> Vec<Entry> {
        self.recent
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|e| e.seq > after && &*e.tenant == tenant)
            .map(RawEntry::to_entry)
            .collect()
    }
}

impl RawEntry {
    fn to_entry(&self) -> Entry {
        let path = match &self.path {
            PathRecord::Known(p) => p.to_string(),
            PathRecord::Copied(p) => p.to_string(),
        };
        Entry {
            seq: self.seq,
            tenant: self.tenant.to_string(),
            endpoint: self.endpoint,
            path,
            at_ms: self.at_ms,
        }
    }
}
