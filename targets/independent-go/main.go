// byoid-independent-go: a BYOID access-token validator written from the byoid target
// contract (docs/target-contract.md), on golang-jwt v4 and go-jose v2. The contract's glue
// (manifest, tenants, token transport, responses, claim mappings, roles, serving) is the
// package byoid.local/glue in targets/go-glue, shared with targets/lib-go-jwt; everything
// that validates a token is in this folder (token.go, keys.go, strictjson.go).
package main

import (
	"sync"
	"time"

	"byoid.local/glue"
)

type tenant = glue.Tenant

// config is the manifest as the glue reads it, plus the unknown-kid refetch cooldown.
type config struct {
	*glue.Config
	refetchCooldown time.Duration
}

// manifestOptions: require_access_token_type is read (checkTyp in token.go honours it).
var manifestOptions = glue.Options{FetchTimeout: fetchTimeout, ReadAccessTokenType: true}

func loadConfig(path string) (*glue.Config, error) { return glue.LoadConfig(path, manifestOptions) }

type server struct {
	cfg *config

	storesMu sync.Mutex
	stores   map[*tenant]*keyStore
}

func (s *server) keyStore(t *tenant) *keyStore {
	s.storesMu.Lock()
	defer s.storesMu.Unlock()
	ks := s.stores[t]
	if ks == nil {
		ks = &keyStore{t: t, cfg: s.cfg}
		s.stores[t] = ks
	}
	return ks
}

func newServer(gc *glue.Config, debug bool) *glue.Server {
	cfg := &config{Config: gc, refetchCooldown: gc.CacheWindow}
	if cfg.refetchCooldown > maxRefetchCooldown {
		cfg.refetchCooldown = maxRefetchCooldown
	}
	if cfg.refetchCooldown < time.Second {
		cfg.refetchCooldown = time.Second
	}
	s := &server{cfg: cfg, stores: map[*tenant]*keyStore{}}
	return glue.NewServer(gc, debug, s.validateToken)
}

func main() { glue.Main("byoid-independent-go", loadConfig, newServer) }
