//! Switchable defects: each plants exactly one bug class seen in real BYOID
//! validators, so the reference target doubles as a set of known-bad targets.
//!
//! Enable them with `--defect NAME` (repeatable) or `BYOID_DEFECTS=a,b`.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

macro_rules! defects {
    ($( $(#[$doc:meta])* $variant:ident = $name:literal : $desc:literal, )*) => {
        /// One planted bug. The name is the kebab-case CLI spelling.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Defect {
            $( $(#[$doc])* #[doc = $desc] $variant, )*
        }

        impl Defect {
            /// Every defect, in documentation order.
            pub fn all() -> &'static [Defect] {
                &[$(Defect::$variant,)*]
            }
            /// The kebab-case name, as accepted by `--defect`.
            pub fn name(&self) -> &'static str {
                match self { $(Defect::$variant => $name,)* }
            }
            /// The real-world bug pattern this defect imitates.
            pub fn description(&self) -> &'static str {
                match self { $(Defect::$variant => $desc,)* }
            }
        }
    };
}

defects! {
    NoIssuerCheck = "no-issuer-check":
        "the token's `iss` is never compared (validators that trust any issuer whose keys happen to verify, e.g. ValidateIssuer=false with shared multi-tenant keys)",
    IssuerPrefixMatch = "issuer-prefix-match":
        "`iss` is accepted when it starts with the expected issuer (StartsWith/regex issuer matching, so `https://idp/contoso-evil` passes for `https://idp/contoso`)",
    NoAudienceCheck = "no-audience-check":
        "`aud` is never checked (ValidateAudience=false; tokens minted for another API are accepted)",
    ExpOptional = "exp-optional":
        "a token without `exp` never expires (libraries that only check `exp` when present)",
    DayOfSkew = "day-of-skew":
        "86400 s of extra clock skew (a misread unit: skew configured in seconds where minutes or hours were meant)",
    AlgFromHeader = "alg-from-header":
        "the algorithm is taken from the token header, so HS256/384/512 verifies with the public key bytes as HMAC secret (the classic key-confusion attack, CVE-2016-5431; every form a verifier may hold the key in is tried: for RSA keys SPKI PEM with and without trailing newline, PKCS#1 PEM, SPKI and PKCS#1 DER and the raw modulus, for EC keys SPKI PEM and DER, for both the OpenSSH line, and the JWK's JSON text and its `x5c` certificate as DER and PEM)",
    NoneAccepted = "none-accepted":
        "`alg: none` in any casing skips the signature (the original JWT library bug, CVE-2015-9235 and friends)",
    TypIgnored = "typ-ignored":
        "the JOSE `typ` header is never checked (id tokens and other JWTs are accepted as access tokens)",
    TypCaseSensitive = "typ-case-sensitive":
        "`typ` is compared byte for byte against `at+jwt`, `JWT` and `application/at+jwt`, so `AT+JWT` is refused (RFC 9068 says case-insensitive)",
    ClientAllowListIgnored = "client-allow-list-ignored":
        "`allowed_client_ids` is never enforced (any client of the tenant can call the API)",
    DisabledTenantAccepted = "disabled-tenant-accepted":
        "a disabled tenant is still served (the enabled flag is checked only at sign-up, not per request)",
    CrossTenant = "cross-tenant":
        "a token is accepted if it validates for ANY configured tenant (a validator keeping one global issuer/key list instead of one per tenant)",
    FirstJwksKeyOnly = "first-jwks-key-only":
        "always verifies with the first key of the JWKS, ignoring `kid` (tokens break at every key rotation; `keys[0]` hard-coded)",
    KeysNeverRefreshed = "keys-never-refreshed":
        "the JWKS is fetched once and never again, not on unknown `kid` nor on cache expiry (keys loaded at startup)",
    RefetchEveryUnknownKid = "refetch-every-unknown-kid":
        "every unknown `kid` triggers a JWKS fetch, with no cooldown or single flight (lets anyone hammer the IdP through the API)",
    FailOpen = "fail-open":
        "when discovery or the JWKS cannot be fetched, the token is accepted after parsing its claims without checking the signature (catch-and-continue error handling)",
    LeakExceptionText = "leak-exception-text":
        "a token that fails parsing gets a 500 with the internal error text (unhandled exception pages, stack traces in responses)",
    NoErrorParam = "no-error-param":
        "invalid tokens get 401 with a bare `WWW-Authenticate: Bearer`, without `error=\"invalid_token\"` (RFC 6750 section 3 violation)",
    ClaimMappingsIgnored = "claim-mappings-ignored":
        "`claim_mappings` are not applied, so roles carried as `groups` are never seen (authorization silently denies or, worse, reads the wrong claim)",
    AudMustBeString = "aud-must-be-string":
        "an array-valued `aud` is refused (deserializing `aud` as a single string, RFC 7519 allows an array)",
    JkuFollowed = "jku-followed":
        "a `jku` header is fetched and its keys are trusted (attacker-hosted key sets; CVE-2018-0114-style header key trust)",
    CritIgnored = "crit-ignored":
        "the `crit` header is ignored, so extensions the validator does not understand are silently accepted (RFC 7515 section 4.1.11 violation)",
    IdTokenAccepted = "id-token-accepted":
        "id-token `typ` values and a missing `typ` are accepted (validators that accept any signed JWT from the IdP, including id tokens)",
    QueryTokenAccepted = "query-token-accepted":
        "the `access_token` query parameter is accepted as a normal method (tokens end up in logs and Referer headers; RFC 9700 forbids it)",
    MultipleMethodsAccepted = "multiple-methods-accepted":
        "a token sent by more than one method is accepted, the header one winning, instead of 400 invalid_request (RFC 6750 section 2)",
    NoNbfCheck = "no-nbf-check":
        "`nbf` is never checked (tokens are usable before their validity starts)",
    SchemeCaseSensitive = "scheme-case-sensitive":
        "only the exact scheme `Bearer` is recognised, so `bearer` and `BEARER` count as no credentials (RFC 7235 section 2.1 says schemes are case-insensitive)",
    NoClockSkew = "no-clock-skew":
        "`clock_skew_seconds` is ignored (zero leeway), so tokens from an IdP whose clock is seconds ahead fail intermittently",
    AdminRoleNotChecked = "admin-role-not-checked":
        "`/api/admin` checks authentication only, never the `admin` role (broken function-level authorization, OWASP API5)",
    RoleSubstringMatch = "role-substring-match":
        "roles are matched as substrings (`administrator`, `superadmin` and `Admin`-like values pass a `contains(\"admin\")` check)",
    DuplicateAuthorizationAccepted = "duplicate-authorization-accepted":
        "two `Authorization` headers are accepted, the first one winning, instead of 400 invalid_request (proxies and apps may disagree on which one counts)",
    NoChallengeOn401 = "no-challenge-on-401":
        "a request without credentials gets 401 with no `WWW-Authenticate` header at all (RFC 7235 section 3.1 requires a challenge)",
    InsufficientScopeAs401 = "insufficient-scope-as-401":
        "a valid token without the required role gets 401 invalid_token instead of 403 insufficient_scope (clients then refresh tokens forever)",
    FirstAudienceOnly = "first-audience-only":
        "only the first of `valid_audiences` is accepted (a single configured audience compared, the rest of the list ignored)",
    ExpMustBeInteger = "exp-must-be-integer":
        "a fractional `exp` is refused (NumericDate is any JSON number, RFC 7519 section 2; parsers that read i64 reject 1.5e9+0.5)",
    JwksNotCached = "jwks-not-cached":
        "discovery and the JWKS are fetched on every request (no cache: every API call becomes IdP traffic, and an IdP blip fails every request)",
    DiscoveryIssuerUnchecked = "discovery-issuer-unchecked":
        "the discovery document's `issuer` is trusted without comparing it with the metadata URL (RFC 8414 section 3.3 / OIDC Discovery 4.3 mix-up)",
    SignatureNotVerified = "signature-not-verified":
        "the signature is never verified, only decoded (`jwt.decode(token, verify=False)`, `dangerouslyIgnoreSignature`, or verifying a different token than the one used)",
    KeyUseIgnored = "key-use-ignored":
        "a JWKS key whose `use` is `enc` (or whose `key_ops` lack `verify`) still verifies signatures (RFC 7517 section 4.2 ignored)",
    PsychicEcdsa = "psychic-ecdsa":
        "an ECDSA signature with r = s = 0 verifies (CVE-2022-21449, \"psychic signatures\" in Java 15-18)",
    EcdsaDerAccepted = "ecdsa-der-accepted":
        "ASN.1 DER-encoded ECDSA signatures are converted and accepted (JWS requires raw r||s, RFC 7518 section 3.4; lenient Java and .NET stacks accept both)",
    EmbeddedJwkTrusted = "embedded-jwk-trusted":
        "a `jwk` in the token header is used to verify it (CVE-2018-0114: the attacker signs with their own key and embeds it)",
    BlankHmacSecret = "blank-hmac-secret":
        "HS256/384/512 tokens are verified with an empty shared secret (an HMAC key read from an unset environment variable or config entry is `\"\"`, and the library accepts empty keys)",
    AlgsNotFromDiscovery = "algs-not-from-discovery":
        "every asymmetric algorithm the library supports is accepted, not just the ones the issuer advertises in `id_token_signing_alg_values_supported` (a hard-coded allow-list, so a PS256 or RS512 token passes for an RS256-only IdP)",
    JwkAlgIgnored = "jwk-alg-ignored":
        "a JWKS key's `alg` member is ignored, so a key published for PS256 verifies RS256 tokens (RFC 7517 section 4.4: the key is intended for that algorithm only)",
    KeyTypeMismatchCrashes = "key-type-mismatch-crashes":
        "a `kid` that names a key of the wrong type for the `alg` (an EC key for RS256) throws, and the exception becomes a 500 with its text (unhandled InvalidKeyException-style errors)",
    X5cTrusted = "x5c-trusted":
        "the certificate in the token's `x5c` header is used to verify it, without chaining it to anything the tenant configured (the attacker signs with their own key and embeds its self-signed certificate)",
    X5uFetched = "x5u-fetched":
        "the `x5u` header URL is fetched before the token is rejected (certificate-chain prefetching or logging: a server-side request to any URL the attacker names)",
    TidUnchecked = "tid-unchecked":
        "an Entra token's `tid` is not compared with the tenant in its `iss`, so authorization keyed on `tid` can see another tenant than the one authenticated",
    TokenCacheIgnoresTenant = "token-cache-ignores-tenant":
        "the verified-token cache is keyed by the token alone, so a token once verified (and cached) for its own tenant is then accepted for any tenant it is sent to (a cache in front of per-tenant validation, looked up before the tenant is considered)",
    TenantFromAnyChannel = "tenant-from-any-channel":
        "the tenant comes from whichever channel names one first (a `Host` subdomain, an `X-Tenant-Slug` header, then the configured source), so a client picks its tenant by adding a header (middleware where a gateway header, a subdomain and a route parameter all feed one tenant context)",
    HttpsMetadataNotEnforced = "https-metadata-not-enforced":
        "`require_https_metadata` is ignored, so discovery and keys are fetched over plain HTTP where anyone on the path can swap them (RequireHttpsMetadata=false left over from development)",
    IatMaxAge = "iat-max-age":
        "a token whose `iat` is more than an hour old is refused although `exp` is still ahead (a max-age rule meant for `auth_time` applied to access tokens; long-lived tokens break)",
    FirstClientIdOnly = "first-client-id-only":
        "only the first entry of `allowed_client_ids` is compared (a single configured client id string where the manifest gives a list)",
    EmptyAllowListDeniesAll = "empty-allow-list-denies-all":
        "an empty `allowed_client_ids` refuses every client instead of meaning \"no client check\" (`any()` over an empty list)",
    ExpOverflowCrashes = "exp-overflow-crashes":
        "an `exp` beyond year 9999 overflows the date conversion and the exception becomes a 500 with its text (`datetime.fromtimestamp` and friends)",
    MissingIatCrashes = "missing-iat-crashes":
        "a token without `iat` throws when the claim is read unconditionally, and the exception becomes a 500 (`claims[\"iat\"]` without a default)",
    TypMediaPrefixRefused = "typ-media-prefix-refused":
        "`typ: application/at+jwt` is refused: only the short `at+jwt` (any case) is compared, although RFC 7515 section 4.1.9 allows the `application/` prefix",
    SchemeByLength = "scheme-by-length":
        "the token is taken as `value.Substring(7)` once the value is longer than `Bearer `: any six-letter scheme (`Digest <token>`) passes as bearer",
    BearerSplitOnPrefix = "bearer-split-on-prefix":
        "the token is taken as `value.split('Bearer ')[1]`: `XBearer <token>` and `NotBearer <token>` pass as bearer credentials",
    BearerPrefixRemoved = "bearer-prefix-removed":
        "the token is taken as `value.replace('Bearer ', '')`: `Bearer Bearer <token>` passes",
    AuthorizationCommaSplit = "authorization-comma-split":
        "the `Authorization` value is cut at its first comma, as if it were a list: `Bearer <token>, Basic x` passes",
    BearerSplitOnSpace = "bearer-split-on-space":
        "the token is taken as `value.split(' ')[1]`: two spaces give an empty token, and `Bearer` alone throws (a 500 with its text)",
    SmallHeaderLimit = "small-header-limit":
        "requests whose `Authorization` header exceeds 4 KiB get 431 (a header limit below real tokens with large group or role claims)",
    HugeTokenCrashes = "huge-token-crashes":
        "a bearer token over 32 KiB overruns a fixed-size decode buffer and the exception becomes a 500 with its text",
    BodyTokenOnGet = "body-token-on-get":
        "a form-body `access_token` is accepted on GET (the framework parses form bodies whatever the method; RFC 6750 section 2.2 allows the body method for POST only)",
    SegmentsSplitLoosely = "segments-split-loosely":
        "the token is read as `token.split('.')` parts 0, 1 and 2, so `h.p.s.x` and `h.p.s.` pass as `h.p.s` (RFC 7519 section 7.2 knows only three or five segments)",
    JwsJsonAccepted = "jws-json-accepted":
        "a bearer value that starts with `{` is read as the JWS JSON serialization and checked as `protected.payload.signature` (libraries that accept both serializations; python-jwt's CVE-2022-39227 polyglot)",
    NestedJwtUnwrapped = "nested-jwt-unwrapped":
        "a token whose header says `cty: JWT` is unwrapped and its payload checked as the token, the outer signature never verified (nested-JWT support that forgets the outer layer)",
    CnfIgnored = "cnf-ignored":
        "a sender-constrained token (`cnf` claim, RFC 9449 DPoP or RFC 8705 mTLS) is accepted with the `Bearer` scheme, which strips its proof of possession (a stolen DPoP token replays as a bearer token)",
    KidCacheAcrossTenants = "kid-cache-across-tenants":
        "keys are looked up by `kid` in one process-wide cache filled from every tenant's JWKS, so a token carrying this tenant's `iss` and `aud` verifies under another tenant's key (RFC 8725 section 3.8: the keys must belong to the issuer)",
    Base64DecodedLeniently = "base64-decoded-leniently":
        "token segments are decoded by a forgiving base64 decoder that takes the standard alphabet and padding too (`atob`, `Buffer.from(s, 'base64')`, `urlsafe_b64decode(s + '==')`), so a re-encoded token passes as the original",
    JsonEncodingSniffed = "json-encoding-sniffed":
        "a header or claims segment that is not UTF-8 is decoded as UTF-16 when it starts with a byte order mark (decoders that detect the encoding, as Python's `json.loads(bytes)` does), so JSON in another Unicode encoding is admitted (RFC 8725 section 3.7)",
    JwksParsedStrictly = "jwks-parsed-strictly":
        "the JWK Set is read into fixed structs that refuse members they do not list, and one key that cannot be used takes the whole set down (RFC 7517 says to ignore both), so a real IdP's extra members or a new key type break every token",
    JwksFirstDuplicateWins = "jwks-first-duplicate-wins":
        "the JWK Set is read by a JSON parser that keeps the first of duplicate member names (RFC 7517 allows rejecting them or keeping the last), so a key set with a member twice is read as nobody else reads it",
    BareBearerChallenge = "bare-bearer-challenge":
        "a request without credentials gets `WWW-Authenticate: Bearer` with no auth-param at all (as ASP.NET Core's JwtBearer handler sends), which RFC 6750 section 3 forbids: the scheme MUST be followed by one or more auth-params",
    ErrorDescriptionEchoesKid = "error-description-echoes-kid":
        "the `error_description` of an unknown `kid` repeats the kid as the token wrote it (exception messages passed through), so quotes, backslashes and non-ASCII letters reach a parameter RFC 6750 section 3 limits to %x20-21 / %x23-5B / %x5D-7E",
    OidcDiscoveryOnly = "oidc-discovery-only":
        "the issuer a metadata address implies is worked out for OpenID discovery URLs only, so a tenant configured with its RFC 8414 metadata (`.well-known/oauth-authorization-server`, as Okta documents for API access) never validates a token",
    UnknownHeaderRefused = "unknown-header-refused":
        "the JOSE header is read into a fixed struct that refuses members it does not list (serde's `deny_unknown_fields`, strict schema validation), so a header parameter no specification defines makes a genuine token invalid",
    PathSlugFirstSegment = "path-slug-first-segment":
        "the tenant slug is always the first path segment (`segments[1]`), whatever prefix the routes have, so `/tenants/contoso/api/whoami` names the tenant `tenants`",
    AgreeHeaderIgnored = "agree-header-ignored":
        "a tenant's `agree_header` is never compared, so a request whose gateway header names another tenant than its path or host is served (the tenant checked in one place and used from another)",
    BearerTokenUnquoted = "bearer-token-unquoted":
        "surrounding double quotes are stripped from the bearer token (framework helpers that unquote header values), so `Bearer \"<token>\"` is accepted although `\"` is not b64token syntax (RFC 6750 section 2.1)",
    JwksUriGuessed = "jwks-uri-guessed":
        "a discovery document without `jwks_uri` is completed with a guess, `{issuer}/.well-known/jwks.json` (the Auth0 layout that SDK samples hard-code), so keys come from an address the IdP never named (OpenID Connect Discovery section 3 makes `jwks_uri` REQUIRED)",
    DiscoveryIssuerOptional = "discovery-issuer-optional":
        "a discovery document without `issuer` is used anyway, and the token's `iss` is then compared with nothing (`jwt.decode(token, key, issuer=metadata.get(\"issuer\"))`: PyJWT and many other libraries skip the check when the expected issuer is None)",
    IssuerTrailingSlashIgnored = "issuer-trailing-slash-ignored":
        "issuers are compared with trailing slashes stripped from both sides (the `rstrip('/')` \"fix\" for Auth0's slashed issuer that OIDC clients and verifiers keep shipping), so `https://idp/t/` passes for `https://idp/t` and the other way round",
    IssuerByTenantId = "issuer-by-tenant-id":
        "an Entra `iss` is accepted when it names the tenant id (GUID) of an accepted issuer instead of equalling one (hand-written `iss.includes(tenantId)` checks, and helpers that take the v1 `sts.windows.net/{tid}/` and v2 `login.microsoftonline.com/{tid}/v2.0` forms alike), so a v2 token passes where only the v1 issuer is configured, and the v1 issuer without its trailing slash passes too",
    ConfigCachedByMetadataAddress = "config-cached-by-metadata-address":
        "tenant configuration (audiences, clients, issuers) and keys are cached by metadata address, the first slug to use an address filling the entry, so a customer who registers two APIs of one Entra tenant gets the first API's audiences and clients on the second slug (a per-authority cache of validation parameters keyed by the metadata URL)",
    JwksUriSchemeUnchecked = "jwks-uri-scheme-unchecked":
        "only the configured `metadata_address` is held to `require_https_metadata` (a check made once, on configuration); the `jwks_uri` the discovery document names is fetched over plain HTTP, where anyone on the path can swap the keys",
    HmacKeyBlocklist = "hmac-key-blocklist":
        "the algorithm is taken from the token header and an HMAC secret is refused only when it contains a blocklisted marker (`-----BEGIN PUBLIC KEY-----`, `-----BEGIN RSA PUBLIC KEY-----`, `-----BEGIN CERTIFICATE-----`, `ssh-rsa`): keys held as OpenSSH lines pass unless RSA, so HS256 keyed with an EC key's `ecdsa-sha2-nistp256 AAAA...` verifies (PyJWT up to 2.3.0, CVE-2022-29217; python-jose up to 3.3.0, CVE-2024-33663)",
    X5cPemHmacSecret = "x5c-pem-hmac-secret":
        "the signing key is the JWK's `x5c[0]` turned into a PEM certificate (64-column lines, as jwks-rsa's `certToPEM` does) and handed to a verify call without an algorithm list, so HS256 keyed with that PEM text verifies (node-jsonwebtoken up to 8.5.1 with a key-retrieval callback, CVE-2022-23541)",
    EcdsaRangeUnchecked = "ecdsa-range-unchecked":
        "an ECDSA signature is refused when r or s is zero but never range-checked against the group order n, so r = s = n, which the arithmetic reduces to zero, verifies like the psychic signature (CVE-2022-21449 fixed with a zero check only)",
    HeaderMembersUnchecked = "header-members-unchecked":
        "`alg` and `kid` are read from the header without a presence or type check (`header['alg']`, `header['kid'].startswith(...)`): a missing one throws KeyError (PyJWT issue 167), a null, number or array one AttributeError, and the exception becomes a 500 with its text",
    KidLookupUnchecked = "kid-lookup-unchecked":
        "the `kid` reaches the key lookup unchecked, as in the lookups jwt_tool attacks: a JS object keyed by kid (`constructor`, `__proto__` find inherited members, which the verify call refuses with a TypeError), a SQL query built by concatenation (`x' UNION SELECT 'key';--` returns the key `key`), a key file named by the kid (`../../dev/null` reads an empty key; a name over 255 bytes fails with ENAMETOOLONG); a key found so is the HMAC secret of an HS token, and every exception a 500 with its text",
}

impl Defect {
    /// The defect with this name, if any.
    pub fn from_name(name: &str) -> Option<Defect> {
        Defect::all().iter().copied().find(|d| d.name() == name)
    }
}

impl fmt::Display for Defect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown defect name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown defect `{name}` (hint: `byoid-reference --list-defects` lists them)")]
pub struct UnknownDefect {
    /// The name that was given.
    pub name: String,
}

impl FromStr for Defect {
    type Err = UnknownDefect;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Defect::from_name(s.trim()).ok_or_else(|| UnknownDefect { name: s.to_owned() })
    }
}

/// A set of enabled defects; empty means the known-good reference target.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DefectSet(BTreeSet<Defect>);

impl DefectSet {
    /// No defects.
    pub fn new() -> Self {
        DefectSet::default()
    }
    /// Whether `d` is enabled.
    pub fn contains(&self, d: Defect) -> bool {
        self.0.contains(&d)
    }
    /// Enables `d`.
    pub fn insert(&mut self, d: Defect) {
        self.0.insert(d);
    }
    /// Whether no defect is enabled.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// The enabled defects, in order.
    pub fn iter(&self) -> impl Iterator<Item = Defect> + '_ {
        self.0.iter().copied()
    }
    /// Parses a comma-separated list (the `BYOID_DEFECTS` form); blanks are skipped.
    pub fn parse_list(list: &str) -> Result<DefectSet, UnknownDefect> {
        list.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::parse)
            .collect()
    }
}

impl FromIterator<Defect> for DefectSet {
    fn from_iter<I: IntoIterator<Item = Defect>>(iter: I) -> Self {
        DefectSet(iter.into_iter().collect())
    }
}

impl From<Defect> for DefectSet {
    fn from(d: Defect) -> Self {
        DefectSet::from_iter([d])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_kebab_case() {
        assert_eq!(Defect::all().len(), 93);
        for d in Defect::all() {
            assert_eq!(d.name().parse::<Defect>(), Ok(*d));
            assert!(
                d.name()
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
                "{}",
                d.name()
            );
            assert!(!d.description().is_empty());
        }
        assert!("No-Issuer-Check".parse::<Defect>().is_err());
    }

    #[test]
    fn parse_list_accepts_commas_and_blanks() {
        let s = DefectSet::parse_list(" fail-open, ,no-nbf-check").unwrap();
        assert!(s.contains(Defect::FailOpen) && s.contains(Defect::NoNbfCheck));
        assert!(!s.contains(Defect::CritIgnored));
        assert!(DefectSet::parse_list("nope").is_err());
        assert!(DefectSet::parse_list("").unwrap().is_empty());
    }
}
