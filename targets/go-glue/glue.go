// Package glue is the byoid target contract's glue (docs/target-contract.md) shared by the
// two Go targets, targets/independent-go and targets/lib-go-jwt: the manifest, tenant
// resolution, where the token is, the RFC 6750 answers, claim mappings, the admin role and
// serving. It validates nothing: each program gives NewServer its own validator, and states
// where it reads the manifest differently in Options. Both programs' build.sh link this
// folder into their GOPATH as byoid.local/glue (GO111MODULE=off, no module proxy).
package glue

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"mime"
	"net"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"time"
)

// requestBudget: every answer leaves within the contract's 5 s (section 6).
const requestBudget = 4500 * time.Millisecond

// maxFormBody bounds a form body read for the access_token parameter.
const maxFormBody = 1 << 20

type TenantSource struct {
	Kind   string `json:"kind"`
	Header string `json:"header"`
	Prefix string `json:"prefix"` // path: the routes' path before the slug segment
}

type Tenant struct {
	Slug             string            `json:"slug"`
	Enabled          *bool             `json:"enabled"`
	MetadataAddress  string            `json:"metadata_address"`
	ValidIssuers     *[]string         `json:"valid_issuers"`
	ValidAudiences   []string          `json:"valid_audiences"`
	AllowedClientIDs []string          `json:"allowed_client_ids"`
	ClientIDClaims   *[]string         `json:"client_id_claims"`
	ClaimMappings    map[string]string `json:"claim_mappings"`
	AgreeHeader      *string           `json:"agree_header"`

	// RequireAccessTokenType is the manifest's require_access_token_type, read only when
	// Options.ReadAccessTokenType is set (false otherwise).
	RequireAccessTokenType bool `json:"-"`
}

func (t *Tenant) IsEnabled() bool { return t.Enabled == nil || *t.Enabled }

// ClientIDClaimNames: the manifest's client_id_claims, or the byoid-target/1 default
// (section 2.2).
func (t *Tenant) ClientIDClaimNames() []string {
	if t.ClientIDClaims == nil {
		return []string{"client_id", "azp", "cid", "appid"}
	}
	return *t.ClientIDClaims
}

type Config struct {
	Contract             string       `json:"contract"`
	TenantSource         TenantSource `json:"tenant_source"`
	ClockSkewSeconds     int64        `json:"clock_skew_seconds"`
	JWKSCacheSeconds     float64      `json:"jwks_cache_seconds"`
	RequireHTTPSMetadata bool         `json:"require_https_metadata"`
	CABundle             *string      `json:"ca_bundle"`
	Tenants              []*Tenant    `json:"tenants"`

	// CacheWindow is jwks_cache_seconds as a duration.
	CacheWindow time.Duration `json:"-"`
	// HTTPClient fetches the IdPs' documents: no proxy, no redirects, ca_bundle trusted,
	// every phase bounded by Options.FetchTimeout.
	HTTPClient *http.Client `json:"-"`
}

// Options is where the two programs read the manifest differently.
type Options struct {
	// FetchTimeout bounds HTTPClient's dial, TLS handshake, response headers and whole
	// exchange (the program's own fetch bound).
	FetchTimeout time.Duration
	// ReadAccessTokenType: read each tenant's require_access_token_type. A program whose
	// validator has no way to honour it leaves this false, and the member is not read.
	ReadAccessTokenType bool
}

// LoadConfig reads and checks the manifest at path.
func LoadConfig(path string, opts Options) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var cfg Config
	if err := json.Unmarshal(data, &cfg); err != nil {
		return nil, fmt.Errorf("manifest %s: %v", path, err)
	}
	if opts.ReadAccessTokenType {
		var typ struct {
			Tenants []struct {
				RequireAccessTokenType bool `json:"require_access_token_type"`
			} `json:"tenants"`
		}
		if err := json.Unmarshal(data, &typ); err != nil {
			return nil, fmt.Errorf("manifest %s: %v", path, err)
		}
		for i, t := range typ.Tenants {
			if cfg.Tenants[i] != nil {
				cfg.Tenants[i].RequireAccessTokenType = t.RequireAccessTokenType
			}
		}
	}
	switch cfg.Contract {
	case "byoid-target/1", "byoid-target/2":
	default:
		return nil, fmt.Errorf("manifest contract %q is not supported (byoid-target/1 or byoid-target/2)", cfg.Contract)
	}
	switch cfg.TenantSource.Kind {
	case "header":
		if cfg.TenantSource.Header == "" {
			return nil, errors.New("tenant_source header: no header name")
		}
	case "path", "subdomain":
	default:
		return nil, fmt.Errorf("tenant_source kind %q is not supported", cfg.TenantSource.Kind)
	}
	if cfg.ClockSkewSeconds < 0 || cfg.JWKSCacheSeconds < 0 {
		return nil, errors.New("negative clock_skew_seconds or jwks_cache_seconds")
	}
	cfg.CacheWindow = time.Duration(cfg.JWKSCacheSeconds * float64(time.Second))

	roots, err := x509.SystemCertPool()
	if err != nil || roots == nil {
		roots = x509.NewCertPool()
	}
	if cfg.CABundle != nil && *cfg.CABundle != "" {
		pem, err := os.ReadFile(*cfg.CABundle)
		if err != nil {
			return nil, fmt.Errorf("ca_bundle: %v", err)
		}
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca_bundle %s: no certificate found", *cfg.CABundle)
		}
	}
	cfg.HTTPClient = &http.Client{
		Timeout: opts.FetchTimeout,
		Transport: &http.Transport{
			Proxy:                 nil, // the IdPs are fetched directly
			DialContext:           (&net.Dialer{Timeout: opts.FetchTimeout}).DialContext,
			TLSClientConfig:       &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
			TLSHandshakeTimeout:   opts.FetchTimeout,
			ResponseHeaderTimeout: opts.FetchTimeout,
			MaxIdleConnsPerHost:   4,
			IdleConnTimeout:       30 * time.Second,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return &cfg, nil
}

// Main runs a target: name prefixes its log lines; load reads $BYOID_MANIFEST; the server
// newServer makes listens on 127.0.0.1:$BYOID_PORT (debug: BYOID_TARGET_DEBUG=1).
func Main(name string, load func(path string) (*Config, error), newServer func(cfg *Config, debug bool) *Server) {
	log.SetFlags(0)
	log.SetPrefix(name + ": ")
	manifest := os.Getenv("BYOID_MANIFEST")
	port := os.Getenv("BYOID_PORT")
	if manifest == "" || port == "" {
		log.Fatal("BYOID_MANIFEST and BYOID_PORT must be set")
	}
	cfg, err := load(manifest)
	if err != nil {
		log.Fatal(err)
	}
	s := newServer(cfg, os.Getenv("BYOID_TARGET_DEBUG") == "1")
	srv := &http.Server{
		Addr:              net.JoinHostPort("127.0.0.1", port),
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	log.Printf("listening on %s, %d tenants, tenant source %s", srv.Addr, len(cfg.Tenants), cfg.TenantSource.Kind)
	log.Fatal(srv.ListenAndServe())
}

// ValidateFunc is a program's verdict on a token for a tenant: the verified claims, or an
// error (answered 401 invalid_token, its text logged only with debug). deadline is when the
// answer is due.
type ValidateFunc func(t *Tenant, token string, deadline time.Time) (map[string]interface{}, error)

// Server answers the contract's routes; a token goes to the program's ValidateFunc.
type Server struct {
	cfg      *Config
	bySlug   map[string]*Tenant // exact slugs (header, path)
	byLower  map[string]*Tenant // lower-cased slugs (subdomain)
	debug    bool
	validate ValidateFunc
}

func NewServer(cfg *Config, debug bool, validate ValidateFunc) *Server {
	s := &Server{
		cfg:      cfg,
		bySlug:   map[string]*Tenant{},
		byLower:  map[string]*Tenant{},
		debug:    debug,
		validate: validate,
	}
	for _, t := range cfg.Tenants {
		s.bySlug[t.Slug] = t
		s.byLower[strings.ToLower(t.Slug)] = t
	}
	return s
}

func (s *Server) debugf(format string, args ...interface{}) {
	if s.debug {
		log.Printf(format, args...)
	}
}

// ---------------------------------------------------------------------------------------
// Responses (contract section 4, RFC 6750 section 3)
// ---------------------------------------------------------------------------------------

func writeJSON(w http.ResponseWriter, status int, v interface{}) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func noCredentials(w http.ResponseWriter) {
	// RFC 6750 section 3: the scheme is followed by one auth-param at least.
	w.Header().Set("WWW-Authenticate", `Bearer realm="api"`)
	writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "unauthorized"})
}

func bearerError(w http.ResponseWriter, status int, code string) {
	w.Header().Set("WWW-Authenticate", `Bearer error="`+code+`"`)
	writeJSON(w, status, map[string]string{"error": code})
}

func invalidToken(w http.ResponseWriter)   { bearerError(w, http.StatusUnauthorized, "invalid_token") }
func invalidRequest(w http.ResponseWriter) { bearerError(w, http.StatusBadRequest, "invalid_request") }

// ---------------------------------------------------------------------------------------
// Requests (contract section 3)
// ---------------------------------------------------------------------------------------

type slugState int

const (
	slugGiven slugState = iota
	slugMissing
	slugMalformed
)

// route splits the request path into the route ("healthz", "whoami", "admin" or "") and,
// in path mode, the slug from the first segment.
func (s *Server) route(r *http.Request) (route, slug string, state slugState) {
	p := r.URL.EscapedPath()
	if p == "/healthz" {
		return "healthz", "", slugMissing
	}
	if s.cfg.TenantSource.Kind == "path" && strings.HasSuffix(p, "/healthz") && strings.Count(p, "/") == 2 {
		return "healthz", "", slugMissing // /{slug}/healthz: readiness needs no tenant
	}
	for _, rt := range []string{"whoami", "admin"} {
		suffix := "/api/" + rt
		if s.cfg.TenantSource.Kind != "path" {
			if p == suffix {
				return rt, "", slugGiven
			}
			continue
		}
		if !strings.HasSuffix(p, suffix) {
			continue
		}
		prefix := strings.TrimSuffix(p, suffix)
		if !strings.HasPrefix(prefix, s.cfg.TenantSource.Prefix) {
			return rt, "", slugMissing
		}
		prefix = prefix[len(s.cfg.TenantSource.Prefix):]
		if prefix == "" {
			return rt, "", slugMissing
		}
		seg := prefix[1:]
		if seg == "" || strings.Contains(seg, "/") {
			return rt, "", slugMalformed
		}
		dec, err := url.PathUnescape(seg)
		if err != nil || dec == "" {
			return rt, "", slugMalformed
		}
		return rt, dec, slugGiven
	}
	return "", "", slugMissing
}

// resolveTenant reads the slug from the configured source only (section 3.1).
func (s *Server) resolveTenant(r *http.Request, pathSlug string, pathState slugState) (*Tenant, string) {
	switch s.cfg.TenantSource.Kind {
	case "header":
		vals := r.Header.Values(s.cfg.TenantSource.Header)
		if len(vals) == 0 {
			return nil, "no tenant header"
		}
		if len(vals) > 1 {
			return nil, "several tenant headers"
		}
		if t := s.bySlug[vals[0]]; t != nil {
			return t, ""
		}
		return nil, "unknown tenant"
	case "path":
		if pathState != slugGiven {
			return nil, "no tenant path segment"
		}
		if t := s.bySlug[pathSlug]; t != nil {
			return t, ""
		}
		return nil, "unknown tenant"
	case "subdomain":
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		if host == "" || net.ParseIP(host) != nil {
			return nil, "no tenant subdomain"
		}
		label := host
		if i := strings.IndexByte(host, '.'); i >= 0 {
			label = host[:i]
		}
		if t := s.byLower[strings.ToLower(label)]; t != nil && label != "" {
			return t, ""
		}
		return nil, "unknown tenant"
	}
	return nil, "no tenant source"
}

// parseAuthorization: RFC 6750 section 2.1, `Bearer 1*SP b64token`, the scheme compared
// case-insensitively. isBearer is false for any other scheme (no bearer credential).
func parseAuthorization(v string) (token string, isBearer bool) {
	i := strings.IndexByte(v, ' ')
	if i < 0 {
		return "", strings.EqualFold(v, "Bearer")
	}
	if !strings.EqualFold(v[:i], "Bearer") {
		return "", false
	}
	return strings.TrimLeft(v[i:], " "), true
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if rec := recover(); rec != nil {
			// Fail closed and never 5xx because of a token (section 4).
			s.debugf("panic: %v", rec)
			invalidToken(w)
		}
	}()

	route, pathSlug, pathState := s.route(r)
	switch route {
	case "healthz":
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "ok\n")
		return
	case "":
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}

	// Where the token is (section 3.3): count every method used.
	methods := 0
	var token string
	var viaQuery, viaBody bool
	authz := r.Header.Values("Authorization")
	if len(authz) > 1 {
		s.debugf("400: two Authorization fields")
		invalidRequest(w)
		return
	}
	if len(authz) == 1 {
		if tok, ok := parseAuthorization(authz[0]); ok {
			methods++
			token = tok
		}
	}
	query, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		s.debugf("400: malformed query")
		invalidRequest(w)
		return
	}
	if _, ok := query["access_token"]; ok {
		methods++
		viaQuery = true
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err == nil && mt == "application/x-www-form-urlencoded" {
		body, err := io.ReadAll(io.LimitReader(r.Body, maxFormBody+1))
		if err != nil || len(body) > maxFormBody {
			s.debugf("400: unreadable or oversized form body")
			invalidRequest(w)
			return
		}
		form, err := url.ParseQuery(string(body))
		if err != nil {
			s.debugf("400: malformed form body")
			invalidRequest(w)
			return
		}
		if vals, ok := form["access_token"]; ok {
			methods++
			viaBody = true
			if len(vals) != 1 {
				methods++
			} else if token == "" {
				token = vals[0]
			}
		}
	}
	switch {
	case methods > 1:
		s.debugf("400: token sent by more than one method")
		invalidRequest(w)
		return
	case viaQuery:
		// RFC 9700 section 4.3.2: tokens in URLs leak; the query method is not supported.
		s.debugf("400: access_token query parameter refused")
		invalidRequest(w)
		return
	case viaBody && r.Method == http.MethodGet:
		// RFC 6750 section 2.2: the form-body method is not for GET.
		s.debugf("400: form-body token on GET")
		invalidRequest(w)
		return
	case methods == 0:
		noCredentials(w)
		return
	}

	t, why := s.resolveTenant(r, pathSlug, pathState)
	if t == nil {
		s.debugf("401: %s", why)
		invalidToken(w)
		return
	}
	if t.AgreeHeader != nil && *t.AgreeHeader != "" {
		// Section 3.1: the one other place that must agree with the configured source.
		for _, v := range r.Header.Values(*t.AgreeHeader) {
			if v != t.Slug {
				s.debugf("401: %s names another tenant", *t.AgreeHeader)
				invalidToken(w)
				return
			}
		}
	}
	claims, err := s.validate(t, token, time.Now().Add(requestBudget))
	if err != nil {
		s.debugf("401 tenant %s: %v", t.Slug, err)
		invalidToken(w)
		return
	}
	claims = applyClaimMappings(claims, t.ClaimMappings)
	if route == "admin" && !hasRole(claims["roles"], "admin") {
		s.debugf("403 tenant %s: no admin role", t.Slug)
		bearerError(w, http.StatusForbidden, "insufficient_scope")
		return
	}
	writeJSON(w, http.StatusOK, map[string]interface{}{"tenant": t.Slug, "claims": claims})
}

// applyClaimMappings copies each source claim to its normalized name, merging arrays when
// the normalized claim exists already (section 5.7). Sources are read from the verified
// claims, in sorted order so the result does not depend on map iteration.
func applyClaimMappings(claims map[string]interface{}, mappings map[string]string) map[string]interface{} {
	out := make(map[string]interface{}, len(claims)+len(mappings))
	for k, v := range claims {
		out[k] = v
	}
	srcs := make([]string, 0, len(mappings))
	for src := range mappings {
		srcs = append(srcs, src)
	}
	sort.Strings(srcs)
	for _, src := range srcs {
		dst := mappings[src]
		v, ok := claims[src]
		if !ok || src == dst || dst == "" {
			continue
		}
		existing, ok := out[dst]
		if !ok {
			out[dst] = v
			continue
		}
		out[dst] = mergeValues(existing, v)
	}
	return out
}

func mergeValues(a, b interface{}) interface{} {
	merged := append([]interface{}{}, asList(a)...)
	for _, v := range asList(b) {
		dup := false
		for _, m := range merged {
			if fmt.Sprint(m) == fmt.Sprint(v) && sameKind(m, v) {
				dup = true
				break
			}
		}
		if !dup {
			merged = append(merged, v)
		}
	}
	return merged
}

func sameKind(a, b interface{}) bool { return fmt.Sprintf("%T", a) == fmt.Sprintf("%T", b) }

func asList(v interface{}) []interface{} {
	if l, ok := v.([]interface{}); ok {
		return l
	}
	return []interface{}{v}
}

// hasRole: the normalized roles claim contains the role, compared exactly.
func hasRole(v interface{}, role string) bool {
	switch r := v.(type) {
	case string:
		return r == role
	case []interface{}:
		for _, m := range r {
			if s, ok := m.(string); ok && s == role {
				return true
			}
		}
	}
	return false
}
