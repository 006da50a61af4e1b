//! Traffic mixes, the bench's mock IdP tenants and manifest, and the token pools (minted,
//! and turned into request bytes, before the clock starts).

use mock_idp::forge::{self, Signature, SignatureDamage};
use mock_idp::{Flavor, MintOptions, MockIdp, Tenant, TenantSpec, TokenKind};

use crate::world::{base_quirks, manifest_entry};
use serde_json::{json, Value};

use crate::world::TenantSource;

/// One kind of traffic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum MixKind {
    /// Many distinct genuine tokens across tenants and flavors (expect 200).
    Genuine,
    /// One genuine token, over and over (expect 200; the target's best case).
    GenuineRepeated,
    /// Genuine tokens with one signature bit flipped (expect 401).
    BadSignature,
    /// Genuine-looking tokens that expired two hours ago (expect 401).
    Expired,
    /// Correctly signed tokens whose `kid` no JWKS publishes (expect 401; may cause JWKS refetches).
    UnknownKid,
    /// Genuine tokens sent for a tenant slug the manifest does not know (expect 401).
    UnknownTenant,
    /// Unsigned `alg: none` tokens (expect 401).
    None,
}

impl MixKind {
    /// Every mix `--mix` accepts.
    pub const ALL: [MixKind; 7] = [
        MixKind::Genuine,
        MixKind::GenuineRepeated,
        MixKind::BadSignature,
        MixKind::Expired,
        MixKind::UnknownKid,
        MixKind::UnknownTenant,
        MixKind::None,
    ];

    /// The `--mix` name.
    pub fn name(self) -> &'static str {
        match self {
            MixKind::Genuine => "genuine",
            MixKind::GenuineRepeated => "genuine-repeated",
            MixKind::BadSignature => "bad-signature",
            MixKind::Expired => "expired",
            MixKind::UnknownKid => "unknown-kid",
            MixKind::UnknownTenant => "unknown-tenant",
            MixKind::None => "none",
        }
    }

    fn flavors(self) -> &'static [Flavor] {
        match self {
            MixKind::Genuine => &Flavor::ALL,
            MixKind::GenuineRepeated => &[Flavor::Generic],
            _ => &[
                Flavor::EntraV2,
                Flavor::Okta,
                Flavor::Auth0,
                Flavor::Generic,
            ],
        }
    }

    fn tenants_per_flavor(self) -> usize {
        if self == MixKind::Genuine {
            2
        } else {
            1
        }
    }
}

/// A mix with its weight.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WeightedMix {
    /// Which traffic.
    pub kind: MixKind,
    /// Relative weight.
    pub weight: u32,
}

/// Parses `genuine=70,bad-signature=10,...` (a missing weight means 1).
pub fn parse_mix(text: &str) -> Result<Vec<WeightedMix>, String> {
    let mut out: Vec<WeightedMix> = Vec::new();
    for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (name, weight) = match item.split_once('=') {
            Some((n, w)) => {
                let w: u32 = w
                    .trim()
                    .parse()
                    .map_err(|_| format!("--mix: `{item}`: the weight must be a whole number"))?;
                (n.trim(), w)
            }
            None => (item, 1),
        };
        let kind = MixKind::ALL
            .iter()
            .copied()
            .find(|k| k.name() == name)
            .ok_or_else(|| {
                let known: Vec<&str> = MixKind::ALL.iter().map(|k| k.name()).collect();
                format!("--mix: unknown mix `{name}` (known: {})", known.join(", "))
            })?;
        if weight == 0 {
            continue;
        }
        if weight > 10_000 {
            return Err(format!("--mix: `{item}`: weights go up to 10000"));
        }
        if out.iter().any(|m| m.kind == kind) {
            return Err(format!("--mix: `{name}` appears twice"));
        }
        out.push(WeightedMix { kind, weight });
    }
    if out.is_empty() {
        return Err("--mix: no mix with a weight above 0".into());
    }
    Ok(out)
}

/// The interleaved order in which connections pick mixes (smooth weighted round robin over
/// the weights divided by their greatest common divisor).
pub fn schedule(mixes: &[WeightedMix]) -> Vec<u16> {
    fn gcd(a: u32, b: u32) -> u32 {
        if b == 0 {
            a
        } else {
            gcd(b, a % b)
        }
    }
    let g = mixes.iter().fold(0, |g, m| gcd(g, m.weight)).max(1);
    let weights: Vec<i64> = mixes.iter().map(|m| (m.weight / g) as i64).collect();
    let total: i64 = weights.iter().sum();
    let mut current = vec![0i64; weights.len()];
    let mut out = Vec::with_capacity(total as usize);
    for _ in 0..total {
        for (c, w) in current.iter_mut().zip(&weights) {
            *c += w;
        }
        let (best, _) = current
            .iter()
            .enumerate()
            .max_by_key(|(i, c)| (**c, std::cmp::Reverse(*i)))
            .expect("at least one mix");
        current[best] -= total;
        out.push(best as u16);
    }
    out
}

/// The tenants of the bench, by mix.
pub struct BenchWorld {
    /// The IdPs.
    pub idp: MockIdp,
    /// Tenants of each mix, in mix order.
    pub tenants: Vec<Vec<Tenant>>,
    /// The manifest (contract section 2).
    pub manifest: Value,
}

/// Starts the IdPs with the tenants the mixes need and builds the manifest.
pub async fn build_world(
    mixes: &[WeightedMix],
    seed: u64,
    listen: std::net::SocketAddr,
    source: &TenantSource,
    jwks_cache_seconds: u64,
) -> Result<BenchWorld, mock_idp::Error> {
    let idp = MockIdp::builder().seed(seed).listen(listen).start().await?;
    let mut tenants = Vec::new();
    let mut entries = Vec::new();
    for m in mixes {
        let mut ts = Vec::new();
        for f in m.kind.flavors() {
            for i in 0..m.kind.tenants_per_flavor() {
                let slug = format!("bench-{}-{}-{i}", m.kind.name(), f.name());
                // Two key rings for the whole bench: Entra's shared keys and everyone else's.
                let ring = if f.is_entra() { "entra" } else { "shared" };
                let t = idp.add_tenant(
                    TenantSpec::new(slug, *f)
                        .key_ring(ring)
                        .quirks(base_quirks(*f))
                        .roles(["reader"]),
                )?;
                entries.push(manifest_entry(&t, None));
                ts.push(t);
            }
        }
        tenants.push(ts);
    }
    let manifest = json!({
        "contract": crate::world::CONTRACT,
        "tenant_source": source.manifest_json(),
        "clock_skew_seconds": 60,
        "jwks_cache_seconds": jwks_cache_seconds,
        "require_https_metadata": false,
        "ca_bundle": null,
        "tenants": entries,
    });
    Ok(BenchWorld {
        idp,
        tenants,
        manifest,
    })
}

/// A token and the tenant slug to send it for.
struct Token {
    slug: String,
    token: Option<String>,
}

fn mint_one(kind: MixKind, tenants: &[Tenant], i: usize) -> Token {
    if tenants.is_empty() {
        return Token {
            slug: String::new(),
            token: None,
        };
    }
    let t = &tenants[i % tenants.len()];
    let slug = t.slug().to_string();
    let opts = MintOptions::default();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let token = match kind {
        MixKind::Genuine => {
            // Alternate app-only and delegated tokens.
            let opts = if (i / tenants.len()) % 2 == 1 {
                MintOptions {
                    kind: TokenKind::UserAccess,
                    ..opts
                }
            } else {
                opts
            };
            t.mint(&opts)
        }
        MixKind::GenuineRepeated => t.mint(&opts),
        MixKind::BadSignature => forge::damage_signature(&t.mint(&opts), SignatureDamage::FlipBit),
        MixKind::Expired => {
            let mut p = t.parts(&opts);
            p.claims.insert("exp".into(), json!(now - 7200));
            p.claims.insert("iat".into(), json!(now - 10800));
            if p.claims.contains_key("nbf") {
                p.claims.insert("nbf".into(), json!(now - 10800));
            }
            p.compact()
        }
        MixKind::UnknownKid => {
            let mut p = t.parts(&opts);
            let kid = format!("bench-unknown-kid-{i:06}");
            p.header.insert("kid".into(), json!(kid));
            if p.header.contains_key("x5t") {
                p.header.insert("x5t".into(), json!(kid));
            }
            p.compact()
        }
        MixKind::UnknownTenant => {
            return Token {
                slug: format!("bench-nosuch-{i}"),
                token: Some(t.mint(&opts)),
            };
        }
        MixKind::None => {
            let mut p = t.parts(&opts);
            p.header = serde_json::Map::new();
            p.header.insert("alg".into(), json!("none"));
            p.header.insert("typ".into(), json!("JWT"));
            p.signature = Signature::Segment(String::new());
            p.compact()
        }
    };
    Token {
        slug,
        token: Some(token),
    }
}

/// How requests reach the target.
#[derive(Clone, Debug)]
pub struct RequestShape {
    /// `127.0.0.1:PORT`.
    pub host: String,
    /// Where the tenant goes.
    pub source: TenantSource,
    /// The route (`/api/whoami`).
    pub path: String,
}

fn request_bytes(shape: &RequestShape, tok: &Token) -> Vec<u8> {
    let port = shape.host.rsplit(':').next().unwrap_or("80");
    let mut host = shape.host.clone();
    let mut path = shape.path.clone();
    let mut extra = String::new();
    match &shape.source {
        TenantSource::Header(h) => extra = format!("{h}: {}\r\n", tok.slug),
        TenantSource::Path(prefix) => path = format!("{prefix}/{}{}", tok.slug, shape.path),
        TenantSource::Subdomain => host = format!("{}.localhost:{port}", tok.slug),
    }
    let auth = tok
        .token
        .as_deref()
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n{auth}{extra}\r\n").into_bytes()
}

/// Mints every pool (on all cores, before the clock starts) and renders the request bytes.
pub async fn build_pools(
    mixes: &[WeightedMix],
    tenants: &[Vec<Tenant>],
    pool: usize,
    shape: &RequestShape,
) -> Vec<Vec<Vec<u8>>> {
    let mut jobs: Vec<(usize, MixKind, usize)> = Vec::new();
    for (m, mix) in mixes.iter().enumerate() {
        let n = match mix.kind {
            MixKind::GenuineRepeated => 1,
            _ => pool,
        };
        jobs.extend((0..n).map(|i| (m, mix.kind, i)));
    }
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .clamp(1, 8);
    let chunk = jobs.len().div_ceil(workers).max(1);
    let mut handles = Vec::new();
    for part in jobs.chunks(chunk) {
        let part = part.to_vec();
        let tenants: Vec<Vec<Tenant>> = tenants.to_vec();
        let shape = shape.clone();
        handles.push(tokio::task::spawn_blocking(move || {
            part.into_iter()
                .map(|(m, kind, i)| {
                    let tok = mint_one(
                        kind,
                        tenants.get(m).map(Vec::as_slice).unwrap_or_default(),
                        i,
                    );
                    (m, request_bytes(&shape, &tok))
                })
                .collect::<Vec<_>>()
        }));
    }
    let mut pools: Vec<Vec<Vec<u8>>> = vec![Vec::new(); mixes.len()];
    for h in handles {
        if let Ok(v) = h.await {
            for (m, bytes) in v {
                pools[m].push(bytes);
            }
        }
    }
    pools
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mixes_parse_with_weights_and_defaults() {
        let m = parse_mix("genuine=70, bad-signature=10,none").unwrap();
        assert_eq!(m.len(), 3);
        assert_eq!(
            m[2],
            WeightedMix {
                kind: MixKind::None,
                weight: 1
            }
        );
        assert!(parse_mix("genuine=x").is_err());
        assert!(parse_mix("bogus=1").is_err());
        assert!(parse_mix("genuine=1,genuine=2").is_err());
        assert!(parse_mix("genuine=0").is_err());
    }

    #[test]
    fn the_schedule_follows_the_weights_and_interleaves() {
        let m = parse_mix("genuine=80,bad-signature=20").unwrap();
        let s = schedule(&m);
        assert_eq!(s.len(), 5);
        assert_eq!(s.iter().filter(|&&i| i == 1).count(), 1);
        let m = parse_mix("genuine=2,expired=2").unwrap();
        assert_eq!(schedule(&m), vec![0, 1]);
    }
}
