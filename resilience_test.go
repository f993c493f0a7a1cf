package main

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestBreakerOpenEndToEnd: with the upstream failing, the breaker opens; then a cached history
// is served stale and marked so, another contract gets UPSTREAM_UNAVAILABLE without a call, and
// /readyz stays ready, saying the breaker is open.
func TestBreakerOpenEndToEnd(t *testing.T) {
	var sick atomic.Bool
	var calls atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/contract/") {
			return // /readyz's ping
		}
		calls.Add(1)
		if sick.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte(`{"tickets":[{"id":1,"subject":"s"}]}`))
	}))
	defer up.Close()
	const ttl = 500 * time.Millisecond
	base, _ := startTestServer(t, map[string]string{
		"UPSTREAM_URL": up.URL, "CACHE_TTL": ttl.String(), "UPSTREAM_RETRIES": "0",
		"UPSTREAM_BREAKER_FAILURES": "2", "UPSTREAM_BREAKER_COOLDOWN": "1h",
	})
	type answer struct {
		Data       map[string]any
		Errors     []struct{ Extensions map[string]any }
		Extensions struct {
			Histories map[string]struct{ Cache string }
		}
	}
	query := func(id string) answer {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, base+"/graphql", strings.NewReader(`{"query":"{ contract(id: \"`+id+`\") { history { tickets { id } } } }"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer caller-token")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var a answer
		if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
			t.Fatal(err)
		}
		return a
	}
	code := func(a answer) any {
		if len(a.Errors) == 0 {
			return nil
		}
		return a.Errors[0].Extensions["code"]
	}

	if a := query("cached"); len(a.Errors) != 0 {
		t.Fatalf("healthy upstream: %+v", a)
	}
	sick.Store(true)
	for _, id := range []string{"a", "b"} { // two failures in a row open it
		if c := code(query(id)); c != "UPSTREAM_ERROR" {
			t.Fatalf("contract %s from a failing upstream: code %v, want UPSTREAM_ERROR", id, c)
		}
	}
	before := calls.Load()
	if c := code(query("c")); c != "UPSTREAM_UNAVAILABLE" {
		t.Errorf("breaker open: code %v, want UPSTREAM_UNAVAILABLE", c)
	}
	time.Sleep(ttl + ttl/10 + 50*time.Millisecond) // past the TTL and its jitter: no event tells
	if a := query("cached"); len(a.Errors) != 0 || a.Extensions.Histories["cached"].Cache != "stale" {
		t.Errorf("breaker open, expired entry: %+v, want it served, marked stale", a)
	}
	if n := calls.Load() - before; n != 0 {
		t.Errorf("%d upstream calls while the breaker was open, want 0", n)
	}
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ready map[string]string
	json.NewDecoder(resp.Body).Decode(&ready)
	if resp.StatusCode != http.StatusOK || ready["breaker"] != "open" || ready["status"] != "ready" {
		t.Errorf("/readyz = %d %v, want ready with the breaker open", resp.StatusCode, ready)
	}
}

// TestUnreachableRedisAtStart: with REDIS_URL pointing at a closed port the facade starts, logs a
// warning naming the address (its password hidden), and /readyz says the cache is degraded from
// its first answer, not "ok" until a query fails.
func TestUnreachableRedisAtStart(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	p := startProcess(t, map[string]string{"REDIS_URL": "redis://:hush-hush@" + addr + "/0"})
	resp, err := http.Get(p.base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	var ready map[string]string
	json.NewDecoder(resp.Body).Decode(&ready)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || ready["cache"] != "degraded" {
		t.Errorf("/readyz = %d %v, want ready with the cache degraded", resp.StatusCode, ready)
	}
	var warned bool
	for _, raw := range strings.Split(p.Logs(), "\n") {
		var l struct{ Level, Msg, Addr string }
		if json.Unmarshal([]byte(raw), &l) == nil && l.Level == "WARN" && strings.HasPrefix(l.Msg, "REDIS_URL") {
			warned = strings.Contains(l.Addr, addr) && !strings.Contains(l.Addr, "hush")
		}
	}
	if !warned || strings.Contains(p.Logs(), "hush-hush") {
		t.Errorf("no warning naming %s (with its password hidden) in:\n%s", addr, p.Logs())
	}
}
