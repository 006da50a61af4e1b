package glue

// Unit tests of the glue alone; each program's build.sh test runs them.

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestUnknownContractRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.json")
	os.WriteFile(path, []byte(`{"contract": "byoid-target/3", "tenant_source": {"kind": "path"}, "tenants": []}`), 0o600)
	if _, err := LoadConfig(path, Options{}); err == nil || !strings.Contains(err.Error(), "byoid-target/3") {
		t.Fatalf("contract byoid-target/3 not refused by name: %v", err)
	}
}

func TestReadAccessTokenTypeOption(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.json")
	os.WriteFile(path, []byte(`{"contract": "byoid-target/2", "tenant_source": {"kind": "path"},
	  "tenants": [{"slug": "a", "require_access_token_type": true}, {"slug": "b"}]}`), 0o600)
	for _, read := range []bool{false, true} {
		cfg, err := LoadConfig(path, Options{ReadAccessTokenType: read})
		if err != nil {
			t.Fatal(err)
		}
		if a, b := cfg.Tenants[0].RequireAccessTokenType, cfg.Tenants[1].RequireAccessTokenType; a != read || b {
			t.Errorf("ReadAccessTokenType %v: tenants read %v, %v", read, a, b)
		}
	}
}

func TestClaimMappingMerge(t *testing.T) {
	got := applyClaimMappings(map[string]interface{}{
		"roles": []interface{}{"reader"}, "groups": []interface{}{"admin", "reader"},
	}, map[string]string{"groups": "roles"})
	b, _ := json.Marshal(got["roles"])
	if string(b) != `["reader","admin"]` {
		t.Fatalf("merged roles %s", b)
	}
}
