//! IdP flavors: the URL layout, discovery documents and token shapes of each vendor.
//!
//! Shapes follow each vendor's published token references; every flavor's crate-level doc
//! shows a decoded sample. Values that vendors make random (`uti`, `aio`, `jti`) are derived
//! from a per-tenant counter so a run with a fixed seed is reproducible.

use std::fmt;
use std::str::FromStr;

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

/// Which vendor a tenant imitates.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Flavor {
    /// Microsoft Entra ID, v2.0 endpoint and v2 access tokens.
    EntraV2,
    /// Microsoft Entra ID, v1 access tokens (`sts.windows.net` issuer, App ID URI audience).
    EntraV1,
    /// An Entra tenant configured through the multi-tenant `common` metadata, whose issuer is
    /// the template `.../{tenantid}/v2.0` and whose keys every Entra tenant shares.
    EntraCommon,
    /// An Okta custom authorization server.
    Okta,
    /// An Auth0 tenant (optionally with its RFC 9068 access-token profile).
    Auth0,
    /// A plain RFC 9068 issuer.
    Generic,
}

impl Flavor {
    /// Every flavor, in a stable order.
    pub const ALL: [Flavor; 6] = [
        Flavor::EntraV2,
        Flavor::EntraV1,
        Flavor::EntraCommon,
        Flavor::Okta,
        Flavor::Auth0,
        Flavor::Generic,
    ];

    /// The kebab-case name used in configs and scenario files.
    pub fn name(self) -> &'static str {
        match self {
            Flavor::EntraV2 => "entra-v2",
            Flavor::EntraV1 => "entra-v1",
            Flavor::EntraCommon => "entra-common",
            Flavor::Okta => "okta",
            Flavor::Auth0 => "auth0",
            Flavor::Generic => "generic",
        }
    }

    /// Whether tenants of this flavor serve RFC 8414 metadata
    /// ([`crate::Tenant::oauth_metadata_url`]), as Okta and plain RFC 9068 IdPs do.
    ///
    /// ```
    /// assert!(mock_idp::Flavor::Okta.serves_oauth_metadata());
    /// assert!(!mock_idp::Flavor::Auth0.serves_oauth_metadata());
    /// ```
    pub fn serves_oauth_metadata(self) -> bool {
        layout(self, "", "t", "").oauth_metadata.is_some()
    }

    /// Entra flavors share one key ring per cloud, as the real service does.
    pub fn is_entra(self) -> bool {
        matches!(
            self,
            Flavor::EntraV2 | Flavor::EntraV1 | Flavor::EntraCommon
        )
    }

    /// The claim under which this flavor carries roles/groups, before any claim mapping.
    pub fn roles_claim(self) -> &'static str {
        match self {
            Flavor::EntraV2 | Flavor::EntraV1 | Flavor::EntraCommon | Flavor::Generic => "roles",
            Flavor::Okta => "groups",
            Flavor::Auth0 => AUTH0_ROLES_CLAIM,
        }
    }

    /// The claims that carry the client id on this flavor's access tokens, in the order a
    /// validator consults them (the manifest's `client_id_claims`, contract section 2.2).
    ///
    /// ```
    /// assert_eq!(mock_idp::Flavor::Okta.client_id_claims(), ["cid"]);
    /// ```
    pub fn client_id_claims(self) -> &'static [&'static str] {
        match self {
            Flavor::EntraV2 | Flavor::EntraCommon => &["azp"],
            Flavor::EntraV1 => &["appid"],
            Flavor::Okta => &["cid"],
            // The RFC 9068 profile carries both; the default profile only `azp`.
            Flavor::Auth0 => &["client_id", "azp"],
            Flavor::Generic => &["client_id"],
        }
    }

    /// The default audience of this flavor's access tokens (the API's identifier).
    pub fn default_audience(self) -> &'static str {
        match self {
            // A multi-tenant Entra app has one application id in every tenant.
            Flavor::EntraV2 | Flavor::EntraCommon => "6f1c1e8a-5d3b-4c55-9a0e-b70e1d0c1a11",
            Flavor::EntraV1 => "api://byoid-resource",
            Flavor::Okta => "api://byoid",
            Flavor::Auth0 | Flavor::Generic => "https://api.byoid.test/",
        }
    }

    /// The JOSE `typ` this flavor puts on access tokens (`None`: no `typ` header).
    pub fn default_typ(self, rfc9068_profile: bool) -> Option<&'static str> {
        match self {
            Flavor::EntraV2 | Flavor::EntraV1 | Flavor::EntraCommon => Some("JWT"),
            Flavor::Okta => None,
            Flavor::Auth0 if rfc9068_profile => Some("at+jwt"),
            Flavor::Auth0 => Some("JWT"),
            Flavor::Generic => Some("at+jwt"),
        }
    }
}

/// Auth0 requires custom claims to be namespaced with a URL.
pub const AUTH0_ROLES_CLAIM: &str = "https://byoid.test/roles";

impl fmt::Display for Flavor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Flavor {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Flavor::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| {
                let names: Vec<_> = Flavor::ALL.iter().map(|f| f.name()).collect();
                format!("unknown flavor `{s}` (known flavors: {})", names.join(", "))
            })
    }
}

/// The endpoints a tenant serves, as absolute paths on its listener.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    /// `iss` of the tenant's tokens.
    pub issuer: String,
    /// OpenID discovery document path.
    pub discovery: String,
    /// RFC 8414 metadata path, where the vendor serves one.
    pub oauth_metadata: Option<String>,
    /// JWKS path.
    pub jwks: String,
    /// Token endpoint path.
    pub token: String,
    /// Authorization endpoint path (advertised only).
    pub authorize: String,
}

/// A stable GUID-shaped identifier derived from text (Entra tenant and object ids).
pub fn guid(seed: &str) -> String {
    let h = Sha256::digest(seed.as_bytes());
    let x: String = h.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &x[0..8],
        &x[8..12],
        &x[12..16],
        &x[16..20],
        &x[20..32]
    )
}

/// A stable alphanumeric identifier of length `len` derived from text.
pub fn alnum(seed: &str, len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut out = String::with_capacity(len);
    let mut counter = 0u32;
    while out.len() < len {
        let h = Sha256::digest(format!("{seed}/{counter}").as_bytes());
        out.extend(
            h.iter()
                .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char),
        );
        counter += 1;
    }
    out.truncate(len);
    out
}

/// The path layout of a tenant.
///
/// `base` is `http://127.0.0.1:PORT` (no trailing slash); `key` is the tenant's path key:
/// the GUID tenant id for Entra, the slug for the others.
pub fn layout(flavor: Flavor, base: &str, key: &str, common_prefix: &str) -> Layout {
    match flavor {
        Flavor::EntraV2 => entra_v2_layout(format!("{base}/{key}/v2.0"), &format!("/{key}")),
        Flavor::EntraV1 => Layout {
            // The real service issues from sts.windows.net while serving metadata from
            // login.microsoftonline.com; the path prefix `/sts` stands in for that other host.
            issuer: format!("{base}/sts/{key}/"),
            discovery: format!("/{key}/.well-known/openid-configuration"),
            oauth_metadata: None,
            jwks: format!("/{key}/discovery/keys"),
            token: format!("/{key}/oauth2/token"),
            authorize: format!("/{key}/oauth2/authorize"),
        },
        Flavor::EntraCommon => {
            // A v2 tenant that validators find through its ring's `common` document.
            let common = common_layout(base, common_prefix);
            Layout {
                discovery: common.discovery,
                jwks: common.jwks,
                ..layout(Flavor::EntraV2, base, key, common_prefix)
            }
        }
        Flavor::Okta => {
            let root = format!("/{key}/oauth2/default");
            Layout {
                issuer: format!("{base}{root}"),
                discovery: format!("{root}/.well-known/openid-configuration"),
                oauth_metadata: Some(format!("{root}/.well-known/oauth-authorization-server")),
                jwks: format!("{root}/v1/keys"),
                token: format!("{root}/v1/token"),
                authorize: format!("{root}/v1/authorize"),
            }
        }
        Flavor::Auth0 => Layout {
            issuer: format!("{base}/{key}/"),
            discovery: format!("/{key}/.well-known/openid-configuration"),
            oauth_metadata: None,
            jwks: format!("/{key}/.well-known/jwks.json"),
            token: format!("/{key}/oauth/token"),
            authorize: format!("/{key}/authorize"),
        },
        Flavor::Generic => Layout {
            issuer: format!("{base}/{key}"),
            discovery: format!("/{key}/.well-known/openid-configuration"),
            oauth_metadata: Some(format!("/{key}/.well-known/oauth-authorization-server")),
            jwks: format!("/{key}/jwks"),
            token: format!("/{key}/token"),
            authorize: format!("/{key}/authorize"),
        },
    }
}

/// Entra's v2 paths below `root` (`/{tenant id}`, or `…/common` for the multi-tenant
/// document), with `issuer` as `iss`.
fn entra_v2_layout(issuer: String, root: &str) -> Layout {
    Layout {
        issuer,
        discovery: format!("{root}/v2.0/.well-known/openid-configuration"),
        oauth_metadata: None,
        jwks: format!("{root}/discovery/v2.0/keys"),
        token: format!("{root}/oauth2/v2.0/token"),
        authorize: format!("{root}/oauth2/v2.0/authorize"),
    }
}

/// The layout of the multi-tenant `common` document of the Entra key ring whose paths start
/// with `prefix`: its `issuer` is the literal template `{base}/{tenantid}/v2.0`.
pub(crate) fn common_layout(base: &str, prefix: &str) -> Layout {
    entra_v2_layout(
        format!("{base}/{{tenantid}}/v2.0"),
        &format!("{prefix}/common"),
    )
}

/// The discovery document for a tenant. `issuer` is what the document claims (which a
/// mix-up fault may change); `algs` the advertised signing algorithms.
pub fn discovery_document(
    flavor: Flavor,
    base: &str,
    layout: &Layout,
    issuer: &str,
    algs: &[String],
) -> Value {
    let mut doc = Map::new();
    doc.insert("issuer".into(), json!(issuer));
    doc.insert(
        "authorization_endpoint".into(),
        json!(format!("{base}{}", layout.authorize)),
    );
    doc.insert(
        "token_endpoint".into(),
        json!(format!("{base}{}", layout.token)),
    );
    doc.insert("jwks_uri".into(), json!(format!("{base}{}", layout.jwks)));
    doc.insert(
        "response_types_supported".into(),
        json!(["code", "id_token", "code id_token", "token id_token"]),
    );
    doc.insert(
        "subject_types_supported".into(),
        json!(if flavor.is_entra() {
            "pairwise"
        } else {
            "public"
        }),
    );
    doc.insert("id_token_signing_alg_values_supported".into(), json!(algs));
    doc.insert(
        "token_endpoint_auth_methods_supported".into(),
        json!(["client_secret_post", "client_secret_basic"]),
    );
    doc.insert(
        "grant_types_supported".into(),
        json!(["client_credentials", "authorization_code"]),
    );
    match flavor {
        Flavor::EntraV2 | Flavor::EntraCommon | Flavor::EntraV1 => {
            doc.insert(
                "scopes_supported".into(),
                json!(["openid", "profile", "email", "offline_access"]),
            );
            doc.insert("tenant_region_scope".into(), json!("EU"));
            doc.insert("cloud_instance_name".into(), json!("microsoftonline.com"));
        }
        Flavor::Okta | Flavor::Generic => {
            doc.insert(
                "scopes_supported".into(),
                json!(["openid", "profile", "email", "api.read", "api.write"]),
            );
            doc.insert(
                "claims_supported".into(),
                json!(["iss", "sub", "aud", "exp", "iat", "jti", "cid", "scp"]),
            );
        }
        Flavor::Auth0 => {
            doc.insert(
                "scopes_supported".into(),
                json!(["openid", "profile", "offline_access", "email"]),
            );
        }
    }
    Value::Object(doc)
}

/// What kind of token to shape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenKind {
    /// An app-only access token from the client credentials grant.
    AppAccess,
    /// A delegated (user) access token.
    UserAccess,
    /// A genuine OpenID Connect id_token for the client, with `nonce` and `at_hash`.
    IdToken {
        /// The nonce to carry.
        nonce: String,
        /// `at_hash` of this access token, when given.
        access_token: Option<String>,
    },
}

/// Everything a shape function needs to know.
pub(crate) struct ShapeInput<'a> {
    pub flavor: Flavor,
    pub kind: &'a TokenKind,
    pub issuer: &'a str,
    pub tenant_key: &'a str,
    pub audience: &'a str,
    pub client_id: &'a str,
    pub now: i64,
    pub lifetime: i64,
    pub seq: u64,
    pub roles: &'a [String],
    pub scopes: &'a [String],
    pub rfc9068_profile: bool,
    pub alg: &'a str,
}

/// The claims of a genuine token of this flavor, in the vendor's member order.
pub(crate) fn claims(i: &ShapeInput<'_>) -> Map<String, Value> {
    let seq_id =
        |prefix: &str, len: usize| alnum(&format!("{}/{}/{}", i.tenant_key, prefix, i.seq), len);
    let user = matches!(i.kind, TokenKind::UserAccess | TokenKind::IdToken { .. });
    let user_oid = guid(&format!("{}/user", i.tenant_key));
    let app_oid = guid(&format!("{}/sp/{}", i.tenant_key, i.client_id));
    let mut c = Map::new();
    let put = |c: &mut Map<String, Value>, k: &str, v: Value| {
        c.insert(k.to_string(), v);
    };
    let exp = i.now + i.lifetime;
    if let TokenKind::IdToken {
        nonce,
        access_token,
    } = i.kind
    {
        put(&mut c, "iss", json!(i.issuer));
        put(&mut c, "aud", json!(i.client_id));
        match i.flavor {
            Flavor::Okta => {
                put(&mut c, "sub", json!(format!("00u{}", alnum(&user_oid, 17))));
                put(&mut c, "ver", json!(1));
                put(&mut c, "jti", json!(format!("ID.{}", seq_id("jti", 43))));
                put(&mut c, "amr", json!(["pwd"]));
                put(
                    &mut c,
                    "idp",
                    json!(format!("00o{}", alnum(i.tenant_key, 17))),
                );
            }
            Flavor::Auth0 => put(
                &mut c,
                "sub",
                json!(format!("auth0|{}", alnum(&user_oid, 24))),
            ),
            _ => put(
                &mut c,
                "sub",
                json!(alnum(&format!("{user_oid}/{}", i.client_id), 43)),
            ),
        }
        put(&mut c, "iat", json!(i.now));
        if i.flavor.is_entra() {
            put(&mut c, "nbf", json!(i.now));
        }
        put(&mut c, "exp", json!(exp));
        put(&mut c, "auth_time", json!(i.now - 30));
        put(&mut c, "nonce", json!(nonce));
        if let Some(at) = access_token {
            put(&mut c, "at_hash", json!(at_hash(at, i.alg)));
        }
        if i.flavor.is_entra() {
            put(&mut c, "name", json!("Ada Lovelace"));
            put(&mut c, "oid", json!(user_oid));
            put(&mut c, "preferred_username", json!("ada@contoso.example"));
            put(&mut c, "tid", json!(i.tenant_key));
            put(
                &mut c,
                "ver",
                json!(if i.flavor == Flavor::EntraV1 {
                    "1.0"
                } else {
                    "2.0"
                }),
            );
        }
        return c;
    }
    match i.flavor {
        Flavor::EntraV2 | Flavor::EntraCommon | Flavor::EntraV1 => {
            // v1 and v2 tokens share most members, in the same order; v1 names the client
            // `appid`, adds `idp` and `unique_name`, and has no `name` or `preferred_username`.
            let v1 = i.flavor == Flavor::EntraV1;
            put(&mut c, "aud", json!(i.audience));
            put(&mut c, "iss", json!(i.issuer));
            put(&mut c, "iat", json!(i.now));
            put(&mut c, "nbf", json!(i.now));
            put(&mut c, "exp", json!(exp));
            put(&mut c, "aio", json!(seq_id("aio", 56)));
            if v1 {
                put(&mut c, "appid", json!(i.client_id));
                put(&mut c, "appidacr", json!("1"));
                put(&mut c, "idp", json!(i.issuer));
            } else {
                put(&mut c, "azp", json!(i.client_id));
                put(&mut c, "azpacr", json!("1"));
                if user {
                    put(&mut c, "name", json!("Ada Lovelace"));
                }
            }
            put(
                &mut c,
                "oid",
                json!(if user { &user_oid } else { &app_oid }),
            );
            if user && !v1 {
                put(&mut c, "preferred_username", json!("ada@contoso.example"));
            }
            put(&mut c, "rh", json!(format!("0.{}.", seq_id("rh", 40))));
            if !i.roles.is_empty() || !user {
                put(&mut c, "roles", json!(i.roles));
            }
            if user {
                let default = if v1 {
                    "user_impersonation"
                } else {
                    "access_as_user"
                };
                put(&mut c, "scp", json!(scope_string(i.scopes, default)));
                if v1 {
                    put(&mut c, "unique_name", json!("ada@contoso.example"));
                }
            }
            put(
                &mut c,
                "sub",
                json!(if user {
                    alnum(&user_oid, 43)
                } else {
                    app_oid.clone()
                }),
            );
            put(&mut c, "tid", json!(i.tenant_key));
            put(&mut c, "uti", json!(seq_id("uti", 22)));
            put(&mut c, "ver", json!(if v1 { "1.0" } else { "2.0" }));
        }
        Flavor::Okta => {
            put(&mut c, "ver", json!(1));
            put(&mut c, "jti", json!(format!("AT.{}", seq_id("jti", 43))));
            put(&mut c, "iss", json!(i.issuer));
            put(&mut c, "aud", json!(i.audience));
            put(&mut c, "iat", json!(i.now));
            put(&mut c, "exp", json!(exp));
            put(&mut c, "cid", json!(i.client_id));
            if user {
                put(&mut c, "uid", json!(format!("00u{}", alnum(&user_oid, 17))));
            }
            let scp: Vec<&str> = if i.scopes.is_empty() {
                vec!["api.read"]
            } else {
                i.scopes.iter().map(String::as_str).collect()
            };
            put(&mut c, "scp", json!(scp));
            put(
                &mut c,
                "sub",
                json!(if user {
                    "ada@contoso.example".to_string()
                } else {
                    i.client_id.to_string()
                }),
            );
            if !i.roles.is_empty() {
                put(&mut c, "groups", json!(i.roles));
            }
        }
        Flavor::Auth0 => {
            if !i.roles.is_empty() {
                put(&mut c, AUTH0_ROLES_CLAIM, json!(i.roles));
            }
            put(&mut c, "iss", json!(i.issuer));
            put(
                &mut c,
                "sub",
                json!(if user {
                    format!("auth0|{}", alnum(&user_oid, 24))
                } else {
                    format!("{}@clients", i.client_id)
                }),
            );
            put(&mut c, "aud", json!(i.audience));
            put(&mut c, "iat", json!(i.now));
            put(&mut c, "exp", json!(exp));
            if i.rfc9068_profile {
                put(&mut c, "jti", json!(seq_id("jti", 22)));
                put(&mut c, "client_id", json!(i.client_id));
            }
            put(&mut c, "scope", json!(scope_string(i.scopes, "read:data")));
            if !user {
                put(&mut c, "gty", json!("client-credentials"));
            }
            put(&mut c, "azp", json!(i.client_id));
            put(
                &mut c,
                "permissions",
                json!(if i.scopes.is_empty() {
                    vec!["read:data".to_string()]
                } else {
                    i.scopes.to_vec()
                }),
            );
        }
        Flavor::Generic => {
            put(&mut c, "iss", json!(i.issuer));
            put(&mut c, "exp", json!(exp));
            put(&mut c, "aud", json!(i.audience));
            put(
                &mut c,
                "sub",
                json!(if user {
                    format!("user-{}", alnum(&user_oid, 12))
                } else {
                    i.client_id.to_string()
                }),
            );
            put(&mut c, "client_id", json!(i.client_id));
            put(&mut c, "iat", json!(i.now));
            put(&mut c, "jti", json!(seq_id("jti", 22)));
            put(&mut c, "scope", json!(scope_string(i.scopes, "api.read")));
            if !i.roles.is_empty() {
                put(&mut c, "roles", json!(i.roles));
            }
        }
    }
    c
}

fn scope_string(scopes: &[String], default: &str) -> String {
    if scopes.is_empty() {
        default.to_string()
    } else {
        scopes.join(" ")
    }
}

/// OIDC `at_hash`: base64url of the left half of the hash of the access token's ASCII bytes,
/// with the hash the signing alg uses.
pub fn at_hash(access_token: &str, alg: &str) -> String {
    use sha2::{Sha384, Sha512};
    let digest: Vec<u8> = match alg {
        "RS384" | "PS384" | "ES384" => Sha384::digest(access_token.as_bytes()).to_vec(),
        "RS512" | "PS512" | "EdDSA" => Sha512::digest(access_token.as_bytes()).to_vec(),
        _ => Sha256::digest(access_token.as_bytes()).to_vec(),
    };
    crate::forge::b64(&digest[..digest.len() / 2])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guid_is_guid_shaped_and_stable() {
        let g = guid("contoso");
        assert_eq!(g.len(), 36);
        assert_eq!(g, guid("contoso"));
        assert_eq!(g.matches('-').count(), 4);
    }

    #[test]
    fn flavors_round_trip_names() {
        for f in Flavor::ALL {
            assert_eq!(f.name().parse::<Flavor>().unwrap(), f);
        }
        assert!("okta2"
            .parse::<Flavor>()
            .unwrap_err()
            .contains("known flavors"));
    }
}
