// Package gluetest is the two Go targets' shared unit-test helpers: a test IdP serving one
// tenant's discovery document and JWKS, a manifest for it, and a request helper. Only the
// programs' _test.go files import it.
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
