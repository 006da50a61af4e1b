//! A stable share of the selected cases, for fanning one run out over several CI runners
//! (`byoid scenarios --partition K/N`), as cargo-nextest's `hash:K/N` does for tests. A case
//! belongs to share K when the FNV-1a hash of its id is K - 1 modulo N: the same case always
//! lands in the same share, whatever else the catalog or the filters hold.

use std::fmt;
use std::str::FromStr;

/// Share `index` (1-based) of `count`.
///
/// ```
/// use byoid::partition::Partition;
///
/// let shares: Vec<Partition> = (1..=3).map(|k| format!("{k}/3").parse().unwrap()).collect();
/// let id = "rfc8725/3.1/alg-none/okta";
/// assert_eq!(shares.iter().filter(|p| p.contains(id)).count(), 1);
/// assert!("0/3".parse::<Partition>().is_err() && "4/3".parse::<Partition>().is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Partition {
    index: u32,
    count: u32,
}

impl Partition {
    /// Whether the case `id` is in this share.
    pub fn contains(&self, id: &str) -> bool {
        fnv1a(id.as_bytes()) % u64::from(self.count) == u64::from(self.index - 1)
    }
    /// How many shares the run is cut into.
    pub fn count(&self) -> u32 {
        self.count
    }
    /// This share's number, from 1.
    pub fn index(&self) -> u32 {
        self.index
    }
}

impl FromStr for Partition {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad =
            || format!("`{s}` is not a partition: write K/N with 1 <= K <= N <= 1000, e.g. 2/3");
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count) = (
            k.parse::<u32>().map_err(|_| bad())?,
            n.parse::<u32>().map_err(|_| bad())?,
        );
        if index == 0 || index > count || count > 1000 {
            return Err(bad());
        }
        Ok(Partition { index, count })
    }
}

impl fmt::Display for Partition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// 64-bit FNV-1a: a fixed, documented hash, so a share never depends on the Rust release.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_id_is_in_exactly_one_share_and_shares_are_balanced() {
        let ids: Vec<String> = (0..3000)
            .map(|i| format!("rfc0000/1/case-{i}/okta"))
            .collect();
        let shares: Vec<Partition> = (1..=3).map(|k| Partition { index: k, count: 3 }).collect();
        let mut sizes = [0usize; 3];
        for id in &ids {
            let owners: Vec<usize> = (0..3).filter(|k| shares[*k].contains(id)).collect();
            assert_eq!(owners.len(), 1, "{id}");
            sizes[owners[0]] += 1;
        }
        assert!(sizes.iter().all(|n| (800..1200).contains(n)), "{sizes:?}");
        // A known value pins the hash: shares must not move between releases.
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
