package main

// Unit tests for behaviour the byoid catalog does not exercise (or exercises only through
// the mock IdPs): run with `./build.sh test`. The test IdP and helpers are the glue's
// (byoid.local/glue/gluetest), shared with targets/lib-go-jwt.

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
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

func TestGenuineAndV2ClientIDClaims(t *testing.T) {
	idp := gluetest.NewIdP(t)
	// v2 with client_id_claims ["azp"]: azp is "other", so the token is refused...
	s := testServer(t, idp, "byoid-target/2", `, "client_id_claims": ["azp"]`)
	if rec := gluetest.Call(s, "GET", "/api/whoami", idp.Token(t, nil), nil); rec.Code != 401 {
		t.Fatalf("azp=other accepted: %d", rec.Code)
	}
	// ...and ["client_id", "azp"] takes the first carried claim (client_id = c1).
	s = testServer(t, idp, "byoid-target/2", `, "client_id_claims": ["client_id", "azp"]`)
	if rec := gluetest.Call(s, "GET", "/api/whoami", idp.Token(t, nil), nil); rec.Code != 200 {
		t.Fatalf("genuine token refused: %d %s", rec.Code, rec.Body)
	}
}

func TestV1DefaultClientIDClaims(t *testing.T) {
	idp := gluetest.NewIdP(t)
	s := testServer(t, idp, "byoid-target/1", "")
	if rec := gluetest.Call(s, "GET", "/api/whoami", idp.Token(t, nil), nil); rec.Code != 200 {
		t.Fatalf("v1 default (client_id first) refused: %d", rec.Code)
	}
	tok := idp.Token(t, func(c jwt.MapClaims) { delete(c, "client_id"); c["azp"] = "c1" })
	if rec := gluetest.Call(s, "GET", "/api/whoami", tok, nil); rec.Code != 200 {
		t.Fatalf("v1 default (azp) refused: %d", rec.Code)
	}
	tok = idp.Token(t, func(c jwt.MapClaims) { c["client_id"] = 7; c["azp"] = "c1" })
	if rec := gluetest.Call(s, "GET", "/api/whoami", tok, nil); rec.Code != 401 {
		t.Fatalf("non-string first client id accepted: %d", rec.Code)
	}
}

func TestFormBodyPOST(t *testing.T) {
	idp := gluetest.NewIdP(t)
	s := testServer(t, idp, "byoid-target/2", "")
	tok := idp.Token(t, nil)
	req := httptest.NewRequest("POST", "/api/whoami", strings.NewReader(url.Values{"access_token": {tok}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Tenant-Slug", "t1")
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Fatalf("POST form body refused: %d", rec.Code)
	}
	if rec := gluetest.Call(s, "POST", "/api/whoami", tok, url.Values{"access_token": {tok}}); rec.Code != 400 {
		t.Fatalf("header + body: %d", rec.Code)
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

func TestStrictJSON(t *testing.T) {
	for _, bad := range []string{`{"a":1,"a":2}`, `{"a":{"b":1,"\u0062":2}}`, `{"a":1} x`, `[1]`, "{\"a\":\"\xff\"}"} {
		if _, err := parseStrictObject([]byte(bad), maxJSONDepth); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
	if _, err := parseStrictObject([]byte(`{"a":[1,{"b":null}],"c":1.5e3}`), maxJSONDepth); err != nil {
		t.Errorf("refused a valid object: %v", err)
	}
}
