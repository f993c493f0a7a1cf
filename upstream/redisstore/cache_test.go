package redisstore

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/enneo-facade/facade/upstream"
	"github.com/enneo-facade/facade/upstream/redisstore/redistest"
)

// stubUpstream serves histories whose one ticket names the token that fetched it, and counts
// the calls it gets.
type stubUpstream struct {
	calls  atomic.Int64
	client *upstream.Client
}

func newStubUpstream(t *testing.T) *stubUpstream {
	t.Helper()
	u := &stubUpstream{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.calls.Add(1)
		id := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/contract/"), "/history")
		token := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		w.Write([]byte(`{"tickets":[{"id":1,"contractId":"` + id + `","subject":"ticket of ` + token + `"}]}`))
	}))
	t.Cleanup(srv.Close)
	c, err := upstream.New(upstream.Options{BaseURL: srv.URL, Timeout: 5 * time.Second, Resilience: upstream.Resilience{Retries: -1}})
	if err != nil {
		t.Fatal(err)
	}
	u.client = c
	return u
}

var alice = upstream.Credential{Token: "alice-token", Scope: "scope-alice"}

func mustCache(t *testing.T, u *stubUpstream, store upstream.Store, o upstream.CacheOptions) *upstream.Cache {
	t.Helper()
	c, err := upstream.NewCache(u.client, store, o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// one loads id and waits for the cache's write behind.
func one(t *testing.T, c *upstream.Cache, cred upstream.Credential, id string) upstream.Result {
	t.Helper()
	r := c.Histories(context.Background(), cred, []string{id}, nil)[0]
	c.Flush()
	return r
}

func subject(r upstream.Result) string {
	if r.History == nil || len(r.History.Tickets) == 0 || r.History.Tickets[0].Subject == nil {
		return ""
	}
	return *r.History.Tickets[0].Subject
}

// TestCacheSurvivesRedisTrouble: with Redis gone mid-run, or hung, queries keep succeeding from
// the upstream, and hits resume once Redis is back, with the same Cache.
func TestCacheSurvivesRedisTrouble(t *testing.T) {
	url, stop, restart := redistest.StartServer(t)
	store, err := newStore(Options{URL: url}, config{coolDown: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	u := newStubUpstream(t)
	c := mustCache(t, u, store, upstream.CacheOptions{HotBytes: 1}) // no hot layer: every load reads Redis
	ids := []string{"a", "b"}
	load := func() []upstream.Result {
		start := time.Now()
		res := c.Histories(context.Background(), alice, ids, nil)
		t.Logf("load: %v %s/%s", time.Since(start).Round(time.Millisecond), res[0].Cache, res[1].Cache)
		c.Flush()
		for _, r := range res {
			if r.Err != nil || subject(r) != "ticket of alice-token" {
				t.Fatalf("load = %+v, want alice's history", r)
			}
		}
		return res
	}
	load()
	if res := load(); res[0].Cache != upstream.CacheHit {
		t.Fatalf("warm load = %s, want a hit", res[0].Cache)
	}

	stop()
	before := u.calls.Load()
	for range 10 {
		if res := load(); res[0].Cache != upstream.CacheMiss {
			t.Errorf("with Redis down: %s, want the upstream's answer", res[0].Cache)
		}
	}
	if n := u.calls.Load() - before; n != 20 {
		t.Errorf("with Redis down: %d upstream calls for 10 loads of 2, want 20", n)
	}
	if s := c.Status(); s != "degraded" {
		t.Errorf("Status() = %q with Redis down, want degraded", s)
	}

	restart()
	deadline := time.Now().Add(10 * time.Second)
	for {
		res := load() // writes the entries back once Redis answers again
		if res[0].Cache == upstream.CacheHit {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("hits did not resume after Redis came back")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if s := c.Status(); s != "ok" {
		t.Errorf("Status() = %q after recovery, want ok", s)
	}
}

func TestCacheWithHungRedis(t *testing.T) {
	store, err := New(Options{URL: redistest.Blackhole(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	u := newStubUpstream(t)
	c := mustCache(t, u, store, upstream.CacheOptions{HotBytes: 1})
	for i := range 6 {
		start := time.Now()
		r := one(t, c, alice, "1")
		t.Logf("load %d against a hung Redis: %v", i, time.Since(start).Round(time.Millisecond))
		if r.Err != nil || subject(r) != "ticket of alice-token" {
			t.Fatalf("load %d = %+v, want the upstream's history", i, r)
		}
	}
	if s := c.Status(); s != "degraded" {
		t.Errorf("Status() = %q, want degraded", s)
	}
}

func TestCacheBatchIsOneRedisRoundTrip(t *testing.T) {
	store := newTestStore(t)
	u := newStubUpstream(t)
	ids := make([]string, 50)
	for i := range ids {
		ids[i] = "c" + strconv.Itoa(i)
	}
	cold := mustCache(t, u, store, upstream.CacheOptions{})
	rt := countRoundTrips(t, store)
	cold.Histories(context.Background(), alice, ids, nil)
	cold.Flush()
	if n := rt.n.Load(); n != 2 {
		t.Errorf("a cold batch of 50 made %d Redis round trips, want 2 (one read, one write)", n)
	}
	// Another replica, nothing hot: all 50 from Redis in one round trip, none from upstream.
	warm := mustCache(t, u, store, upstream.CacheOptions{})
	before, calls := rt.n.Load(), u.calls.Load()
	for i, r := range warm.Histories(context.Background(), alice, ids, nil) {
		if r.Cache != upstream.CacheHit || r.History == nil || *r.History.Tickets[0].ContractID != upstream.ID(ids[i]) {
			t.Fatalf("warm %s = %+v, want its own hit", ids[i], r)
		}
	}
	if n := rt.n.Load() - before; n != 1 {
		t.Errorf("a warm batch of 50 made %d Redis round trips, want 1", n)
	}
	if n := u.calls.Load() - calls; n != 0 {
		t.Errorf("a warm batch made %d upstream calls, want 0", n)
	}
}
