//! Tenant resolution from a header, the path segment after the prefix or the first `Host` label.

use std::borrow::Cow;

use axum::http::{header, HeaderMap, HeaderName, HeaderValue};

use crate::manifest::{Manifest, TenantConfig, TenantSource};

/// The outcome of resolving a request's tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution<'a> {
    /// The request names no tenant (or names it ambiguously).
    Missing,
    /// The request names a tenant the manifest does not have.
    Unknown,
    /// The tenant exists but is disabled: treated like [`Resolution::Unknown`].
    Disabled(&'a TenantConfig),
    /// An enabled tenant.
    Found(&'a TenantConfig),
}

/// Maps requests to tenants per the manifest's `tenant_source`.
#[derive(Debug, Clone)]
pub struct TenantResolver {
    source: TenantSource,
    /// The header of a `header` source; `None` when it is not a valid field name.
    header: Option<HeaderName>,
    tenants: Vec<TenantConfig>,
    /// The `tenant-from-any-channel` defect.
    any_channel: bool,
}

impl TenantResolver {
    /// A resolver over the manifest's tenants.
    pub fn new(manifest: &Manifest) -> Self {
        let header = match &manifest.tenant_source {
            // A name that is not a valid header name names no tenant on any request.
            TenantSource::Header { header } => HeaderName::try_from(header.as_str()).ok(),
            _ => None,
        };
        TenantResolver {
            source: manifest.tenant_source.clone(),
            header,
            tenants: manifest.tenants.clone(),
            any_channel: false,
        }
    }

    /// With the `tenant-from-any-channel` defect: a `Host` subdomain, then an
    /// `X-Tenant-Slug` header, then the configured source, first one found wins.
    pub fn with_any_channel(mut self, on: bool) -> Self {
        self.any_channel = on;
        self
    }

    /// The defect's lookup: the first tenant named by any channel.
    fn any_channel_slug<'a>(
        &self,
        headers: &'a HeaderMap,
        path_slug: Option<&'a str>,
    ) -> Option<Cow<'a, str>> {
        let host_label = headers
            .get(header::HOST)
            .and_then(text)
            .and_then(|h| h.split_once('.'))
            .map(|(label, _)| Cow::<str>::Owned(label.to_ascii_lowercase()))
            .filter(|l| !l.is_empty() && !l.bytes().all(|b| b.is_ascii_digit()));
        let header = headers
            .get("x-tenant-slug")
            .and_then(text)
            .map(|v| Cow::Borrowed(v.trim()))
            .filter(|v| !v.is_empty());
        host_label
            .or(header)
            .or_else(|| self.configured_slug(headers, path_slug))
    }

    /// The slug a request names. `path_slug` is the segment after the prefix when the
    /// source is `path` (the router extracts it).
    pub fn slug<'a>(
        &self,
        headers: &'a HeaderMap,
        path_slug: Option<&'a str>,
    ) -> Option<Cow<'a, str>> {
        if self.any_channel {
            return self.any_channel_slug(headers, path_slug);
        }
        self.configured_slug(headers, path_slug)
    }

    fn configured_slug<'a>(
        &self,
        headers: &'a HeaderMap,
        path_slug: Option<&'a str>,
    ) -> Option<Cow<'a, str>> {
        match &self.source {
            TenantSource::Path { .. } => path_slug.filter(|s| !s.is_empty()).map(Cow::Borrowed),
            TenantSource::Header { .. } => {
                let mut values = headers.get_all(self.header.as_ref()?).into_iter();
                match (values.next(), values.next()) {
                    // Two values would let a proxy and this service disagree: no tenant.
                    (Some(v), None) => text(v)
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(Cow::Borrowed),
                    _ => None,
                }
            }
            TenantSource::Subdomain => {
                let host = text(headers.get(header::HOST)?)?;
                let host = host.rsplit_once(':').map_or(host, |(h, port)| {
                    if port.bytes().all(|b| b.is_ascii_digit()) {
                        h
                    } else {
                        host
                    }
                });
                let (label, rest) = host.split_once('.')?;
                (!label.is_empty() && !rest.is_empty())
                    .then(|| Cow::Owned(label.to_ascii_lowercase()))
            }
        }
    }

    /// Resolves a request's tenant from its header fields and its path slug.
    pub fn resolve(&self, headers: &HeaderMap, path_slug: Option<&str>) -> Resolution<'_> {
        self.lookup(self.slug(headers, path_slug).as_deref())
    }

    /// The tenant a request named by `slug` ([`TenantResolver::slug`]), if any.
    pub fn lookup(&self, slug: Option<&str>) -> Resolution<'_> {
        let Some(slug) = slug else {
            return Resolution::Missing;
        };
        // Host names are case-insensitive; header and path slugs are exact.
        let subdomain = matches!(self.source, TenantSource::Subdomain);
        match self.tenants.iter().find(|t| {
            if subdomain {
                t.slug.eq_ignore_ascii_case(slug)
            } else {
                t.slug == slug
            }
        }) {
            None => Resolution::Unknown,
            Some(t) if !t.enabled => Resolution::Disabled(t),
            Some(t) => Resolution::Found(t),
        }
    }

    /// Every configured tenant.
    pub fn tenants(&self) -> &[TenantConfig] {
        &self.tenants
    }
}

/// A field value as text when it is visible ASCII (tabs allowed); anything
/// else names no tenant.
fn text(value: &HeaderValue) -> Option<&str> {
    value.to_str().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::{HeaderMap, HeaderValue};

    fn manifest(source: &str) -> Manifest {
        Manifest::from_json(&format!(
            r#"{{"tenant_source":{source},"tenants":[
              {{"slug":"contoso","metadata_address":"http://x","valid_audiences":[]}},
              {{"slug":"off","enabled":false,"metadata_address":"http://x","valid_audiences":[]}}]}}"#
        ))
        .unwrap()
    }
    fn hm(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn header_source() {
        let r = TenantResolver::new(&manifest(r#"{"kind":"header","header":"X-Tenant-Slug"}"#));
        assert!(
            matches!(r.resolve(&hm(&[("x-tenant-slug", "contoso")]), None), Resolution::Found(t) if t.slug == "contoso")
        );
        assert_eq!(
            r.resolve(&hm(&[("x-tenant-slug", "Contoso")]), None),
            Resolution::Unknown
        );
        assert_eq!(
            r.resolve(&hm(&[("x-tenant-slug", "nope")]), None),
            Resolution::Unknown
        );
        assert!(matches!(
            r.resolve(&hm(&[("x-tenant-slug", "off")]), None),
            Resolution::Disabled(_)
        ));
        assert_eq!(r.resolve(&hm(&[]), Some("contoso")), Resolution::Missing);
        assert_eq!(
            r.resolve(
                &hm(&[("x-tenant-slug", "contoso"), ("x-tenant-slug", "contoso")]),
                None
            ),
            Resolution::Missing
        );
    }

    #[test]
    fn path_source() {
        let r = TenantResolver::new(&manifest(r#"{"kind":"path"}"#));
        assert!(matches!(
            r.resolve(&hm(&[]), Some("contoso")),
            Resolution::Found(_)
        ));
        assert_eq!(
            r.resolve(&hm(&[("x-tenant-slug", "contoso")]), None),
            Resolution::Missing
        );
        assert_eq!(r.resolve(&hm(&[]), Some("x")), Resolution::Unknown);
    }

    #[test]
    fn subdomain_source() {
        let r = TenantResolver::new(&manifest(r#"{"kind":"subdomain"}"#));
        assert!(matches!(
            r.resolve(&hm(&[("host", "contoso.localhost:1234")]), None),
            Resolution::Found(_)
        ));
        assert!(matches!(
            r.resolve(&hm(&[("host", "CONTOSO.localhost")]), None),
            Resolution::Found(_)
        ));
        assert_eq!(
            r.resolve(&hm(&[("host", "localhost:1234")]), None),
            Resolution::Missing
        );
        assert_eq!(
            r.resolve(&hm(&[("host", "127.0.0.1:1234")]), None),
            Resolution::Unknown
        );
        assert_eq!(r.resolve(&hm(&[]), None), Resolution::Missing);
        assert!(matches!(
            r.resolve(&hm(&[("host", "off.localhost")]), None),
            Resolution::Disabled(_)
        ));
    }
}
