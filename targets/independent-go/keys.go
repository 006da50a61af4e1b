package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	jose "gopkg.in/square/go-jose.v2"
)

const (
	// fetchTimeout bounds one discovery or JWKS fetch (connect, TLS, headers and body).
	// Discovery then JWKS is at most 2 x 2 s, inside the contract's 5 s response bound.
	fetchTimeout = 2 * time.Second
	// maxDocumentBytes bounds a discovery document or key set.
	maxDocumentBytes = 1 << 20
	// failureBackoff: after a failed fetch, tokens of the tenant are rejected without
	// contacting the IdP again for this long (fail closed, and do not hammer a sick IdP).
	failureBackoff = 500 * time.Millisecond
	// maxRefetchCooldown caps the unknown-kid cooldown for long cache windows.
	maxRefetchCooldown = 5 * time.Minute
)

// discoveryDoc is what the validator keeps of a tenant's discovery document.
type discoveryDoc struct {
	issuer  string
	jwksURI string
	algs    []string // id_token_signing_alg_values_supported; nil when absent
}

// verificationKey is one usable signature key of a tenant's JWKS.
type verificationKey struct {
	kid string
	alg string // the JWK's alg member, "" when absent
	x5t string // the JWK's x5t member, "" when absent
	key interface{}
}

// keyStore holds one tenant's discovery document and keys. Each tenant has its own, so
// nothing fetched for one tenant is ever used for another.
type keyStore struct {
	t   *tenant
	cfg *config

	mu          sync.Mutex
	disc        *discoveryDoc
	discAt      time.Time
	keys        []verificationKey
	keysAt      time.Time
	lastJWKSTry time.Time
	lastErr     error
	failUntil   time.Time
	inflight    chan struct{}
}

func (s *keyStore) freshLocked(now time.Time) bool {
	if s.disc == nil || s.keys == nil {
		return false
	}
	window := s.cfg.CacheWindow
	return now.Before(s.discAt.Add(window)) && now.Before(s.keysAt.Add(window))
}

// get returns the tenant's discovery document and keys. With unknownKid set, the caller
// found no key for the token's kid: the JWKS is refetched, but at most once per cooldown
// (OpenID Connect Core 1.0 section 10.1.1). Only one fetch per tenant runs at a time; the
// other requests wait for it, never past their deadline.
func (s *keyStore) get(deadline time.Time, unknownKid bool) (*discoveryDoc, []verificationKey, error) {
	for {
		s.mu.Lock()
		if ch := s.inflight; ch != nil {
			s.mu.Unlock()
			wait := time.Until(deadline)
			if wait <= 0 {
				return nil, nil, errors.New("timed out waiting for a key fetch")
			}
			timer := time.NewTimer(wait)
			select {
			case <-ch:
				timer.Stop()
				continue
			case <-timer.C:
				return nil, nil, errors.New("timed out waiting for a key fetch")
			}
		}
		now := time.Now()
		fresh := s.freshLocked(now)
		if fresh && (!unknownKid || now.Sub(s.lastJWKSTry) < s.cfg.refetchCooldown) {
			d, k := s.disc, s.keys
			s.mu.Unlock()
			return d, k, nil
		}
		if !fresh && now.Before(s.failUntil) {
			err := s.lastErr
			s.mu.Unlock()
			return nil, nil, err
		}
		// This request fetches; the others wait on ch.
		ch := make(chan struct{})
		s.inflight = ch
		var oldDisc *discoveryDoc
		if fresh {
			oldDisc = s.disc // unknown-kid refetch: the JWKS only
		}
		s.mu.Unlock()

		disc, keys, err := s.fetch(oldDisc)

		s.mu.Lock()
		done := time.Now()
		s.lastJWKSTry = done
		if err != nil {
			s.lastErr = err
			if !fresh {
				// Past the cache window nothing old may be trusted (section 5.6).
				s.disc, s.keys = nil, nil
				s.failUntil = done.Add(failureBackoff)
			}
		} else {
			if oldDisc == nil {
				s.disc, s.discAt = disc, done
			}
			s.keys, s.keysAt = keys, done
			s.failUntil = time.Time{}
		}
		s.inflight = nil
		close(ch)
		s.mu.Unlock()
		if err != nil && !fresh {
			return nil, nil, err
		}
		// Loop: a fresh cache is now answered from memory.
	}
}

// fetch loads the discovery document (unless disc is given) and then the JWKS.
func (s *keyStore) fetch(disc *discoveryDoc) (*discoveryDoc, []verificationKey, error) {
	if disc == nil {
		body, err := s.cfg.fetchDocument(s.t.MetadataAddress)
		if err != nil {
			return nil, nil, fmt.Errorf("discovery: %w", err)
		}
		disc, err = parseDiscovery(body, s.t, s.cfg)
		if err != nil {
			return nil, nil, fmt.Errorf("discovery: %w", err)
		}
	}
	body, err := s.cfg.fetchDocument(disc.jwksURI)
	if err != nil {
		return nil, nil, fmt.Errorf("jwks: %w", err)
	}
	keys, err := parseJWKS(body)
	if err != nil {
		return nil, nil, fmt.Errorf("jwks: %w", err)
	}
	return disc, keys, nil
}

// fetchDocument GETs one JSON document with a bounded time and size, only over the
// schemes the manifest allows, without following redirects or using a proxy.
func (c *config) fetchDocument(address string) ([]byte, error) {
	if err := c.checkFetchable(address); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), fetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, address, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.HTTPClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, maxDocumentBytes))
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

// checkFetchable refuses any address that is not an absolute http(s) URL, and any
// non-https address when the manifest requires HTTPS metadata.
func (c *config) checkFetchable(address string) error {
	u, err := url.Parse(address)
	if err != nil || u.Host == "" {
		return errors.New("not an absolute URL")
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
		return nil
	case "http":
		if c.RequireHTTPSMetadata {
			return errors.New("plain http refused: require_https_metadata is set")
		}
		return nil
	default:
		return fmt.Errorf("scheme %q refused", u.Scheme)
	}
}

func parseDiscovery(body []byte, t *tenant, cfg *config) (*discoveryDoc, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil || raw == nil {
		return nil, errors.New("not a JSON object")
	}
	var d discoveryDoc
	if err := json.Unmarshal(raw["issuer"], &d.issuer); err != nil || d.issuer == "" {
		return nil, errors.New("issuer missing or not a string")
	}
	if err := json.Unmarshal(raw["jwks_uri"], &d.jwksURI); err != nil || d.jwksURI == "" {
		return nil, errors.New("jwks_uri missing or not a string")
	}
	if err := cfg.checkFetchable(d.jwksURI); err != nil {
		return nil, fmt.Errorf("jwks_uri: %w", err)
	}
	if algsRaw, ok := raw["id_token_signing_alg_values_supported"]; ok {
		var algs []string
		if err := json.Unmarshal(algsRaw, &algs); err != nil {
			return nil, errors.New("id_token_signing_alg_values_supported is not an array of strings")
		}
		d.algs = algs
	}
	if t.ValidIssuers == nil && !issuerMatchesAddress(d.issuer, t.MetadataAddress) {
		return nil, fmt.Errorf("issuer %q does not match the metadata address", d.issuer)
	}
	return &d, nil
}

// issuerMatchesAddress: the issuer a discovery document states must be the one its
// address implies (OpenID Connect Discovery 1.0 section 4.3: issuer +
// "/.well-known/openid-configuration", a trailing slash on the issuer tolerated; RFC 8414
// section 3.1: the well-known segment inserted between host and path). Byte comparison.
func issuerMatchesAddress(issuer, address string) bool {
	trimmed := strings.TrimSuffix(issuer, "/")
	if trimmed+"/.well-known/openid-configuration" == address {
		return true
	}
	u, err := url.Parse(issuer)
	if err != nil || u.Scheme == "" || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return false
	}
	path := strings.TrimSuffix(u.EscapedPath(), "/")
	origin := u.Scheme + "://" + u.Host
	for _, wk := range []string{"/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"} {
		if origin+wk+path == address {
			return true
		}
	}
	return false
}

// parseJWKS parses a key set with go-jose, one key at a time so that one key of an
// unknown type does not spoil the set, and keeps only keys allowed to verify signatures:
// asymmetric public keys whose `use` (when present) is "sig" and whose `key_ops` (when
// present) include "verify" (RFC 7517 sections 4.2 and 4.3).
func parseJWKS(body []byte) ([]verificationKey, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, errors.New("not a JWK set")
	}
	var out []verificationKey
	for _, rawKey := range set.Keys {
		var members struct {
			Use    *string   `json:"use"`
			KeyOps *[]string `json:"key_ops"`
			X5t    string    `json:"x5t"`
		}
		if err := json.Unmarshal(rawKey, &members); err != nil {
			continue
		}
		if members.Use != nil && *members.Use != "sig" {
			continue
		}
		if members.KeyOps != nil && !containsString(*members.KeyOps, "verify") {
			continue
		}
		var jwk jose.JSONWebKey
		if err := jwk.UnmarshalJSON(rawKey); err != nil {
			continue
		}
		var pub interface{}
		switch k := jwk.Key.(type) {
		case *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey:
			pub = k
		case *rsa.PrivateKey:
			pub = &k.PublicKey
		case *ecdsa.PrivateKey:
			pub = &k.PublicKey
		case ed25519.PrivateKey:
			pub = k.Public()
		default:
			continue // symmetric ("oct") keys never verify a tenant's tokens
		}
		out = append(out, verificationKey{kid: jwk.KeyID, alg: jwk.Algorithm, x5t: members.X5t, key: pub})
	}
	if len(out) == 0 {
		return nil, errors.New("no usable signature key")
	}
	return out, nil
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
