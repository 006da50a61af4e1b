package main

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	jwt "github.com/golang-jwt/jwt"
)

// maxTokenBytes: longer bearer tokens are refused before any parsing (8 KiB tokens with
// large group lists are real; 32 KiB is far beyond any IdP's).
const maxTokenBytes = 32 * 1024

var (
	// b64token of RFC 6750 section 2.1.
	b64tokenRE = regexp.MustCompile(`^[A-Za-z0-9\-._~+/]+=*$`)
	// One JWS compact segment: base64url without padding (RFC 7515 section 2).
	segmentRE = regexp.MustCompile(`^[A-Za-z0-9_-]*$`)
)

// supportedAlgs: the asymmetric algorithms golang-jwt implements. "none" in any spelling
// and the HMAC algorithms are absent on purpose (RFC 8725 sections 2.1 and 3.1).
var supportedAlgs = map[string]bool{
	"RS256": true, "RS384": true, "RS512": true,
	"PS256": true, "PS384": true, "PS512": true,
	"ES256": true, "ES384": true, "ES512": true,
	"EdDSA": true,
}

// ecdsaSigLen: the r||s length of RFC 7518 section 3.4.
var ecdsaSigLen = map[string]int{"ES256": 64, "ES384": 96, "ES512": 132}

// Header parameters that bring a key or a key address (RFC 8725 section 3.10): a token
// carrying one is refused outright, and the value is never used or fetched.
var keyBearingHeaders = []string{"jku", "jwk", "x5u", "x5c"}

func init() {
	// golang-jwt verifies PS* with PSSSaltLengthAuto for backward compatibility; RFC 7518
	// section 3.5 fixes the salt length to the hash length. Re-register strict variants.
	for _, m := range []*jwt.SigningMethodRSAPSS{jwt.SigningMethodPS256, jwt.SigningMethodPS384, jwt.SigningMethodPS512} {
		strict := &jwt.SigningMethodRSAPSS{
			SigningMethodRSA: m.SigningMethodRSA,
			Options:          m.Options,
			VerifyOptions:    m.Options, // PSSSaltLengthEqualsHash
		}
		jwt.RegisterSigningMethod(strict.Alg(), func() jwt.SigningMethod { return strict })
	}
}

// noClaimsCheck lets golang-jwt parse and verify the JWS while the claims are judged by
// validateClaims below (golang-jwt v4 would check exp without leeway and accept a
// missing exp).
type noClaimsCheck map[string]interface{}

func (noClaimsCheck) Valid() error { return nil }

type rejection struct{ reason string }

func (r *rejection) Error() string { return r.reason }

func reject(format string, args ...interface{}) error {
	return &rejection{reason: fmt.Sprintf(format, args...)}
}

// validateToken applies every rule of contract section 5 and returns the verified claims.
func (s *server) validateToken(t *tenant, token string, deadline time.Time) (map[string]interface{}, error) {
	if !t.IsEnabled() {
		return nil, reject("tenant disabled")
	}
	if err := s.cfg.checkFetchable(t.MetadataAddress); err != nil {
		return nil, reject("metadata address: %v", err)
	}
	if len(token) > maxTokenBytes {
		return nil, reject("token longer than %d bytes", maxTokenBytes)
	}
	if !b64tokenRE.MatchString(token) {
		return nil, reject("not a b64token")
	}

	// 5.1 syntax: exactly three base64url segments, JSON object header and payload.
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, reject("not a JWS compact serialization (%d segments)", len(parts))
	}
	decoded := make([][]byte, 3)
	for i, p := range parts {
		if p == "" || !segmentRE.MatchString(p) {
			return nil, reject("segment %d is not unpadded base64url", i)
		}
		b, err := base64.RawURLEncoding.Strict().DecodeString(p)
		if err != nil {
			return nil, reject("segment %d: %v", i, err)
		}
		decoded[i] = b
	}
	header, err := parseStrictObject(decoded[0], maxJSONDepth)
	if err != nil {
		return nil, reject("header: %v", err)
	}
	claims, err := parseStrictObject(decoded[1], maxJSONDepth)
	if err != nil {
		return nil, reject("claims: %v", err)
	}
	sig := decoded[2]

	// 5.1 header rules.
	alg, ok := header["alg"].(string)
	if !ok || !supportedAlgs[alg] {
		return nil, reject("alg %v not an accepted asymmetric algorithm", header["alg"])
	}
	for _, name := range keyBearingHeaders {
		if _, present := header[name]; present {
			return nil, reject("header carries %q", name)
		}
	}
	if _, present := header["crit"]; present {
		// This validator understands no JWS extension (RFC 7515 section 4.1.11).
		return nil, reject("crit header present")
	}
	if b64, present := header["b64"]; present && b64 != true {
		return nil, reject("b64 header present") // RFC 7797 unencoded payload
	}
	if n, ok := ecdsaSigLen[alg]; ok {
		if len(sig) != n {
			return nil, reject("ECDSA signature is %d octets, want %d (r||s)", len(sig), n)
		}
		if allZero(sig[:n/2]) || allZero(sig[n/2:]) {
			return nil, reject("ECDSA signature with r = 0 or s = 0")
		}
	}
	if err := checkTyp(header["typ"], t.RequireAccessTokenType); err != nil {
		return nil, err
	}
	var kid, x5t string
	if v, present := header["kid"]; present {
		if kid, ok = v.(string); !ok {
			return nil, reject("kid is not a string")
		}
	}
	if v, present := header["x5t"]; present {
		if x5t, ok = v.(string); !ok {
			return nil, reject("x5t is not a string")
		}
	}

	// Claims that need no IdP document are checked before anything is fetched.
	iss, err := s.checkStaticClaims(t, claims)
	if err != nil {
		return nil, err
	}

	// Keys and discovery (5.6), then the issuer against discovery (5.3).
	disc, keys, err := s.keyStore(t).get(deadline, false)
	if err != nil {
		return nil, reject("tenant keys unavailable: %v", err)
	}
	if t.ValidIssuers == nil && iss != disc.issuer {
		return nil, reject("iss %q is not the discovery issuer %q", iss, disc.issuer)
	}
	if disc.algs != nil && !containsString(disc.algs, alg) {
		return nil, reject("alg %s not advertised by discovery", alg)
	}
	cands, known := selectKeys(keys, kid, x5t, alg)
	if len(cands) == 0 && !known && (kid != "" || x5t != "") {
		// Unknown kid: one JWKS refetch, at most once per cooldown per tenant.
		if disc, keys, err = s.keyStore(t).get(deadline, true); err != nil {
			return nil, reject("tenant keys unavailable: %v", err)
		}
		if t.ValidIssuers == nil && iss != disc.issuer {
			return nil, reject("iss %q is not the discovery issuer %q", iss, disc.issuer)
		}
		cands, _ = selectKeys(keys, kid, x5t, alg)
	}
	if len(cands) == 0 {
		return nil, reject("no key of the tenant's JWKS fits kid %q / alg %s", kid, alg)
	}

	// 5.1 signature, verified by golang-jwt with each candidate key in turn.
	parser := &jwt.Parser{ValidMethods: []string{alg}, UseJSONNumber: true, SkipClaimsValidation: true}
	var lastErr error
	for _, k := range cands {
		key := k.key
		parsed := noClaimsCheck{}
		_, err := parser.ParseWithClaims(token, &parsed, func(*jwt.Token) (interface{}, error) { return key, nil })
		if err == nil {
			return claims, nil
		}
		lastErr = err
	}
	return nil, reject("signature: %v", lastErr)
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// checkTyp: contract section 5.2 (RFC 9068 section 4, RFC 8725 section 3.11).
func checkTyp(v interface{}, requireAT bool) error {
	typ, ok := v.(string)
	if !ok {
		return reject("typ missing or not a string")
	}
	norm := strings.ToLower(typ)
	norm = strings.TrimPrefix(norm, "application/")
	switch {
	case norm == "at+jwt":
		return nil
	case norm == "jwt" && !requireAT:
		return nil
	}
	return reject("typ %q refused", typ)
}

// selectKeys returns the keys that may verify a token: matching its kid (or, without a
// kid, its x5t; without both, every key), fitting the algorithm (key type, curve, RSA
// size) and whose JWK alg, when present, is the token's alg (RFC 7517 section 4.4).
// known reports whether any key of the set carries the token's kid/x5t at all.
func selectKeys(keys []verificationKey, kid, x5t, alg string) (cands []verificationKey, known bool) {
	for _, k := range keys {
		switch {
		case kid != "":
			if k.kid != kid {
				continue
			}
		case x5t != "":
			if k.x5t != x5t && k.kid != x5t {
				continue
			}
		}
		known = true
		if k.alg != "" && k.alg != alg {
			continue
		}
		if !keyFitsAlg(k.key, alg) {
			continue
		}
		cands = append(cands, k)
	}
	return cands, known
}

func keyFitsAlg(key interface{}, alg string) bool {
	switch alg {
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
		k, ok := key.(*rsa.PublicKey)
		return ok && k.N.BitLen() >= 2048 // RFC 7518 sections 3.3 and 3.5
	case "ES256", "ES384", "ES512":
		k, ok := key.(*ecdsa.PublicKey)
		if !ok {
			return false
		}
		want := map[string]elliptic.Curve{"ES256": elliptic.P256(), "ES384": elliptic.P384(), "ES512": elliptic.P521()}[alg]
		return k.Curve == want
	case "EdDSA":
		k, ok := key.(ed25519.PublicKey)
		return ok && len(k) == ed25519.PublicKeySize
	}
	return false
}

// checkStaticClaims applies the claim rules that need no IdP document (5.3, 5.4) and
// returns the token's iss.
func (s *server) checkStaticClaims(t *tenant, claims map[string]interface{}) (string, error) {
	iss, ok := claims["iss"].(string)
	if !ok || iss == "" {
		return "", reject("iss missing or not a string")
	}
	if t.ValidIssuers != nil && !containsString(*t.ValidIssuers, iss) {
		return "", reject("iss %q not in valid_issuers", iss)
	}

	// cnf: a sender-constrained token needs a proof the Bearer scheme cannot carry (5.3).
	if _, bound := claims["cnf"]; bound {
		return "", reject("cnf: a sender-constrained token is not a bearer token")
	}

	// aud: a string or an array of strings, containing one of valid_audiences.
	var auds []string
	switch a := claims["aud"].(type) {
	case string:
		auds = []string{a}
	case []interface{}:
		for _, m := range a {
			str, ok := m.(string)
			if !ok {
				return "", reject("aud array has a non-string member")
			}
			auds = append(auds, str)
		}
	default:
		return "", reject("aud missing or not a string/array")
	}
	audOK := false
	for _, a := range auds {
		if containsString(t.ValidAudiences, a) {
			audOK = true
			break
		}
	}
	if !audOK {
		return "", reject("aud %v not accepted", auds)
	}

	// Client id: the first of client_id_claims the token carries.
	if len(t.AllowedClientIDs) > 0 {
		found := false
		for _, name := range t.ClientIDClaimNames() {
			v, present := claims[name]
			if !present {
				continue
			}
			cid, ok := v.(string)
			if !ok {
				return "", reject("client id claim %q is not a string", name)
			}
			if !containsString(t.AllowedClientIDs, cid) {
				return "", reject("client id %q (%s) not allowed", cid, name)
			}
			found = true
			break
		}
		if !found {
			return "", reject("no client id claim among %v", t.ClientIDClaimNames())
		}
	}

	// Lifetime (5.4).
	now := float64(time.Now().UnixNano()) / 1e9
	skew := float64(s.cfg.ClockSkewSeconds)
	expV, present := claims["exp"]
	if !present {
		return "", reject("exp missing")
	}
	exp, err := numericDate(expV)
	if err != nil {
		return "", reject("exp: %v", err)
	}
	if now > exp+skew {
		return "", reject("expired")
	}
	if v, present := claims["nbf"]; present {
		nbf, err := numericDate(v)
		if err != nil {
			return "", reject("nbf: %v", err)
		}
		if now+skew < nbf {
			return "", reject("not yet valid")
		}
	}
	iatV, present := claims["iat"]
	if !present {
		return "", reject("iat missing") // RFC 9068 section 2.2 REQUIRED
	}
	iat, err := numericDate(iatV)
	if err != nil {
		return "", reject("iat: %v", err)
	}
	if iat > now+skew {
		return "", reject("iat in the future")
	}

	// sub: REQUIRED (RFC 9068 section 2.2), a non-empty string (RFC 7519 section 4.1.2).
	if sub, ok := claims["sub"].(string); !ok || sub == "" {
		return "", reject("sub missing, empty or not a string")
	}

	// tid, when present, must name the tenant its iss names (an Entra issuer carries the
	// tenant id as a path segment: .../{tid}/v2.0, https://sts.windows.net/{tid}/).
	if v, present := claims["tid"]; present {
		tid, ok := v.(string)
		if !ok || tid == "" {
			return "", reject("tid is not a non-empty string")
		}
		if !issuerNamesTenant(iss, tid) {
			return "", reject("tid %q is not the tenant of iss %q", tid, iss)
		}
	}
	return iss, nil
}

func numericDate(v interface{}) (float64, error) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, errors.New("not a JSON number")
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, errors.New("not a finite number")
	}
	return f, nil
}

func issuerNamesTenant(iss, tid string) bool {
	u, err := url.Parse(iss)
	if err != nil {
		return false
	}
	for _, seg := range strings.Split(u.Path, "/") {
		if seg == tid {
			return true
		}
	}
	return false
}
