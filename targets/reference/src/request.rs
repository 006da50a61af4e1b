//! What the validator reads of a request: its method, path, query and header
//! fields, whichever HTTP server parsed them.
//!
//! Two servers feed the same request path ([`crate::answer`]): [`crate::app`]
//! (axum, for tests driven with tower's `oneshot`) hands it an
//! [`http::HeaderMap`](axum::http::HeaderMap), and [`crate::serve`] (the
//! reference's own HTTP/1.1 loop, [`crate::http1`]) hands it the header fields
//! as httparse found them in the read buffer, without building a map.

use axum::http::{HeaderMap, Method};

/// Header fields looked up by name.
///
/// ```
/// use axum::http::HeaderMap;
/// use byoid_reference::request::HeaderLookup;
///
/// let mut map = HeaderMap::new();
/// map.append("x-tenant-slug", "contoso".parse().unwrap());
/// assert_eq!(map.field_value("x-tenant-slug"), Some(&b"contoso"[..]));
///
/// let fields = [httparse::Header { name: "X-Tenant-Slug", value: b"contoso" }];
/// assert_eq!(fields[..].field_value("x-tenant-slug"), Some(&b"contoso"[..]));
/// assert_eq!(fields[..].field_values("authorization").count(), 0);
/// ```
pub trait HeaderLookup {
    /// Every value of the field `name` (lowercase), in the order received.
    fn field_values<'s>(&'s self, name: &str) -> impl Iterator<Item = &'s [u8]>;

    /// The first value of the field `name` (lowercase).
    fn field_value<'s>(&'s self, name: &str) -> Option<&'s [u8]> {
        self.field_values(name).next()
    }
}

impl HeaderLookup for HeaderMap {
    fn field_values<'s>(&'s self, name: &str) -> impl Iterator<Item = &'s [u8]> {
        self.get_all(name).into_iter().map(|v| v.as_bytes())
    }
}

impl HeaderLookup for [httparse::Header<'_>] {
    fn field_values<'s>(&'s self, name: &str) -> impl Iterator<Item = &'s [u8]> {
        // Field names are case-insensitive (RFC 9110 section 5.1).
        self.iter()
            .filter(move |h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value)
    }
}

/// A field value as text when it is visible ASCII (tabs allowed), the same
/// rule as `HeaderValue::to_str`; anything else reads as absent.
///
/// ```
/// use byoid_reference::request::ascii_value;
/// assert_eq!(ascii_value(b"contoso"), Some("contoso"));
/// assert_eq!(ascii_value("caf\u{e9}".as_bytes()), None);
/// ```
pub fn ascii_value(value: &[u8]) -> Option<&str> {
    if value
        .iter()
        .all(|&b| b == b'\t' || (0x20..0x7f).contains(&b))
    {
        std::str::from_utf8(value).ok()
    } else {
        None
    }
}

/// The parts of a request the validator reads, borrowed from whichever server
/// parsed it.
#[derive(Debug, Clone, Copy)]
pub struct RequestHead<'a, H: ?Sized> {
    /// The request method.
    pub method: &'a Method,
    /// The path of the request target, as sent (not percent-decoded).
    pub path: &'a str,
    /// The query of the request target, without the `?`.
    pub query: Option<&'a str>,
    /// The header fields.
    pub headers: &'a H,
}

/// The body, as far as the validator cares: only a form body can carry a
/// token (RFC 6750 section 2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormBody<'a> {
    /// The request is not `application/x-www-form-urlencoded`.
    NotForm,
    /// A form body, read in full.
    Form(&'a [u8]),
    /// A form body longer than [`crate::MAX_FORM_BODY_BYTES`]: 413.
    TooLarge,
}

/// Whether the request declares an `application/x-www-form-urlencoded` body.
pub fn is_form<H: HeaderLookup + ?Sized>(headers: &H) -> bool {
    headers
        .field_value("content-type")
        .and_then(ascii_value)
        .and_then(|c| c.split(';').next())
        .is_some_and(|c| {
            c.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}
