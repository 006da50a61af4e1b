//! The HTTP side of a case: the request a token travels in (where the run's tenant source
//! puts the slug), and the run's ports named stably in whatever a report shows.

use crate::catalog::TokenIn;
use crate::client::Outgoing;
use crate::judge::{self, Observed};
use crate::world::{TenantSource, World};

/// `text` with the run's ports replaced by stable names: ports change from run to run, and a
/// report's bytes must not. `tenant_base` is the case tenant's base URL, which has a port of
/// its own when the tenant has a listener of its own (plain HTTP in a TLS run).
pub(crate) fn stable_text(
    world: &World,
    addr: &str,
    tenant_base: Option<&str>,
    text: String,
) -> String {
    let text = match tenant_base {
        Some(base) if base != world.idp.uri() => text.replace(base, "http://{tenant-listener}"),
        _ => text,
    };
    text.replace(world.idp.uri(), "http://{idp}")
        .replace(world.idp.attacker().uri(), "http://{attacker}")
        .replace(addr, "{target}")
        .replace(
            &format!(":{}", addr.rsplit(':').next().unwrap_or("")),
            ":{port}",
        )
}

/// What was observed, with the body's ports named and its Unix times masked.
pub(crate) fn stable_observed(
    world: &World,
    addr: &str,
    tenant_base: Option<&str>,
    obs: Observed,
) -> Observed {
    Observed {
        body: judge::mask_times(&stable_text(world, addr, tenant_base, obs.body.clone())),
        ..obs
    }
}

/// Builds the request to `route`; returns it with the Host header to use. `slug` goes where
/// the run's tenant source says; a `decoy` slug goes into the channels it does not use (a
/// `Host` subdomain in header and path runs, an `X-Tenant-Slug` header in path and subdomain
/// runs). A path-source request that names no tenant drops the prefix and the slug's segment.
pub fn request_for(
    world: &World,
    addr: &str,
    slug: &str,
    decoy: Option<&str>,
    spec: &crate::catalog::RequestSpec,
    route: &crate::profile::Route,
    token: &str,
) -> (Outgoing, String) {
    let port = addr.rsplit(':').next().unwrap_or("80");
    let profile = &world.profile;
    let mut headers: Vec<(String, String)> = Vec::new();
    let mut host = format!("127.0.0.1:{port}");
    let mut path = route.path.clone();
    match &profile.tenant_source {
        TenantSource::Header(h) if !slug.is_empty() => headers.push((h.clone(), slug.to_string())),
        TenantSource::Header(_) => {}
        TenantSource::Path(_) if !slug.is_empty() => path = path.replace("{tenant}", slug),
        TenantSource::Path(_) => {
            let after = path.split_once("/{tenant}").map_or("", |(_, rest)| rest);
            path = if after.is_empty() {
                "/".into()
            } else {
                after.to_string()
            };
        }
        TenantSource::Subdomain if !slug.is_empty() => {
            host = format!("{}:{port}", profile.host.replace("{tenant}", slug))
        }
        TenantSource::Subdomain => {
            let bare = profile
                .host
                .strip_prefix("{tenant}.")
                .unwrap_or("localhost");
            host = format!("{bare}:{port}")
        }
    }
    if let Some(decoy) = decoy {
        if !matches!(profile.tenant_source, TenantSource::Subdomain) {
            host = format!("{decoy}.localhost:{port}");
        }
        if !matches!(profile.tenant_source, TenantSource::Header(_)) {
            headers.push(("x-tenant-slug".into(), decoy.to_string()));
        }
    }
    let auth = spec
        .authorization
        .as_ref()
        .map(|a| a.replace("{token}", token))
        .unwrap_or_else(|| format!("{}{}{token}", spec.scheme, spec.separator));
    let form = format!("access_token={}", urlencode(token));
    let mut body = String::new();
    let mut method = spec.method.clone().unwrap_or_else(|| route.method.clone());
    let query_sep = if path.contains('?') { '&' } else { '?' };
    match spec.token_in {
        TokenIn::Header => headers.push(("authorization".into(), auth)),
        TokenIn::Query => path = format!("{path}{query_sep}{form}"),
        TokenIn::Body | TokenIn::HeaderAndBody => {
            if spec.token_in == TokenIn::HeaderAndBody {
                headers.push(("authorization".into(), auth));
            }
            method = spec.method.clone().unwrap_or_else(|| "POST".into());
            headers.push((
                "content-type".into(),
                "application/x-www-form-urlencoded".into(),
            ));
            body = form;
        }
        TokenIn::HeaderAndQuery => {
            headers.push(("authorization".into(), auth));
            path = format!("{path}{query_sep}{form}");
        }
        TokenIn::TwoHeaders => {
            headers.push(("authorization".into(), auth.clone()));
            headers.push(("authorization".into(), auth));
        }
        TokenIn::None => {}
    }
    for (k, v) in &spec.headers {
        headers.push((k.to_ascii_lowercase(), v.replace("{token}", token)));
    }
    (
        Outgoing {
            method,
            path,
            headers,
            body,
        },
        host,
    )
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The request with the token shortened, for evidence.
pub(crate) fn shorten(req: &Outgoing, token: &str) -> Outgoing {
    // The length is shown only for large tokens, in KiB: ECDSA signatures vary by a byte.
    let size = if token.len() >= 4096 {
        format!("({} KiB)", token.len() / 1024)
    } else {
        String::new()
    };
    let short = if token.len() > 48 {
        // At most 40 characters, and at most 16 past the first dot: what follows a short or
        // empty header is the claims, whose encoding carries ports and times that change
        // between runs (the evidence shows them decoded).
        let cut = token.char_indices().nth(40).map(|(i, _)| i).unwrap_or(0);
        let cut = match token[..cut].find('.') {
            Some(dot) => cut.min(dot + 1 + 16),
            None => cut,
        };
        format!("{}…{size}", &token[..cut])
    } else {
        token.to_string()
    };
    let fix = |s: &str| {
        if token.is_empty() {
            s.to_string()
        } else {
            s.replace(token, &short).replace(&urlencode(token), &short)
        }
    };
    Outgoing {
        method: req.method.clone(),
        path: crate::recipe::truncate(&fix(&req.path), 200),
        headers: req
            .headers
            .iter()
            .map(|(n, v)| (n.clone(), crate::recipe::truncate(&fix(v), 200)))
            .collect(),
        body: crate::recipe::truncate(&fix(&req.body), 200),
    }
}
