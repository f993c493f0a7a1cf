package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/enneo-facade/facade/upstream/redisstore/redistest"
)

func TestWebhookInvalidatesEveryScope(t *testing.T) {
	var mu sync.Mutex
	calls := map[string]int{} // "token contract" -> upstream calls
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id, ok := strings.CutPrefix(r.URL.Path, "/contract/"); ok { // not /readyz's ping
			mu.Lock()
			calls[r.Header.Get("Authorization")+" "+strings.TrimSuffix(id, "/history")]++
			mu.Unlock()
		}
		w.Write([]byte(`{"tickets":[{"id":1,"subject":"s"}]}`))
	}))
	defer up.Close()
	base, _ := startTestServer(t, map[string]string{
		"UPSTREAM_URL": up.URL, "REDIS_URL": redistest.Start(t), "CACHE_PREFIX": redistest.Prefix(t),
		"WEBHOOK_SECRET": "hook-secret", "CACHE_KEY_SECRET": "scope-secret",
	})
	query := func(token, id string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, base+"/graphql", strings.NewReader(`{"query":"{ contract(id: \"`+id+`\") { id } }"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	queryAll := func() {
		for _, token := range []string{"alice", "bob"} {
			for _, id := range []string{"X", "Y"} {
				query(token, id)
			}
		}
	}
	count := func() map[string]int {
		mu.Lock()
		defer mu.Unlock()
		out := map[string]int{}
		for k, v := range calls {
			out[k] = v
		}
		return out
	}
	hook := func(secret, body string) int {
		req, _ := http.NewRequest(http.MethodPost, base+"/webhooks/enneo", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	queryAll()
	queryAll() // all cached now
	want := map[string]int{"Bearer alice X": 1, "Bearer alice Y": 1, "Bearer bob X": 1, "Bearer bob Y": 1}
	if got := count(); !equalCounts(got, want) {
		t.Fatalf("calls = %v, want %v", got, want)
	}
	const event = `{"event":"TicketUpdated","contractId":"X","ticketId":123}`
	if status := hook("wrong", event); status != http.StatusUnauthorized {
		t.Errorf("wrong secret: %d, want 401", status)
	}
	if status := hook("hook-secret", `{"event":"TicketUpdated","contractId":"../x"}`); status != http.StatusBadRequest {
		t.Errorf("bad contract id: %d, want 400", status)
	}
	queryAll()
	if got := count(); !equalCounts(got, want) {
		t.Fatalf("after refused webhooks calls = %v, want %v", got, want)
	}
	if status := hook("hook-secret", event); status != http.StatusOK {
		t.Fatalf("webhook: %d, want 200", status)
	}
	queryAll()
	want["Bearer alice X"], want["Bearer bob X"] = 2, 2
	if got := count(); !equalCounts(got, want) {
		t.Errorf("after the webhook calls = %v, want %v", got, want)
	}
	// A number works as contractId too, as older Enneo docs send it.
	if status := hook("hook-secret", `{"event":"TicketCreated","contractId":746839}`); status != http.StatusOK {
		t.Errorf("numeric contractId: %d, want 200", status)
	}
}

func equalCounts(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestWebhookAsksForARetryWhenRedisIsDown(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"tickets":[]}`))
	}))
	defer up.Close()
	base, _ := startTestServer(t, map[string]string{
		"UPSTREAM_URL": up.URL, "REDIS_URL": redistest.Blackhole(t), "WEBHOOK_SECRET": "hook-secret",
	})
	req, _ := http.NewRequest(http.MethodPost, base+"/webhooks/enneo", strings.NewReader(`{"event":"TicketUpdated","contractId":"X"}`))
	req.Header.Set("Authorization", "Bearer hook-secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("webhook with Redis hung: %d, want 503 so that Enneo retries", resp.StatusCode)
	}
}

func TestUpstreamConcurrencyIsConfigurable(t *testing.T) {
	var inFlight, most atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		time.Sleep(30 * time.Millisecond)
		w.Write([]byte(`{"tickets":[]}`))
	}))
	defer up.Close()
	base, _ := startTestServer(t, map[string]string{"UPSTREAM_URL": up.URL, "UPSTREAM_CONCURRENCY": "2", "CACHE_TTL": "0"})
	req, _ := http.NewRequest(http.MethodPost, base+"/graphql", strings.NewReader(`{"query":"{ contracts(ids: [\"1\",\"2\",\"3\",\"4\",\"5\",\"6\"]) { id } }"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer t")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if m := most.Load(); m != 2 {
		t.Errorf("at most %d upstream calls in flight, want UPSTREAM_CONCURRENCY=2", m)
	}
}
