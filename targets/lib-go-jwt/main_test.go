package main

// Unit tests of the glue (fetch bounds, the shared cold-cache fetch, the client allow-list,
// the discovery issuer): run with `./build.sh test`. The test IdP and helpers are the
// glue's (byoid.local/glue/gluetest), shared with targets/independent-go.

import (
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"byoid.local/glue"
	"byoid.local/glue/gluetest"
	jwt "github.com/golang-jwt/jwt"
)

// testServer: this program's server for a gluetest manifest.
func testServer(t *testing.T, idp *gluetest.IdP, contract string, tenantExtra string) *glue.Server {
	t.Helper()
	cfg, err := loadConfig(gluetest.Manifest(t, idp, contract, tenantExtra))
	if err != nil {
		t.Fatal(err)
	}
	return newServer(cfg, testing.Verbose())
}

func TestGenuineAudienceAndClientID(t *testing.T) {
	idp := gluetest.NewIdP(t)
	s := testServer(t, idp, "byoid-target/2", `, "client_id_claims": ["client_id", "azp"]`)
	if rec := gluetest.Call(s, "GET", "/api/whoami", idp.Token(t, nil), nil); rec.Code != 200 {
		t.Fatalf("genuine token refused: %d %s", rec.Code, rec.Body)
	}
	tok := idp.Token(t, func(c jwt.MapClaims) { c["aud"] = []interface{}{"api://other"} })
	if rec := gluetest.Call(s, "GET", "/api/whoami", tok, nil); rec.Code != 401 {
		t.Fatalf("another audience accepted: %d", rec.Code)
	}
	// The first of client_id_claims the token carries decides, and must be a string.
	s = testServer(t, idp, "byoid-target/2", `, "client_id_claims": ["azp"]`)
	if rec := gluetest.Call(s, "GET", "/api/whoami", idp.Token(t, nil), nil); rec.Code != 401 {
		t.Fatalf("azp=other accepted: %d", rec.Code)
	}
	s = testServer(t, idp, "byoid-target/1", "")
	tok = idp.Token(t, func(c jwt.MapClaims) { c["client_id"] = 7; c["azp"] = "c1" })
	if rec := gluetest.Call(s, "GET", "/api/whoami", tok, nil); rec.Code != 401 {
		t.Fatalf("non-string first client id accepted: %d", rec.Code)
	}
}

func TestHangingIdPIsBounded(t *testing.T) {
	idp := gluetest.NewIdP(t)
	idp.Hang = make(chan struct{})
	defer close(idp.Hang)
	s := testServer(t, idp, "byoid-target/2", "")
	start := time.Now()
	rec := gluetest.Call(s, "GET", "/api/whoami", idp.Token(t, nil), nil)
	if rec.Code != 401 || !strings.Contains(rec.Header().Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Fatalf("hanging JWKS: %d %q", rec.Code, rec.Header().Get("WWW-Authenticate"))
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Fatalf("hanging JWKS took %v", d)
	}
}

func TestConcurrentColdCacheFetchesOnce(t *testing.T) {
	idp := gluetest.NewIdP(t)
	s := testServer(t, idp, "byoid-target/2", "")
	tok := idp.Token(t, nil)
	var wg sync.WaitGroup
	var bad int64
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if gluetest.Call(s, "GET", "/api/whoami", tok, nil).Code != 200 {
				atomic.AddInt64(&bad, 1)
			}
		}()
	}
	wg.Wait()
	if bad != 0 || idp.Discovery != 1 || idp.JWKS != 1 {
		t.Fatalf("refused %d, discovery fetched %d, jwks fetched %d", bad, idp.Discovery, idp.JWKS)
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
