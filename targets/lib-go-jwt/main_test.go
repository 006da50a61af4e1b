package main

// Unit tests of the glue (fetch bounds, the shared cold-cache fetch, the client allow-list,
// the discovery issuer): run with `./build.sh test`. The test IdP and helpers are the
// glue's (byoid.local/glue/gluetest), shared with targets/independent-go.

import (
	"net/http"
	"testing"

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

// The checks both Go targets' fetching must pass, each on this program's own fetch code.
func defaultServer(t *testing.T) func(*gluetest.IdP) http.Handler {
	return func(idp *gluetest.IdP) http.Handler { return testServer(t, idp, "byoid-target/2", "") }
}

func TestHangingIdPIsBounded(t *testing.T) { gluetest.HangingIdPIsBounded(t, defaultServer(t)) }

func TestConcurrentColdCacheFetchesOnce(t *testing.T) {
	gluetest.ColdCacheFetchesOnce(t, defaultServer(t))
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
