package main

// Unit tests of the glue (fetch bounds, the shared cold-cache fetch, the client allow-list,
// the discovery issuer): run with `./build.sh test`. The test IdP and helpers are copied
// from targets/independent-go/main_test.go.

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

type testIdP struct {
	srv        *httptest.Server
	key        *rsa.PrivateKey
	discovery  int64
	jwks       int64
	hang       chan struct{} // when non-nil, the JWKS never answers until closed
	issuerPath string
}

func newTestIdP(t *testing.T) *testIdP {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	idp := &testIdP{key: key, issuerPath: "/t1"}
	mux := http.NewServeMux()
	mux.HandleFunc("/t1/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		atomic.AddInt64(&idp.discovery, 1)
		json.NewEncoder(w).Encode(map[string]interface{}{
			"issuer": idp.issuer(), "jwks_uri": idp.srv.URL + "/t1/keys",
		})
	})
	mux.HandleFunc("/t1/keys", func(w http.ResponseWriter, r *http.Request) {
		atomic.AddInt64(&idp.jwks, 1)
		if idp.hang != nil {
			select {
			case <-idp.hang:
			case <-r.Context().Done():
			}
			return
		}
		time.Sleep(50 * time.Millisecond) // let concurrent requests pile up
		jwk := jose.JSONWebKey{Key: &key.PublicKey, KeyID: "k1", Use: "sig", Algorithm: "RS256"}
		json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{jwk}})
	})
	idp.srv = httptest.NewServer(mux)
	t.Cleanup(idp.srv.Close)
	return idp
}

func (idp *testIdP) issuer() string { return idp.srv.URL + idp.issuerPath }

func (idp *testIdP) token(t *testing.T, edit func(jwt.MapClaims)) string {
	t.Helper()
	now := time.Now().Unix()
	claims := jwt.MapClaims{
		"iss": idp.issuer(), "sub": "s", "aud": "api://a", "iat": now, "exp": now + 300,
		"client_id": "c1", "azp": "other",
	}
	if edit != nil {
		edit(claims)
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	tok.Header["typ"] = "at+jwt"
	tok.Header["kid"] = "k1"
	s, err := tok.SignedString(idp.key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func testServer(t *testing.T, idp *testIdP, contract string, tenantExtra string) *server {
	t.Helper()
	manifest := fmt.Sprintf(`{"contract": %q, "tenant_source": {"kind": "header", "header": "X-Tenant-Slug"},
	  "clock_skew_seconds": 60, "jwks_cache_seconds": 60, "require_https_metadata": false, "ca_bundle": null,
	  "tenants": [{"slug": "t1", "enabled": true, "metadata_address": %q, "valid_issuers": null,
	    "valid_audiences": ["api://a"], "allowed_client_ids": ["c1"], "require_access_token_type": false,
	    "claim_mappings": {} %s}]}`, contract, idp.issuer()+"/.well-known/openid-configuration", tenantExtra)
	path := filepath.Join(t.TempDir(), "manifest.json")
	if err := os.WriteFile(path, []byte(manifest), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := loadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	return newServer(cfg, testing.Verbose())
}

func call(s *server, method, target, token string, body url.Values) *httptest.ResponseRecorder {
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
	s.ServeHTTP(rec, req)
	return rec
}

func TestGenuineAudienceAndClientID(t *testing.T) {
	idp := newTestIdP(t)
	s := testServer(t, idp, "byoid-target/2", `, "client_id_claims": ["client_id", "azp"]`)
	if rec := call(s, "GET", "/api/whoami", idp.token(t, nil), nil); rec.Code != 200 {
		t.Fatalf("genuine token refused: %d %s", rec.Code, rec.Body)
	}
	tok := idp.token(t, func(c jwt.MapClaims) { c["aud"] = []interface{}{"api://other"} })
	if rec := call(s, "GET", "/api/whoami", tok, nil); rec.Code != 401 {
		t.Fatalf("another audience accepted: %d", rec.Code)
	}
	// The first of client_id_claims the token carries decides, and must be a string.
	s = testServer(t, idp, "byoid-target/2", `, "client_id_claims": ["azp"]`)
	if rec := call(s, "GET", "/api/whoami", idp.token(t, nil), nil); rec.Code != 401 {
		t.Fatalf("azp=other accepted: %d", rec.Code)
	}
	s = testServer(t, idp, "byoid-target/1", "")
	tok = idp.token(t, func(c jwt.MapClaims) { c["client_id"] = 7; c["azp"] = "c1" })
	if rec := call(s, "GET", "/api/whoami", tok, nil); rec.Code != 401 {
		t.Fatalf("non-string first client id accepted: %d", rec.Code)
	}
}

func TestHangingIdPIsBounded(t *testing.T) {
	idp := newTestIdP(t)
	idp.hang = make(chan struct{})
	defer close(idp.hang)
	s := testServer(t, idp, "byoid-target/2", "")
	start := time.Now()
	rec := call(s, "GET", "/api/whoami", idp.token(t, nil), nil)
	if rec.Code != 401 || !strings.Contains(rec.Header().Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Fatalf("hanging JWKS: %d %q", rec.Code, rec.Header().Get("WWW-Authenticate"))
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Fatalf("hanging JWKS took %v", d)
	}
}

func TestConcurrentColdCacheFetchesOnce(t *testing.T) {
	idp := newTestIdP(t)
	s := testServer(t, idp, "byoid-target/2", "")
	tok := idp.token(t, nil)
	var wg sync.WaitGroup
	var bad int64
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if call(s, "GET", "/api/whoami", tok, nil).Code != 200 {
				atomic.AddInt64(&bad, 1)
			}
		}()
	}
	wg.Wait()
	if bad != 0 || idp.discovery != 1 || idp.jwks != 1 {
		t.Fatalf("refused %d, discovery fetched %d, jwks fetched %d", bad, idp.discovery, idp.jwks)
	}
}

func TestIssuerMatchesAddress(t *testing.T) {
	cases := []struct {
		iss, addr string
		ok        bool
	}{
		{"https://a.example/t", "https://a.example/t/.well-known/openid-configuration", true},
		{"https://a.example/t/", "https://a.example/t/.well-known/openid-configuration", true},
		{"https://a.example/t", "https://a.example/t/.well-known/oauth-authorization-server", true},
		{"https://a.example/t", "https://a.example/.well-known/oauth-authorization-server/t", true},
		{"https://a.example/T", "https://a.example/t/.well-known/openid-configuration", false},
		{"https://evil.example/t", "https://a.example/t/.well-known/openid-configuration", false},
	}
	for _, c := range cases {
		if got := issuerMatchesAddress(c.iss, c.addr); got != c.ok {
			t.Errorf("issuerMatchesAddress(%q, %q) = %v", c.iss, c.addr, got)
		}
	}
}
