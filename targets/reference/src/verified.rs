//! A verified token: its tenant, its mapped claims and the `200` body, made once and shared by
//! the validator and its verified-token cache.

use std::sync::Arc;

use crate::json_object::JsonObject;

/// A token that passed every check, with the contract's `200` body already
/// serialized (so a verified-token cache hit costs a reference count, not a
/// serialization).
#[derive(Debug, Clone)]
pub struct Verified {
    /// The tenant slug the request named.
    pub tenant: String,
    /// The claims after `claim_mappings`.
    pub claims: JsonObject,
    /// `{"tenant": ..., "claims": ...}` as the contract's `200` body.
    pub body: bytes::Bytes,
}

impl Verified {
    /// The verification of a token for `tenant` with these (mapped) claims;
    /// writes the `200` body once, embedding the claims' text as it is.
    ///
    /// ```
    /// use byoid_reference::json_object::JsonObject;
    /// let v = byoid_reference::verified::Verified::new("acme", JsonObject::from_map(&Default::default()));
    /// assert_eq!(&v.body[..], br#"{"tenant":"acme","claims":{}}"#);
    /// ```
    pub fn new(tenant: &str, claims: JsonObject) -> Arc<Verified> {
        let json = claims.json().trim();
        // Exact for a slug without escapes, so the Vec becomes `Bytes` without
        // another allocation.
        let mut body = Vec::with_capacity(json.len() + tenant.len() + 23);
        body.extend_from_slice(br#"{"tenant":"#);
        // Writing a string into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut body, tenant);
        body.extend_from_slice(br#","claims":"#);
        body.extend_from_slice(json.as_bytes());
        body.push(b'}');
        Arc::new(Verified {
            tenant: tenant.to_owned(),
            claims,
            body: body.into(),
        })
    }
}
