package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// TestServiceModeKeys: with a service token, callers must present one of the API keys of
// API_KEYS_FILE; every other request is UNAUTHENTICATED with no upstream call. Each key is its
// own rate-limit budget, and logs name it, never the key itself.
func TestServiceModeKeys(t *testing.T) {
	var (
		calls  atomic.Int64
		mu     sync.Mutex
		tokens = map[string]bool{}
	)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/contract/") {
			calls.Add(1)
			mu.Lock()
			tokens[r.Header.Get("Authorization")] = true
			mu.Unlock()
		}
		w.Write([]byte(`{"tickets":[{"id":1,"subject":"s"}]}`))
	}))
	t.Cleanup(up.Close)
	const powerbi, grafana = "pbi-Qm9vdHN0cmFwIGtleQ-secret", "graf-c2Vjb25kIGtleQ-secret"
	hash := func(k string) string { s := sha256.Sum256([]byte(k)); return hex.EncodeToString(s[:]) }
	file := filepath.Join(t.TempDir(), "keys")
	os.WriteFile(file, []byte("# name, sha256 of the key\npowerbi sha256:"+hash(powerbi)+"\n\ngrafana "+hash(grafana)+"\n"), 0o600)
	p := startProcess(t, map[string]string{
		"UPSTREAM_URL": up.URL, "UPSTREAM_TOKEN": "svc-token-hush", "API_KEYS_FILE": file, "ADMIN_TOKEN": "admin-hush",
		"MAX_COST": "100", "RATE_LIMIT_BURST": "160", "RATE_LIMIT_PER_SECOND": "1",
	})
	query := []byte(`{"query":"{ contract(id: \"7\") { history { tickets { id } } } }"}`)
	send := func(method, auth string) (*http.Response, map[string]any) {
		req, _ := http.NewRequest(method, p.base+"/graphql", bytes.NewReader(query))
		if method == http.MethodGet {
			req, _ = http.NewRequest(method, p.base+"/graphql?query=%7B__typename%7D", nil)
		}
		req.Header.Set("Content-Type", "application/json")
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		json.NewDecoder(resp.Body).Decode(&out)
		return resp, out
	}
	for _, auth := range []string{"", "Bearer wrong-key", "Basic cG93ZXJiaQ==", "Bearer " + powerbi + "x", "Bearer svc-token-hush"} {
		for _, method := range []string{http.MethodPost, http.MethodGet} {
			resp, out := send(method, auth)
			if codes := codesOf(out); resp.StatusCode != http.StatusUnauthorized || len(codes) != 1 || codes[0] != "UNAUTHENTICATED" || resp.Header.Get("WWW-Authenticate") == "" {
				t.Errorf("%s with %q: %d %v, want 401 UNAUTHENTICATED", method, auth, resp.StatusCode, out)
			}
		}
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("%d upstream calls for refused requests, want 0", n)
	}
	// Each key pays from its own bucket: 160 points, 52 a query.
	for i := range 3 {
		if resp, out := send(http.MethodPost, "Bearer "+powerbi); resp.StatusCode != http.StatusOK || out["errors"] != nil {
			t.Fatalf("powerbi's query %d: %d %v", i+1, resp.StatusCode, out)
		}
	}
	if resp, _ := send(http.MethodPost, "Bearer "+powerbi); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("powerbi's fourth query: %d, want 429", resp.StatusCode)
	}
	if resp, out := send(http.MethodPost, "Bearer "+grafana); resp.StatusCode != http.StatusOK || out["errors"] != nil {
		t.Errorf("grafana while powerbi is limited: %d %v", resp.StatusCode, out)
	}
	mu.Lock()
	if len(tokens) != 1 || !tokens["Bearer svc-token-hush"] {
		t.Errorf("the upstream saw %v, want the service token only", tokens)
	}
	mu.Unlock()
	// The admin token is a key of its own, for the invalidation mutation.
	query = []byte(`{"query":"mutation { invalidateContractHistory(contractId: \"7\") }"}`)
	if resp, out := send(http.MethodPost, "Bearer admin-hush"); resp.StatusCode != http.StatusOK || out["errors"] != nil {
		t.Errorf("the admin's mutation: %d %v", resp.StatusCode, out)
	}
	logs := p.Logs()
	if !strings.Contains(logs, `"caller":"powerbi"`) {
		t.Errorf("no log line names the key powerbi:\n%s", logs)
	}
	for _, secret := range []string{powerbi, grafana, "hush", hash(powerbi)} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log holds %q:\n%s", secret, logs)
		}
	}
}
