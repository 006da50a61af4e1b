//! Bounded HTTP fetches and the discovery document (OIDC Discovery 4.3, RFC 8414 3.3).

use std::time::Duration;

use serde_json::Value;

use crate::defect::{Defect, DefectSet};
use crate::manifest::TenantConfig;

/// Largest discovery or JWKS body read, in bytes.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Why a fetch or a fetched document was refused. Internal text: never sent
/// to clients unless debug mode is on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// No HTTP client could be built (TLS backend or CA bundle failure).
    #[error("no HTTP client available")]
    NoClient,
    /// `http:` where `require_https_metadata` demands `https:`, or not http(s) at all.
    #[error("refusing to fetch `{0}`: not an https URL")]
    Insecure(String),
    /// Connection, TLS or timeout failure.
    #[error("fetching `{url}` failed: {message}")]
    Transport {
        /// The URL.
        url: String,
        /// reqwest's message.
        message: String,
    },
    /// A non-2xx status.
    #[error("fetching `{url}` returned status {status}")]
    Status {
        /// The URL.
        url: String,
        /// The status code.
        status: u16,
    },
    /// Body larger than [`MAX_BODY_BYTES`].
    #[error("`{0}` returned a body larger than {MAX_BODY_BYTES} bytes")]
    TooLarge(String),
    /// Not JSON, or JSON of the wrong shape.
    #[error("`{url}` returned an unusable document: {message}")]
    Document {
        /// The URL.
        url: String,
        /// What is wrong.
        message: String,
    },
    /// The discovery `issuer` is not the issuer the metadata address implies.
    #[error("discovery issuer `{issuer}` does not match metadata address `{metadata}`")]
    IssuerMismatch {
        /// The document's issuer.
        issuer: String,
        /// The configured metadata address.
        metadata: String,
    },
    /// A recent attempt failed; not retried yet.
    #[error("a recent fetch failed; backing off")]
    BackingOff,
    /// Waiting for the IdP (a fetch, or another request's fetch) took longer than the ceiling.
    #[error("waiting for the identity provider took longer than {0:?}")]
    Ceiling(std::time::Duration),
}

/// GETs `url` as JSON with a bounded time (the client's timeout, plus a hard
/// outer limit) and a bounded body.
pub async fn fetch_json(
    client: Option<&reqwest::Client>,
    url: &str,
    require_https: bool,
    timeout: Duration,
) -> Result<Value, FetchError> {
    fetch_json_with(client, url, require_https, timeout, |body| {
        serde_json::from_slice(body)
    })
    .await
}

/// [`fetch_json`] with the body parsed by `parse` (a defect reads JSON another way).
pub async fn fetch_json_with(
    client: Option<&reqwest::Client>,
    url: &str,
    require_https: bool,
    timeout: Duration,
    parse: impl FnOnce(&[u8]) -> serde_json::Result<Value>,
) -> Result<Value, FetchError> {
    let client = client.ok_or(FetchError::NoClient)?;
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    let https = lower.starts_with("https://");
    let allowed = https || (!require_https && lower.starts_with("http://"));
    if !allowed {
        return Err(FetchError::Insecure(url.to_owned()));
    }
    let work = async {
        // reqwest's own text names only the step ("error sending request"); the
        // cause (refused, reset, timed out) is in its sources.
        let transport = |e: reqwest::Error| {
            let mut message = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                message.push_str(&format!(": {s}"));
                source = s.source();
            }
            FetchError::Transport {
                url: url.to_owned(),
                message,
            }
        };
        let mut resp = client
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(transport)?;
        if !resp.status().is_success() {
            return Err(FetchError::Status {
                url: url.to_owned(),
                status: resp.status().as_u16(),
            });
        }
        if resp
            .content_length()
            .is_some_and(|n| n > MAX_BODY_BYTES as u64)
        {
            return Err(FetchError::TooLarge(url.to_owned()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(transport)? {
            if body.len() + chunk.len() > MAX_BODY_BYTES {
                return Err(FetchError::TooLarge(url.to_owned()));
            }
            body.extend_from_slice(&chunk);
        }
        parse(&body).map_err(|e| FetchError::Document {
            url: url.to_owned(),
            message: e.to_string(),
        })
    };
    match tokio::time::timeout(timeout + Duration::from_millis(250), work).await {
        Ok(r) => r,
        Err(_) => Err(FetchError::Transport {
            url: url.to_owned(),
            message: "timed out".into(),
        }),
    }
}

/// The parts of a discovery document this validator uses.
#[derive(Debug, Clone, PartialEq)]
pub struct Discovery {
    /// `issuer`.
    pub issuer: String,
    /// `jwks_uri`.
    pub jwks_uri: String,
    /// The algorithms a token of this issuer may use: [`crate::checks::allowed_algs`] of
    /// `id_token_signing_alg_values_supported`, worked out once per document rather than
    /// per request.
    pub allowed_algs: Vec<crate::checks::Algorithm>,
}

/// Whether `metadata_address` is where `issuer`'s metadata lives: the OIDC form
/// (`issuer + /.well-known/openid-configuration`), the RFC 8414 suffix form
/// (`issuer + /.well-known/oauth-authorization-server`) or the RFC 8414 path
/// insertion form (`https://host/.well-known/oauth-authorization-server/path`).
/// A trailing slash on the issuer (Auth0, some Okta setups) is tolerated.
pub fn metadata_matches_issuer(metadata_address: &str, issuer: &str) -> bool {
    let base = issuer.trim_end_matches('/');
    if base.is_empty() {
        return false;
    }
    for suffix in [
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
    ] {
        if metadata_address.strip_suffix(suffix) == Some(base) {
            return true;
        }
    }
    // RFC 8414 section 3.1: the well-known segment goes between host and path.
    if let Some(scheme_end) = base.find("://") {
        let after = &base[scheme_end + 3..];
        if let Some(slash) = after.find('/') {
            let (origin, path) = base.split_at(scheme_end + 3 + slash);
            for wk in [
                "/.well-known/oauth-authorization-server",
                "/.well-known/openid-configuration",
            ] {
                if metadata_address == format!("{origin}{wk}{path}") {
                    return true;
                }
            }
        }
    }
    false
}

impl Discovery {
    /// Validates a fetched document for `tenant`. Of `defects`, those about discovery
    /// documents apply (`discovery-issuer-unchecked`, `discovery-issuer-optional`,
    /// `jwks-uri-guessed`).
    ///
    /// Under `discovery-issuer-optional` a document without `issuer` yields an empty
    /// [`Discovery::issuer`], which the caller takes as "no issuer to compare".
    pub fn from_document(
        doc: &Value,
        tenant: &TenantConfig,
        defects: &DefectSet,
    ) -> Result<Discovery, FetchError> {
        let bad = |m: &str| FetchError::Document {
            url: tenant.metadata_address.clone(),
            message: m.to_owned(),
        };
        let obj = doc.as_object().ok_or_else(|| bad("not a JSON object"))?;
        let issuer = obj
            .get("issuer")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty());
        let issuer = match issuer {
            Some(i) => i.to_owned(),
            None if defects.contains(Defect::DiscoveryIssuerOptional) => String::new(),
            None => return Err(bad("missing issuer")),
        };
        let jwks_uri = obj
            .get("jwks_uri")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty());
        let jwks_uri = match jwks_uri {
            Some(u) => u.to_owned(),
            // The defect: where the keys usually are (Auth0's layout).
            None if defects.contains(Defect::JwksUriGuessed) && !issuer.is_empty() => {
                format!("{}/.well-known/jwks.json", issuer.trim_end_matches('/'))
            }
            None => return Err(bad("missing jwks_uri")),
        };
        let check_issuer =
            !defects.contains(Defect::DiscoveryIssuerUnchecked) && !issuer.is_empty();
        // With valid_issuers the discovery issuer may be a `{tenantid}` template
        // (Entra "common") and cannot match; the token's iss is checked against the list.
        let matches = if defects.contains(Defect::OidcDiscoveryOnly) {
            // The defect: only `issuer + /.well-known/openid-configuration` is known.
            tenant
                .metadata_address
                .strip_suffix("/.well-known/openid-configuration")
                == Some(issuer.trim_end_matches('/'))
        } else {
            metadata_matches_issuer(&tenant.metadata_address, &issuer)
        };
        if tenant.valid_issuers.is_none() && check_issuer && !matches {
            return Err(FetchError::IssuerMismatch {
                issuer,
                metadata: tenant.metadata_address.clone(),
            });
        }
        Ok(Discovery {
            issuer,
            jwks_uri,
            allowed_algs: crate::checks::allowed_algs(
                obj.get("id_token_signing_alg_values_supported"),
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuer_matching_forms() {
        let m = "https://idp/contoso/v2.0/.well-known/openid-configuration";
        assert!(metadata_matches_issuer(m, "https://idp/contoso/v2.0"));
        assert!(metadata_matches_issuer(m, "https://idp/contoso/v2.0/"));
        assert!(!metadata_matches_issuer(m, "https://idp/contoso"));
        assert!(!metadata_matches_issuer(m, "https://evil/contoso/v2.0"));
        assert!(!metadata_matches_issuer(m, "https://idp/{tenantid}/v2.0"));
        assert!(metadata_matches_issuer(
            "https://a.auth0.com/.well-known/openid-configuration",
            "https://a.auth0.com/"
        ));
        assert!(metadata_matches_issuer(
            "https://h/t/.well-known/oauth-authorization-server",
            "https://h/t"
        ));
        assert!(metadata_matches_issuer(
            "https://h/.well-known/oauth-authorization-server/t",
            "https://h/t"
        ));
        assert!(!metadata_matches_issuer(
            "https://h/.well-known/openid-configuration",
            "/"
        ));
    }

    #[tokio::test]
    async fn refuses_insecure_when_required() {
        let c = reqwest::Client::new();
        let e = fetch_json(
            Some(&c),
            "http://127.0.0.1:1/x",
            true,
            Duration::from_millis(100),
        )
        .await;
        assert!(matches!(e, Err(FetchError::Insecure(_))));
        let e = fetch_json(
            Some(&c),
            "file:///etc/passwd",
            false,
            Duration::from_millis(100),
        )
        .await;
        assert!(matches!(e, Err(FetchError::Insecure(_))));
        assert_eq!(
            fetch_json(None, "http://x", false, Duration::from_millis(1)).await,
            Err(FetchError::NoClient)
        );
    }
}
