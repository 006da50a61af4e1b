package main

// The library's part: golang-jwt v4 validates the token, with a Keyfunc that picks the key
// from a go-jose JSONWebKeySet by kid. Around it, the glue golang-jwt does not have: reading
// the tenant's discovery document and fetching and caching its JWKS (golang-jwt has no JWKS
// client; its README points to a third-party one). Nothing here looks at the token itself.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	jwt "github.com/golang-jwt/jwt"
	jose "gopkg.in/square/go-jose.v2"
)

const (
	// fetchTimeout bounds one discovery or JWKS fetch: both in a row stay inside the
	// contract's 5 s answer bound (section 6).
	fetchTimeout = 2 * time.Second
	// maxDocumentBytes bounds a discovery document or key set.
	maxDocumentBytes = 1 << 20
)

// validMethods: every asymmetric method golang-jwt v4.4.3 registers (rsa.go, rsa_pss.go,
// ecdsa.go, ed25519.go). The keys are the tenants' public keys, so HS* and none stay out.
var validMethods = []string{
	"RS256", "RS384", "RS512",
	"PS256", "PS384", "PS512",
	"ES256", "ES384", "ES512",
	"EdDSA",
}

// keys is one fetch of a tenant's discovery document and JWKS.
type keys struct {
	issuer string // the discovery document's issuer
	set    jose.JSONWebKeySet
	at     time.Time
}

// keySource fetches a tenant's discovery document and JWKS lazily and keeps them for
// jwks_cache_seconds. Concurrent requests share one fetch; a failure is not kept.
type keySource struct {
	t   *tenant
	cfg *config

	mu       sync.Mutex
	current  *keys
	inflight chan struct{}
	lastErr  error
}

func (ks *keySource) get(deadline time.Time) (*keys, error) {
	for {
		ks.mu.Lock()
		if c := ks.current; c != nil && time.Since(c.at) < ks.cfg.CacheWindow {
			ks.mu.Unlock()
			return c, nil
		}
		if ch := ks.inflight; ch != nil {
			ks.mu.Unlock()
			timer := time.NewTimer(time.Until(deadline))
			select {
			case <-ch:
				timer.Stop()
			case <-timer.C:
				return nil, errors.New("timed out waiting for a key fetch")
			}
			// The answer of the fetch this request waited for, whatever the window.
			ks.mu.Lock()
			c, err := ks.current, ks.lastErr
			ks.mu.Unlock()
			if c != nil {
				return c, nil
			}
			if err != nil {
				return nil, err
			}
			continue
		}
		ch := make(chan struct{})
		ks.inflight = ch
		ks.current = nil // past the window nothing old is trusted
		ks.mu.Unlock()

		k, err := ks.fetch()

		ks.mu.Lock()
		ks.current, ks.lastErr = k, err
		ks.inflight = nil
		close(ch)
		ks.mu.Unlock()
		if err != nil {
			return nil, err
		}
		return k, nil
	}
}

func (ks *keySource) fetch() (*keys, error) {
	body, err := ks.cfg.fetchDocument(ks.t.MetadataAddress)
	if err != nil {
		return nil, fmt.Errorf("discovery: %w", err)
	}
	var doc struct {
		Issuer  *string `json:"issuer"`
		JWKSURI *string `json:"jwks_uri"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("discovery: %w", err)
	}
	if doc.Issuer == nil || doc.JWKSURI == nil {
		return nil, errors.New("discovery: no issuer or jwks_uri")
	}
	// valid_issuers null: the document's issuer must be the one its address implies;
	// with a list, the list is the whole answer (contract 2.2, 5.3).
	if ks.t.ValidIssuers == nil && !issuerMatchesAddress(*doc.Issuer, ks.t.MetadataAddress) {
		return nil, fmt.Errorf("discovery: issuer %q does not match its address", *doc.Issuer)
	}
	body, err = ks.cfg.fetchDocument(*doc.JWKSURI)
	if err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	k := &keys{issuer: *doc.Issuer, at: time.Now()}
	// go-jose parses the set; it refuses the whole set when one JWK does not parse.
	if err := json.Unmarshal(body, &k.set); err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	return k, nil
}

// fetchDocument GETs one document, bounded in time and size, over http(s) only (https only
// with require_https_metadata), without redirects or a proxy, trusting ca_bundle.
func (c *config) fetchDocument(address string) ([]byte, error) {
	u, err := url.Parse(address)
	if err != nil || u.Host == "" {
		return nil, errors.New("not an absolute URL")
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
	case "http":
		if c.RequireHTTPSMetadata {
			return nil, errors.New("plain http refused: require_https_metadata is set")
		}
	default:
		return nil, fmt.Errorf("scheme %q refused", u.Scheme)
	}
	ctx, cancel := context.WithTimeout(context.Background(), fetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, address, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.HTTPClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDocumentBytes+1))
	if err != nil {
		return nil, err
	}
	if len(body) > maxDocumentBytes {
		return nil, errors.New("document too large")
	}
	return body, nil
}

// issuerMatchesAddress: the metadata address is the issuer's OpenID Connect Discovery 4.3
// address (a trailing slash on the issuer tolerated) or one of RFC 8414's two forms.
func issuerMatchesAddress(issuer, address string) bool {
	iss := strings.TrimSuffix(issuer, "/")
	for _, suffix := range []string{"/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"} {
		if iss+suffix == address {
			return true
		}
	}
	u, err := url.Parse(iss)
	if err != nil || u.Scheme == "" || u.Host == "" || u.EscapedPath() == "" {
		return false
	}
	return u.Scheme+"://"+u.Host+"/.well-known/oauth-authorization-server"+u.EscapedPath() == address
}

// validate is golang-jwt's verdict on the token, then the contract's client allow-list.
func (s *server) validate(t *tenant, token string, deadline time.Time) (map[string]interface{}, error) {
	if !t.IsEnabled() {
		return nil, errors.New("tenant disabled")
	}
	k, err := s.keySource(t).get(deadline)
	if err != nil {
		return nil, err
	}

	// The Keyfunc of the package docs' Parse example, looking the key up by kid ("The
	// standard is to use 'kid' in the head of the token to identify which key to use"):
	// the first JWK of the set with that kid, its Go key as go-jose parsed it.
	keyfunc := func(token *jwt.Token) (interface{}, error) {
		kid, ok := token.Header["kid"].(string)
		if !ok {
			return nil, errors.New("no kid in the header")
		}
		found := k.set.Key(kid)
		if len(found) == 0 {
			return nil, fmt.Errorf("no key with kid %q", kid)
		}
		return found[0].Key, nil
	}
	claims := jwt.MapClaims{}
	// ParseWithClaims checks the alg against WithValidMethods, calls the Keyfunc, runs
	// claims.Valid() (exp, nbf, iat) and verifies the signature.
	if _, err := jwt.ParseWithClaims(token, claims, keyfunc, jwt.WithValidMethods(validMethods)); err != nil {
		return nil, fmt.Errorf("golang-jwt: %w", err)
	}
	// iss and aud: Valid() checks neither; the claims' own Verify methods, required.
	issuers := []string{k.issuer}
	if t.ValidIssuers != nil {
		issuers = *t.ValidIssuers
	}
	if !anyOf(issuers, func(iss string) bool { return claims.VerifyIssuer(iss, true) }) {
		return nil, errors.New("golang-jwt: VerifyIssuer: no accepted issuer")
	}
	if !anyOf(t.ValidAudiences, func(aud string) bool { return claims.VerifyAudience(aud, true) }) {
		return nil, errors.New("golang-jwt: VerifyAudience: no accepted audience")
	}

	// Glue (contract 2.2): the client id is the first of client_id_claims the token
	// carries; it must be a string in allowed_client_ids.
	if len(t.AllowedClientIDs) > 0 {
		var clientID interface{}
		for _, name := range t.ClientIDClaimNames() {
			if v, ok := claims[name]; ok {
				clientID = v
				break
			}
		}
		id, ok := clientID.(string)
		if !ok || !anyOf(t.AllowedClientIDs, func(a string) bool { return a == id }) {
			return nil, errors.New("client not allowed")
		}
	}
	return claims, nil
}

func anyOf(list []string, f func(string) bool) bool {
	for _, s := range list {
		if f(s) {
			return true
		}
	}
	return false
}
