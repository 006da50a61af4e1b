// byoid-lib-go-jwt: a byoid target (docs/target-contract.md, byoid-target/2) whose token
// validation is golang-jwt v4's, configured as its documentation shows (see jwt.go and
// README.md). The contract's glue (manifest, tenant resolution, where the token is, the
// RFC 6750 answers, claim mappings, the admin role, serving) is the package
// byoid.local/glue in targets/go-glue, shared with targets/independent-go; no validation
// code is shared (see README.md, "What the glue adds").
package main

import (
	"sync"

	"byoid.local/glue"
)

type tenant = glue.Tenant

// config is the manifest as the glue reads it.
type config struct{ *glue.Config }

// manifestOptions: require_access_token_type is not read: golang-jwt has no option for `typ`.
var manifestOptions = glue.Options{FetchTimeout: fetchTimeout}

func loadConfig(path string) (*glue.Config, error) { return glue.LoadConfig(path, manifestOptions) }

type server struct {
	cfg *config

	storesMu sync.Mutex
	stores   map[*tenant]*keySource
}

func (s *server) keySource(t *tenant) *keySource {
	s.storesMu.Lock()
	defer s.storesMu.Unlock()
	ks := s.stores[t]
	if ks == nil {
		ks = &keySource{t: t, cfg: s.cfg}
		s.stores[t] = ks
	}
	return ks
}

func newServer(gc *glue.Config, debug bool) *glue.Server {
	s := &server{cfg: &config{gc}, stores: map[*tenant]*keySource{}}
	return glue.NewServer(gc, debug, s.validate)
}

func main() { glue.Main("byoid-lib-go-jwt", loadConfig, newServer) }
