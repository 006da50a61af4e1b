//! The verified-token cache: a token that passed every check for a tenant is
//! answered from here the next times it comes, without parsing or a signature
//! check.
//!
//! Three rules keep it cheap and bounded under any traffic:
//!
//! * **Exact keys.** An entry is found by the token's full bytes (the 64-bit
//!   hash only picks the bucket), so no collision can alias two tokens. Keys are
//!   the bytes as sent, so a hit can be found before the token's syntax is
//!   checked (it was, when the token was verified).
//! * **Admission on the second sighting.** A token is stored only when it is
//!   verified for the second time (a small direct-mapped table of hashes
//!   remembers the first). Real clients send a token many times, so this costs
//!   one extra signature check per token; in exchange a stream of tokens seen
//!   once (many clients, a replay of old tokens, a load test) neither pays for
//!   insertion nor pushes the working set out. This is the "doorkeeper" of
//!   TinyLFU-style caches.
//! * **First in, first out.** When full, the oldest entry goes: O(1), where a
//!   scan for expired entries would cost O(capacity) per insertion exactly
//!   when the cache is full of live tokens.
//!
//! ```
//! use byoid_reference::clock::Clock;
//! use byoid_reference::token_cache::VerifiedTokenCache;
//! use byoid_reference::json_object::JsonObject;
//! use byoid_reference::verified::Verified;
//! use std::time::Duration;
//!
//! let cache = VerifiedTokenCache::new(100, Clock::system());
//! let v = Verified::new("acme", JsonObject::from_map(&Default::default()));
//! let h = cache.hash(b"a.b.c");
//! // First verification: remembered, not stored.
//! assert!(!cache.offer(h, b"a.b.c", &v, Duration::from_secs(60), None));
//! assert!(cache.get(h, b"a.b.c", "acme", 0.0).is_none());
//! // Second: stored; from now on it is a hit, for this tenant only.
//! assert!(cache.offer(h, b"a.b.c", &v, Duration::from_secs(60), None));
//! assert!(cache.get(h, b"a.b.c", "acme", 0.0).is_some());
//! assert!(cache.get(h, b"a.b.c", "other", 0.0).is_none());
//! ```

use std::collections::VecDeque;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hashbrown::HashTable;

use crate::clock::Clock;
use crate::verified::Verified;

/// Slots of the first-sighting table (8 bytes each: 64 KiB, small enough to
/// stay in cache; a token must come back before ~8,000 other new tokens to be
/// admitted on its second sighting, else on a later one).
const DOORKEEPER_SLOTS: usize = 1 << 13;

/// Bytes of a token's end that [`VerifiedTokenCache::hash`] reads: 48
/// base64url characters, 36 bytes of signature.
pub const HASHED_TAIL: usize = 48;

/// Bounded, exact-keyed, tenant-checked cache of verified tokens.
pub struct VerifiedTokenCache {
    hasher: foldhash::fast::RandomState,
    capacity: usize,
    /// Hashes of tokens verified once and not stored; direct-mapped. Outside
    /// the lock: a first sighting (every request of a stream of new tokens)
    /// costs one load and one store, no lock.
    seen_once: Box<[AtomicU64]>,
    inner: Mutex<Inner>,
    /// What entry lifetimes and `exp` are measured on.
    clock: Clock,
}

struct Inner {
    table: HashTable<Slot>,
    /// (hash, sequence number) of every insertion, oldest first.
    order: VecDeque<(u64, u64)>,
    next_seq: u64,
}

struct Slot {
    hash: u64,
    seq: u64,
    token: Box<[u8]>,
    verified: Arc<Verified>,
    /// The token's `exp`, rechecked (with skew) on every hit.
    exp: Option<f64>,
    /// End of the entry's life, in Unix seconds like `exp`, so that a hit
    /// reads the clock once.
    until: f64,
}

impl std::fmt::Debug for VerifiedTokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifiedTokenCache")
            .field("capacity", &self.capacity)
            .field("len", &self.len())
            .finish()
    }
}

impl VerifiedTokenCache {
    /// A cache of at most `capacity` tokens.
    pub fn new(capacity: usize, clock: Clock) -> Self {
        VerifiedTokenCache {
            clock,
            hasher: foldhash::fast::RandomState::default(),
            capacity,
            seen_once: (0..DOORKEEPER_SLOTS).map(|_| AtomicU64::new(0)).collect(),
            inner: Mutex::new(Inner {
                table: HashTable::new(),
                order: VecDeque::new(),
                next_seq: 0,
            }),
        }
    }

    /// The hash [`get`](Self::get) and [`offer`](Self::offer) take, computed
    /// once per request from the token's length and last [`HASHED_TAIL`]
    /// bytes. A JWS ends with its signature, which is as good as random for
    /// tokens that verify, and only tokens that verified are ever stored or
    /// remembered; a flood of forged tokens sharing one tail finds one short
    /// chain, and equality is always decided on the full bytes. The tail is
    /// enough, so the whole token is not hashed on every request.
    pub fn hash(&self, token: &[u8]) -> u64 {
        let tail = &token[token.len().saturating_sub(HASHED_TAIL)..];
        self.hasher.hash_one((token.len(), tail))
    }

    /// Entries stored now.
    pub fn len(&self) -> usize {
        self.lock().table.len()
    }

    /// Whether nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The stored verification of `token` for tenant `slug`, if it is still
    /// within its life and its `exp` (plus `skew_secs`). An expired entry is
    /// dropped on the way.
    pub fn get(
        &self,
        hash: u64,
        token: &[u8],
        slug: &str,
        skew_secs: f64,
    ) -> Option<Arc<Verified>> {
        self.lookup(hash, token, Some(slug), skew_secs)
    }

    /// [`get`](Self::get) for whatever tenant the token was stored for: the
    /// `token-cache-ignores-tenant` defect.
    pub fn get_for_any_tenant(
        &self,
        hash: u64,
        token: &[u8],
        skew_secs: f64,
    ) -> Option<Arc<Verified>> {
        self.lookup(hash, token, None, skew_secs)
    }

    fn lookup(
        &self,
        hash: u64,
        token: &[u8],
        slug: Option<&str>,
        skew_secs: f64,
    ) -> Option<Arc<Verified>> {
        let mut inner = self.lock();
        let Ok(slot) = inner
            .table
            .find_entry(hash, |s| s.hash == hash && &*s.token == token)
        else {
            return None;
        };
        let s = slot.get();
        let now = self.clock.unix_secs();
        let alive = now < s.until && s.exp.is_none_or(|exp| now <= exp + skew_secs);
        if !alive {
            slot.remove();
            return None;
        }
        slug.is_none_or(|slug| s.verified.tenant == slug)
            .then(|| s.verified.clone())
    }

    /// Offers a token that just passed every check, to be trusted for `ttl`
    /// (already capped by the caller at `exp` + skew and the key cache's life).
    /// Returns whether it was stored: only on its second offer (see the module
    /// docs), and never with a zero `ttl`.
    pub fn offer(
        &self,
        hash: u64,
        token: &[u8],
        verified: &Arc<Verified>,
        ttl: Duration,
        exp: Option<f64>,
    ) -> bool {
        if ttl.is_zero() || self.capacity == 0 {
            return false;
        }
        let door = &self.seen_once[(hash as usize) % self.seen_once.len()];
        // 0 marks an empty slot; a token whose hash is 0 is then admitted at
        // once, which is harmless. Two requests racing on a slot can at worst
        // delay or hasten one admission.
        if door.load(Ordering::Relaxed) != hash {
            door.store(hash, Ordering::Relaxed);
            return false;
        }
        door.store(0, Ordering::Relaxed);
        let mut inner = self.lock();
        let seq = inner.next_seq;
        inner.next_seq += 1;
        let until = self.clock.unix_secs() + ttl.as_secs_f64();
        if let Ok(mut slot) = inner
            .table
            .find_entry(hash, |s| s.hash == hash && &*s.token == token)
        {
            // Two requests raced with the same new token: refresh the entry.
            let s = slot.get_mut();
            s.verified = verified.clone();
            s.exp = exp;
            s.until = until;
            s.seq = seq;
        } else {
            while inner.table.len() >= self.capacity {
                if !inner.evict_oldest() {
                    break;
                }
            }
            inner.table.insert_unique(
                hash,
                Slot {
                    hash,
                    seq,
                    token: token.into(),
                    verified: verified.clone(),
                    exp,
                    until,
                },
                |s| s.hash,
            );
        }
        inner.order.push_back((hash, seq));
        // Refreshed and dropped entries leave stale marks behind: keep the
        // queue within twice the capacity.
        while inner.order.len() > 2 * self.capacity.max(1) {
            inner.evict_oldest();
        }
        true
    }
}

impl Inner {
    /// Drops the oldest entry (if its mark is not stale); false when the
    /// queue is empty.
    fn evict_oldest(&mut self) -> bool {
        let Some((hash, seq)) = self.order.pop_front() else {
            return false;
        };
        if let Ok(slot) = self
            .table
            .find_entry(hash, |s| s.hash == hash && s.seq == seq)
        {
            slot.remove();
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verified(tenant: &str) -> Arc<Verified> {
        Verified::new(
            tenant,
            crate::json_object::JsonObject::from_map(&Default::default()),
        )
    }

    const MIN: Duration = Duration::from_secs(60);

    /// Offers `token` twice (the second offer stores it).
    fn store(
        c: &VerifiedTokenCache,
        token: &str,
        v: &Arc<Verified>,
        ttl: Duration,
        exp: Option<f64>,
    ) {
        let h = c.hash(token.as_bytes());
        assert!(
            !c.offer(h, token.as_bytes(), v, ttl, exp),
            "the first offer only remembers"
        );
        assert!(
            c.offer(h, token.as_bytes(), v, ttl, exp),
            "the second offer stores"
        );
    }

    #[test]
    fn tokens_that_share_the_hashed_tail_never_alias() {
        let c = VerifiedTokenCache::new(10, Clock::system());
        let tail = "s".repeat(HASHED_TAIL);
        let (a, b) = (format!("a.x.{tail}"), format!("b.x.{tail}"));
        assert_eq!(
            c.hash(a.as_bytes()),
            c.hash(b.as_bytes()),
            "same length and tail"
        );
        store(&c, &a, &verified("acme"), MIN, None);
        assert!(c
            .get(c.hash(a.as_bytes()), a.as_bytes(), "acme", 0.0)
            .is_some());
        assert!(c
            .get(c.hash(b.as_bytes()), b.as_bytes(), "acme", 0.0)
            .is_none());
        store(&c, &b, &verified("other"), MIN, None);
        let hit = |t: &str, slug| {
            c.get(c.hash(t.as_bytes()), t.as_bytes(), slug, 0.0)
                .map(|v| v.tenant.clone())
        };
        assert_eq!(hit(&a, "acme").as_deref(), Some("acme"));
        assert_eq!(hit(&b, "other").as_deref(), Some("other"));
        assert_eq!(hit(&b, "acme"), None);
    }

    #[test]
    fn a_token_is_stored_on_its_second_verification_and_hits_only_its_tenant() {
        let c = VerifiedTokenCache::new(10, Clock::system());
        let (v, h) = (verified("a"), c.hash(b"t1"));
        assert!(!c.offer(h, b"t1", &v, MIN, None));
        assert!(c.get(h, b"t1", "a", 0.0).is_none());
        assert!(c.offer(h, b"t1", &v, MIN, None));
        assert!(c.get(h, b"t1", "a", 0.0).is_some());
        assert!(
            c.get(h, b"t1", "b", 0.0).is_none(),
            "another tenant never hits"
        );
        assert!(c.get(c.hash(b"t2"), b"t2", "a", 0.0).is_none());
        // The same hash with other bytes is a miss: keys are exact.
        assert!(c.get(h, b"t1x", "a", 0.0).is_none());
    }

    #[test]
    fn a_hit_rechecks_exp_and_the_entry_life() {
        let clock = Clock::manual(1_700_000_000);
        let c = VerifiedTokenCache::new(10, clock.clone());
        let v = verified("a");
        let now = clock.unix_secs();
        store(&c, "soon", &v, MIN, Some(now + 0.2));
        store(&c, "short", &v, Duration::from_millis(200), None);
        assert!(c.get(c.hash(b"soon"), b"soon", "a", 0.0).is_some());
        clock.advance(Duration::from_millis(300));
        assert!(
            c.get(c.hash(b"soon"), b"soon", "a", 0.0).is_none(),
            "exp passed"
        );
        assert!(
            c.get(c.hash(b"short"), b"short", "a", 0.0).is_none(),
            "ttl passed"
        );
        assert_eq!(c.len(), 0, "expired entries are dropped when met");
        // The skew extends exp on a hit.
        store(&c, "skewed", &v, MIN, Some(clock.unix_secs() - 1.0));
        assert!(c.get(c.hash(b"skewed"), b"skewed", "a", 30.0).is_some());
        assert!(c.get(c.hash(b"skewed"), b"skewed", "a", 0.0).is_none());
    }

    #[test]
    fn a_zero_ttl_stores_nothing() {
        let c = VerifiedTokenCache::new(10, Clock::system());
        let (v, h) = (verified("a"), c.hash(b"t"));
        assert!(!c.offer(h, b"t", &v, Duration::ZERO, None));
        assert!(!c.offer(h, b"t", &v, Duration::ZERO, None));
        assert!(c.is_empty());
    }

    #[test]
    fn the_oldest_entry_goes_first_and_the_size_stays_bounded() {
        let c = VerifiedTokenCache::new(100, Clock::system());
        let v = verified("a");
        for i in 0..250 {
            store(&c, &format!("t{i}"), &v, MIN, None);
            assert!(c.len() <= 100);
        }
        assert_eq!(c.len(), 100);
        assert!(
            c.get(c.hash(b"t149"), b"t149", "a", 0.0).is_none(),
            "evicted"
        );
        assert!(c.get(c.hash(b"t150"), b"t150", "a", 0.0).is_some(), "kept");
        assert!(c.get(c.hash(b"t249"), b"t249", "a", 0.0).is_some(), "kept");
        assert!(c.lock().order.len() <= 200);
    }

    #[test]
    fn tokens_seen_once_are_not_stored() {
        let c = VerifiedTokenCache::new(1000, Clock::system());
        let v = verified("a");
        for i in 0..5000 {
            let t = format!("once-{i}");
            assert!(!c.offer(c.hash(t.as_bytes()), t.as_bytes(), &v, MIN, None));
        }
        assert!(c.is_empty());
    }

    #[test]
    fn a_raced_second_store_refreshes_the_entry_without_growing() {
        let c = VerifiedTokenCache::new(10, Clock::system());
        store(&c, "t", &verified("a"), MIN, None);
        // Two more verifications of the same token: remembered, then refreshed.
        store(&c, "t", &verified("b"), MIN, None);
        assert_eq!(c.len(), 1);
        assert!(c.get(c.hash(b"t"), b"t", "b", 0.0).is_some());
    }
}
