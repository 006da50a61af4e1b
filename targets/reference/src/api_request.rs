//! [`ApiRequest`]: what the validator reads of a request to `/api/*`, as an
//! axum extractor.

use std::sync::Arc;

use axum::extract::rejection::RawPathParamsRejection;
use axum::extract::{FromRequest, FromRequestParts, RawPathParams, Request};
use axum::http::{header, HeaderMap};

use crate::bearer::{self, Bearer};
use crate::defect::Defect;
use crate::error::AuthError;
use crate::manifest::TenantSource;
use crate::{Validator, MAX_FORM_BODY_BYTES};

/// The bearer token a request presents (RFC 6750 section 2) and the slug of
/// the tenant it names (contract section 2), or the [`AuthError`] that refuses
/// it before any token check: two `Authorization` fields, a token sent by more
/// than one method, a form body over [`MAX_FORM_BODY_BYTES`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use std::sync::Arc;
/// use axum::extract::FromRequest;
/// use byoid_reference::{api_request::ApiRequest, Config, Manifest, Validator};
///
/// let manifest = Manifest::from_json(r#"{"tenant_source":{"kind":"header","header":"X-Tenant-Slug"},"tenants":[]}"#).unwrap();
/// let v = Arc::new(Validator::new(Config::new(manifest)));
/// let req = axum::http::Request::get("/api/whoami")
///     .header("authorization", "Bearer a.b.c")
///     .header("x-tenant-slug", "contoso")
///     .body(axum::body::Body::empty())
///     .unwrap();
/// let r = ApiRequest::from_request(req, &v).await.unwrap();
/// assert_eq!(r.token.unwrap().as_bytes(), b"a.b.c");
/// assert_eq!(r.tenant_slug.as_deref(), Some("contoso"));
/// # }
/// ```
#[derive(Debug)]
pub struct ApiRequest {
    /// The token, or `None` when the request carries no bearer credentials.
    pub token: Option<Bearer>,
    /// The tenant the request names through the manifest's `tenant_source`.
    pub tenant_slug: Option<String>,
}

impl FromRequest<Arc<Validator>> for ApiRequest {
    type Rejection = AuthError;

    async fn from_request(req: Request, v: &Arc<Validator>) -> Result<Self, AuthError> {
        let (mut parts, body) = req.into_parts();
        let defects = &v.config.defects;
        let authorization = |limit: usize| {
            parts
                .headers
                .get_all(header::AUTHORIZATION)
                .iter()
                .any(|h| h.len() > limit)
        };
        if defects.contains(Defect::HugeTokenCrashes) && authorization(32 * 1024) {
            return Err(AuthError::leaked(
                "RangeError: offset is out of bounds (decode buffer of 32768 bytes)".into(),
            ));
        }
        if defects.contains(Defect::SmallHeaderLimit) && authorization(4096) {
            return Err(AuthError::header_too_large());
        }
        // Only a `{prefix}/{slug}/api/...` route has a parameter: the slug segment, which
        // axum percent-decodes. One that is not UTF-8 once decoded names U+FFFD, which
        // matches no configured slug.
        let path_slug = match RawPathParams::from_request_parts(&mut parts, v).await {
            Ok(params) => params.iter().next().map(|(_, slug)| slug.to_owned()),
            Err(RawPathParamsRejection::InvalidUtf8InPathParam(_)) => Some("\u{FFFD}".into()),
            Err(_) => None,
        };
        let form = if is_form(&parts.headers) {
            let bytes = axum::body::to_bytes(body, MAX_FORM_BODY_BYTES)
                .await
                .map_err(|_| AuthError::payload_too_large())?;
            Some(bytes)
        } else {
            None
        };
        let token = bearer::extract(
            &parts.method,
            &parts.headers,
            parts.uri.query(),
            form.as_deref(),
            defects,
        )?;
        let path_slug = match &v.config.manifest.tenant_source {
            // The defect: `segments[1]`, written when the routes had no prefix.
            TenantSource::Path { prefix }
                if !prefix.is_empty() && defects.contains(Defect::PathSlugFirstSegment) =>
            {
                parts.uri.path().split('/').nth(1).map(str::to_owned)
            }
            _ => path_slug,
        };
        let tenant_slug = v
            .resolver
            .slug(&parts.headers, path_slug.as_deref())
            .map(|s| s.into_owned());
        if !defects.contains(Defect::AgreeHeaderIgnored) {
            check_agree_header(v, &parts.headers, tenant_slug.as_deref())?;
        }
        Ok(ApiRequest { token, tenant_slug })
    }
}

/// A tenant with an `agree_header` refuses a request whose header names another
/// tenant than the configured source did (contract section 3.1).
fn check_agree_header(
    v: &Validator,
    headers: &HeaderMap,
    slug: Option<&str>,
) -> Result<(), AuthError> {
    let Some(tenant) = slug.and_then(|s| v.resolver.tenants().iter().find(|t| t.slug == s)) else {
        return Ok(());
    };
    let Some(name) = &tenant.agree_header else {
        return Ok(());
    };
    let named = headers.get_all(name.as_str()).iter().collect::<Vec<_>>();
    if named.iter().any(|h| h.as_bytes() != tenant.slug.as_bytes()) {
        return Err(AuthError::invalid_token(
            "the tenant header names another tenant than the request",
        ));
    }
    Ok(())
}

/// Whether the request declares an `application/x-www-form-urlencoded` body.
fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|c| c.to_str().ok())
        .and_then(|c| c.split(';').next())
        .is_some_and(|c| {
            c.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}
