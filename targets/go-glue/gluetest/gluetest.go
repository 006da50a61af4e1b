// Package gluetest is the two Go targets' shared unit-test helpers: a test IdP serving one
// tenant's discovery document and JWKS, a manifest for it, a request helper, and the checks
// both programs' own fetching must pass. Only the programs' _test.go files import it.
package gluetest

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jwt "github.com/golang-jwt/jwt"
	jose "gopkg.in/square/go-jose.v2"
)

// IdP serves /t1/.well-known/openid-configuration and /t1/keys (one RSA key, kid k1).
type IdP struct {
	Srv        *httptest.Server
	Key        *rsa.PrivateKey
	Discovery  int64         // discovery fetches (atomic)
	JWKS       int64         // JWKS fetches (atomic)
	Hang       chan struct{} // when non-nil, the JWKS never answers until closed
	IssuerPath string
}

func NewIdP(t *testing.T) *IdP {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	idp := &IdP{Key: key, IssuerPath: "/t1"}
	mux := http.NewServeMux()
	mux.HandleFunc("/t1/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		atomic.AddInt64(&idp.Discovery, 1)
		json.NewEncoder(w).Encode(map[string]interface{}{
			"issuer": idp.Issuer(), "jwks_uri": idp.Srv.URL + "/t1/keys",
		})
	})
	mux.HandleFunc("/t1/keys", func(w http.ResponseWriter, r *http.Request) {
		atomic.AddInt64(&idp.JWKS, 1)
		if idp.Hang != nil {
			select {
			case <-idp.Hang:
			case <-r.Context().Done():
			}
			return
		}
		time.Sleep(50 * time.Millisecond) // let concurrent requests pile up
		jwk := jose.JSONWebKey{Key: &key.PublicKey, KeyID: "k1", Use: "sig", Algorithm: "RS256"}
		json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{jwk}})
	})
	idp.Srv = httptest.NewServer(mux)
	t.Cleanup(idp.Srv.Close)
	return idp
}

func (idp *IdP) Issuer() string { return idp.Srv.URL + idp.IssuerPath }

// Token is a genuine access token for the tenant of Manifest (client_id c1, azp other),
// after edit.
func (idp *IdP) Token(t *testing.T, edit func(jwt.MapClaims)) string {
	t.Helper()
	now := time.Now().Unix()
	claims := jwt.MapClaims{
		"iss": idp.Issuer(), "sub": "s", "aud": "api://a", "iat": now, "exp": now + 300,
		"client_id": "c1", "azp": "other",
	}
	if edit != nil {
		edit(claims)
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	tok.Header["typ"] = "at+jwt"
	tok.Header["kid"] = "k1"
	s, err := tok.SignedString(idp.Key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Manifest writes a manifest with one tenant t1 of idp (header X-Tenant-Slug) and returns
// its path; tenantExtra is appended to the tenant's members.
func Manifest(t *testing.T, idp *IdP, contract string, tenantExtra string) string {
	t.Helper()
	manifest := fmt.Sprintf(`{"contract": %q, "tenant_source": {"kind": "header", "header": "X-Tenant-Slug"},
	  "clock_skew_seconds": 60, "jwks_cache_seconds": 60, "require_https_metadata": false, "ca_bundle": null,
	  "tenants": [{"slug": "t1", "enabled": true, "metadata_address": %q, "valid_issuers": null,
	    "valid_audiences": ["api://a"], "allowed_client_ids": ["c1"], "require_access_token_type": false,
	    "claim_mappings": {} %s}]}`, contract, idp.Issuer()+"/.well-known/openid-configuration", tenantExtra)
	path := filepath.Join(t.TempDir(), "manifest.json")
	if err := os.WriteFile(path, []byte(manifest), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// Call sends one request for tenant t1: the token in Authorization when not empty, body as
// a form when not nil.
func Call(h http.Handler, method, target, token string, body url.Values) *httptest.ResponseRecorder {
	var req *http.Request
	if body != nil {
		req = httptest.NewRequest(method, target, strings.NewReader(body.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		req = httptest.NewRequest(method, target, nil)
	}
	req.Header.Set("X-Tenant-Slug", "t1")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// HangingIdPIsBounded checks a program's fetching against a JWKS that never answers: the
// genuine token is refused with 401 invalid_token, within 4 s. server makes the program's
// handler for the IdP.
func HangingIdPIsBounded(t *testing.T, server func(*IdP) http.Handler) {
	t.Helper()
	idp := NewIdP(t)
	idp.Hang = make(chan struct{})
	defer close(idp.Hang)
	s := server(idp)
	start := time.Now()
	rec := Call(s, "GET", "/api/whoami", idp.Token(t, nil), nil)
	if rec.Code != 401 || !strings.Contains(rec.Header().Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Fatalf("hanging JWKS: %d %q", rec.Code, rec.Header().Get("WWW-Authenticate"))
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Fatalf("hanging JWKS took %v", d)
	}
}

// ColdCacheFetchesOnce checks that 50 concurrent genuine requests on a cold cache are all
// accepted and fetch discovery and the JWKS once.
func ColdCacheFetchesOnce(t *testing.T, server func(*IdP) http.Handler) {
	t.Helper()
	idp := NewIdP(t)
	s := server(idp)
	tok := idp.Token(t, nil)
	var wg sync.WaitGroup
	var bad int64
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if Call(s, "GET", "/api/whoami", tok, nil).Code != 200 {
				atomic.AddInt64(&bad, 1)
			}
		}()
	}
	wg.Wait()
	if bad != 0 || atomic.LoadInt64(&idp.Discovery) != 1 || atomic.LoadInt64(&idp.JWKS) != 1 {
		t.Fatalf("refused %d, discovery fetched %d, jwks fetched %d", bad, idp.Discovery, idp.JWKS)
	}
}
