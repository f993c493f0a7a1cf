package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/enneo-facade/facade/upstream/redisstore/redistest"
)

// TestRateLimitSharedByReplicas: two server processes on one Redis pay from one budget per
// credential: what alice spends on one, the other refuses her, with 429 and Retry-After, while
// bob is served; /readyz says the buckets are shared.
func TestRateLimitSharedByReplicas(t *testing.T) {
	env := map[string]string{
		"REDIS_URL": redistest.Start(t), "CACHE_PREFIX": redistest.Prefix(t), "CACHE_KEY_SECRET": "shared-secret",
		"MAX_COST": "100", "RATE_LIMIT_BURST": "160", "RATE_LIMIT_PER_SECOND": "1",
	}
	a, b := startProcess(t, env), startProcess(t, env)
	// Each costs 52 (1 contract, 1 history, 50 tickets); 160 points pay for three.
	query := []byte(`{"query":"{ contract(id: \"100001\") { history { tickets { id } } } }"}`)
	for i, p := range []*serverProcess{a, b, a} {
		if status, out := post(t, p.base, "alice", query); status != http.StatusOK || out["errors"] != nil {
			t.Fatalf("alice's query %d: %d %v", i+1, status, out)
		}
	}
	req, _ := http.NewRequest(http.MethodPost, b.base+"/graphql", bytes.NewReader(query))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer alice")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	resp.Body.Close()
	if codes := codesOf(out); resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" || len(codes) != 1 || codes[0] != "RATE_LIMITED" {
		t.Errorf("alice's fourth query, on the other replica: %d Retry-After %q %v, want 429 RATE_LIMITED", resp.StatusCode, resp.Header.Get("Retry-After"), out)
	}
	if status, out := post(t, b.base, "bob", query); status != http.StatusOK || out["errors"] != nil {
		t.Errorf("bob while alice is limited: %d %v", status, out)
	}
	for _, p := range []*serverProcess{a, b} {
		resp, err := http.Get(p.base + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		var ready map[string]string
		json.NewDecoder(resp.Body).Decode(&ready)
		resp.Body.Close()
		if ready["rateLimit"] != "shared" {
			t.Errorf("/readyz = %v, want rateLimit shared", ready)
		}
	}
}

// TestRateLimitFallsBackWhenRedisHangs: with Redis hung, queries are still served and still
// paid for, from a bucket in the process, and /readyz says so.
func TestRateLimitFallsBackWhenRedisHangs(t *testing.T) {
	base, _ := startTestServer(t, map[string]string{
		"REDIS_URL": redistest.Blackhole(t), "MAX_COST": "100", "RATE_LIMIT_BURST": "160", "RATE_LIMIT_PER_SECOND": "1",
	})
	query := []byte(`{"query":"{ contract(id: \"100001\") { history { tickets { id } } } }"}`)
	for i := range 3 {
		if status, out := post(t, base, "alice", query); status != http.StatusOK || out["errors"] != nil {
			t.Fatalf("alice's query %d with Redis hung: %d %v", i+1, status, out)
		}
	}
	if status, out := post(t, base, "alice", query); status != http.StatusTooManyRequests {
		t.Errorf("alice's fourth query: %d %v, want 429 from the bucket in process", status, out)
	}
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	var ready map[string]string
	json.NewDecoder(resp.Body).Decode(&ready)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || ready["rateLimit"] != "degraded" || ready["cache"] != "degraded" {
		t.Errorf("/readyz = %d %v, want ready, with the rate limit and the cache degraded", resp.StatusCode, ready)
	}
}
