//! One error type, [`AuthError`], whose [`IntoResponse`] implements the
//! contract's response table (RFC 6750 section 3).
//!
//! | kind | status | `WWW-Authenticate` |
//! |---|---|---|
//! | [`AuthErrorKind::NoCredentials`] | 401 | `Bearer realm="byoid"` |
//! | [`AuthErrorKind::InvalidToken`] | 401 | `Bearer realm="byoid", error="invalid_token", error_description="..."` |
//! | [`AuthErrorKind::InvalidRequest`] | 400 | `Bearer realm="byoid", error="invalid_request", ...` |
//! | [`AuthErrorKind::InsufficientScope`] | 403 | `Bearer realm="byoid", error="insufficient_scope", scope="admin", ...` |
//!
//! Every `error_description` is a fixed, crate-written sentence; internal error
//! text (the `detail`) reaches a response only in debug mode.

use std::fmt;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::defect::{Defect, DefectSet};

/// The kinds of [`AuthError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthErrorKind {
    /// No bearer credential at all: 401 without an `error` parameter.
    NoCredentials,
    /// A token was presented and is invalid for any reason: 401 `invalid_token`.
    InvalidToken,
    /// The request is malformed (e.g. token by more than one method): 400 `invalid_request`.
    InvalidRequest,
    /// The token is valid but lacks the `admin` role: 403 `insufficient_scope`.
    InsufficientScope,
    /// The request body is larger than the form-body limit: 413.
    PayloadTooLarge,
    /// Only produced by the `leak-exception-text` defect: a 500 with internal text.
    LeakedInternal,
    /// Only produced by the `small-header-limit` defect: 431 without a body.
    HeaderTooLarge,
}

/// A rejected request.
#[derive(Debug, Clone)]
pub struct AuthError {
    kind: AuthErrorKind,
    description: &'static str,
    detail: Option<String>,
    /// The `no-error-param` defect: `invalid_token` without its `error` parameter.
    bare: bool,
    /// The `no-challenge-on-401` defect: no `WWW-Authenticate` at all.
    no_challenge: bool,
    /// The `bare-bearer-challenge` defect: `Bearer` without any auth-param.
    bare_scheme: bool,
    /// The `error-description-echoes-kid` defect: the description with the token's text in it.
    echoed: Option<String>,
}

impl AuthError {
    /// No bearer credentials.
    pub fn no_credentials() -> Self {
        Self::new(AuthErrorKind::NoCredentials, "")
    }
    /// An invalid token; `description` is a fixed sentence safe to send.
    pub fn invalid_token(description: &'static str) -> Self {
        Self::new(AuthErrorKind::InvalidToken, description)
    }
    /// A malformed request.
    pub fn invalid_request(description: &'static str) -> Self {
        Self::new(AuthErrorKind::InvalidRequest, description)
    }
    /// A valid token lacking the role.
    pub fn insufficient_scope(description: &'static str) -> Self {
        Self::new(AuthErrorKind::InsufficientScope, description)
    }
    pub(crate) fn payload_too_large() -> Self {
        Self::new(AuthErrorKind::PayloadTooLarge, "request body too large")
    }
    pub(crate) fn header_too_large() -> Self {
        Self::new(AuthErrorKind::HeaderTooLarge, "")
    }
    pub(crate) fn leaked(text: String) -> Self {
        let mut e = Self::new(AuthErrorKind::LeakedInternal, "internal error");
        e.detail = Some(text);
        e
    }
    fn new(kind: AuthErrorKind, description: &'static str) -> Self {
        AuthError {
            kind,
            description,
            detail: None,
            bare: false,
            no_challenge: false,
            bare_scheme: false,
            echoed: None,
        }
    }

    /// The `error-description-echoes-kid` defect: `description` is sent instead of the fixed
    /// sentence, escaped for a quoted-string but not filtered to RFC 6750's characters.
    pub(crate) fn echoing(mut self, description: String) -> Self {
        self.echoed = Some(description);
        self
    }

    /// Attaches internal detail, shown only in debug mode.
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// The kind.
    pub fn kind(&self) -> AuthErrorKind {
        self.kind
    }
    /// The fixed description sent as `error_description`.
    pub fn description(&self) -> &'static str {
        self.description
    }
    /// Internal detail (never sent unless debug mode is on).
    pub fn detail(&self) -> Option<&str> {
        self.detail.as_deref()
    }

    /// The error as the service sends it: internal detail dropped unless
    /// `debug` (leaked text survives: that is its defect), and the defects that
    /// change a challenge applied.
    pub(crate) fn into_sent(mut self, debug: bool, defects: &DefectSet) -> Self {
        if !debug && self.kind != AuthErrorKind::LeakedInternal {
            self.detail = None;
        }
        self.bare =
            self.kind == AuthErrorKind::InvalidToken && defects.contains(Defect::NoErrorParam);
        self.no_challenge =
            self.kind == AuthErrorKind::NoCredentials && defects.contains(Defect::NoChallengeOn401);
        self.bare_scheme = self.kind == AuthErrorKind::NoCredentials
            && defects.contains(Defect::BareBearerChallenge);
        self
    }

    /// The `WWW-Authenticate` value, or `None` when there is none.
    pub fn www_authenticate(&self) -> Option<String> {
        let (error, scope) = match self.kind {
            _ if self.no_challenge => return None,
            AuthErrorKind::NoCredentials if self.bare_scheme => return Some("Bearer".to_owned()),
            AuthErrorKind::NoCredentials => return Some(r#"Bearer realm="byoid""#.to_owned()),
            AuthErrorKind::InvalidToken if self.bare => {
                return Some(r#"Bearer realm="byoid""#.to_owned())
            }
            AuthErrorKind::InvalidToken => ("invalid_token", None),
            AuthErrorKind::InvalidRequest => ("invalid_request", None),
            AuthErrorKind::InsufficientScope => ("insufficient_scope", Some("admin")),
            AuthErrorKind::PayloadTooLarge
            | AuthErrorKind::LeakedInternal
            | AuthErrorKind::HeaderTooLarge => return None,
        };
        let mut v = format!(r#"Bearer realm="byoid", error="{error}""#);
        if let Some(echoed) = &self.echoed {
            let escaped = echoed.replace('\\', "\\\\").replace('"', "\\\"");
            v.push_str(&format!(r#", error_description="{escaped}""#));
        } else if !self.description.is_empty() {
            v.push_str(&format!(
                r#", error_description="{}""#,
                quotable(self.description)
            ));
        }
        if let Some(scope) = scope {
            v.push_str(&format!(r#", scope="{scope}""#));
        }
        Some(v)
    }

    fn status(&self) -> StatusCode {
        match self.kind {
            AuthErrorKind::NoCredentials | AuthErrorKind::InvalidToken => StatusCode::UNAUTHORIZED,
            AuthErrorKind::InvalidRequest => StatusCode::BAD_REQUEST,
            AuthErrorKind::InsufficientScope => StatusCode::FORBIDDEN,
            AuthErrorKind::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            AuthErrorKind::LeakedInternal => StatusCode::INTERNAL_SERVER_ERROR,
            AuthErrorKind::HeaderTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        }
    }
}

/// RFC 6750 section 3: error_description is %x20-21 / %x23-5B / %x5D-7E.
fn quotable(s: &str) -> String {
    s.chars()
        .filter(|c| matches!(*c, ' '..='~') && *c != '"' && *c != '\\')
        .collect()
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.kind, self.description)?;
        if let Some(d) = &self.detail {
            write!(f, " ({d})")?;
        }
        Ok(())
    }
}

impl std::error::Error for AuthError {}

impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        let status = self.status();
        match self.kind {
            // The defects: internal text straight into a 500 body; a bare 431.
            AuthErrorKind::LeakedInternal => {
                let text = self.detail.unwrap_or_default();
                return (status, [(header::CONTENT_TYPE, crate::TEXT_PLAIN)], text).into_response();
            }
            AuthErrorKind::HeaderTooLarge => return status.into_response(),
            _ => {}
        }
        let mut body = serde_json::Map::new();
        let error = match self.kind {
            AuthErrorKind::NoCredentials => "unauthorized",
            AuthErrorKind::InvalidToken => "invalid_token",
            AuthErrorKind::InvalidRequest => "invalid_request",
            AuthErrorKind::InsufficientScope => "insufficient_scope",
            _ => "payload_too_large",
        };
        body.insert("error".into(), error.into());
        if let Some(d) = &self.detail {
            body.insert("detail".into(), d.clone().into());
        }
        let json = serde_json::Value::Object(body).to_string();
        let mut resp = (
            status,
            [(header::CONTENT_TYPE, crate::APPLICATION_JSON)],
            json,
        )
            .into_response();
        if let Some(v) = self
            .www_authenticate()
            .and_then(|v| HeaderValue::from_bytes(v.as_bytes()).ok())
        {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_follow_the_contract_table() {
        assert_eq!(
            AuthError::no_credentials().www_authenticate().unwrap(),
            r#"Bearer realm="byoid""#
        );
        assert_eq!(
            AuthError::invalid_token("bad signature")
                .www_authenticate()
                .unwrap(),
            r#"Bearer realm="byoid", error="invalid_token", error_description="bad signature""#
        );
        assert_eq!(
            AuthError::invalid_request("x").www_authenticate().unwrap(),
            r#"Bearer realm="byoid", error="invalid_request", error_description="x""#
        );
        assert_eq!(
            AuthError::insufficient_scope("needs admin")
                .www_authenticate()
                .unwrap(),
            r#"Bearer realm="byoid", error="insufficient_scope", error_description="needs admin", scope="admin""#
        );
        let no_param = DefectSet::from(Defect::NoErrorParam);
        assert_eq!(
            AuthError::invalid_token("x")
                .into_sent(false, &no_param)
                .www_authenticate()
                .unwrap(),
            r#"Bearer realm="byoid""#
        );
        // The defect touches invalid_token only.
        assert!(AuthError::invalid_request("x")
            .into_sent(false, &no_param)
            .www_authenticate()
            .unwrap()
            .contains("error="));
        let no_challenge = DefectSet::from(Defect::NoChallengeOn401);
        let e = AuthError::no_credentials().into_sent(false, &no_challenge);
        assert_eq!(e.www_authenticate(), None);
        assert!(AuthError::invalid_token("x")
            .into_sent(false, &no_challenge)
            .www_authenticate()
            .is_some());
    }

    #[test]
    fn statuses_and_redaction() {
        let r = AuthError::invalid_token("x")
            .with_detail("secret internals")
            .into_sent(false, &DefectSet::new())
            .into_response();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        let e = AuthError::invalid_token("x")
            .with_detail("secret")
            .into_sent(false, &DefectSet::new());
        assert!(e.detail().is_none());
        let e = AuthError::invalid_token("x")
            .with_detail("secret")
            .into_sent(true, &DefectSet::new());
        assert_eq!(e.detail(), Some("secret"));
        assert_eq!(
            AuthError::invalid_request("x").into_response().status(),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            AuthError::insufficient_scope("x").into_response().status(),
            StatusCode::FORBIDDEN
        );
        assert_eq!(quotable("a\"b\\c\nd"), "abcd");
    }
}
