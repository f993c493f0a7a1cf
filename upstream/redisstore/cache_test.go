package redisstore

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/enneo-facade/facade/upstream"
	"github.com/enneo-facade/facade/upstream/cache"
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

func mustCache(t *testing.T, u *stubUpstream, store cache.Store, o cache.Options) *cache.Cache {
	t.Helper()
	c, err := cache.New(u.client, store, o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// one loads id and waits for the cache's write behind.
func one(t *testing.T, c *cache.Cache, cred upstream.Credential, id string) upstream.Result {
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
	c := mustCache(t, u, store, cache.Options{HotBytes: 1}) // no hot layer: every load reads Redis
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
	c := mustCache(t, u, store, cache.Options{HotBytes: 1})
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
	cold := mustCache(t, u, store, cache.Options{})
	rt := countRoundTrips(t, store)
	cold.Histories(context.Background(), alice, ids, nil)
	cold.Flush()
	if n := rt.n.Load(); n != 2 {
		t.Errorf("a cold batch of 50 made %d Redis round trips, want 2 (one read, one write)", n)
	}
	// Another replica, nothing hot: all 50 from Redis in one round trip, none from upstream.
	warm := mustCache(t, u, store, cache.Options{})
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

// versionedUpstream serves histories whose one ticket's subject names the version it is at.
func versionedUpstream(t *testing.T, version *atomic.Int64, calls *atomic.Int64) *upstream.Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Write([]byte(`{"tickets":[{"id":1,"subject":"v` + strconv.FormatInt(version.Load(), 10) + `"}]}`))
	}))
	t.Cleanup(srv.Close)
	c, err := upstream.New(upstream.Options{BaseURL: srv.URL, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// waitFor polls cond until it holds, or fails t after 10 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10s", what)
		}
	}
}

// TestInvalidationReachesADeafReplica: replica B's subscription is down, and stays down, while
// A invalidates; B's next query still gets the new history, since B serves nothing it keeps in
// process while it may be missing invalidations; and once B hears them again, what it kept
// from before, invalidated unheard meanwhile, is gone.
func TestInvalidationReachesADeafReplica(t *testing.T) {
	url, _, _ := redistest.StartServer(t) // of its own: CLIENT KILL reaches every client
	prefix := redistest.Prefix(t)
	var version, calls atomic.Int64
	client := versionedUpstream(t, &version, &calls)
	var refuse atomic.Bool // B cannot connect anew: its subscription stays down
	var d net.Dialer
	dialB := func(ctx context.Context, network, addr string) (net.Conn, error) {
		if refuse.Load() {
			return nil, errors.New("refused by the test")
		}
		return d.DialContext(ctx, network, addr)
	}
	storeA := mustStore(t, patient(url, prefix), config{})
	storeB := mustStore(t, patient(url, prefix), config{heartbeat: 100 * time.Millisecond, dialer: dialB})
	logsB := &syncBuffer{}
	a, err := cache.New(client, storeA, cache.Options{TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	b, err := cache.New(client, storeB, cache.Options{TTL: time.Minute, Logger: logTo(logsB)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	var watching sync.WaitGroup
	watching.Go(func() { a.Watch(ctx) })
	watching.Go(func() { b.Watch(ctx) })
	defer func() { cancel(); watching.Wait() }()
	subscribers := func() int64 { return storeA.rdb.PubSubNumSub(ctx, storeA.channel).Val()[storeA.channel] }
	waitFor(t, "both replicas subscribed", func() bool { return subscribers() == 2 })

	get := func(c *cache.Cache, id string) (string, string) {
		t.Helper()
		r := one(t, c, alice, id)
		if r.Err != nil {
			t.Fatalf("%s: %v", id, r.Err)
		}
		return subject(r), r.Cache
	}
	// B keeps contracts 1 and 2 in process, at version 0.
	get(b, "1")
	get(b, "2")
	if s, from := get(b, "1"); s != "v0" || from != upstream.CacheHit {
		t.Fatalf("B's second read of 1: %s %s, want a v0 hit", s, from)
	}

	refuse.Store(true)
	if err := storeA.rdb.ClientKillByFilter(ctx, "TYPE", "pubsub").Err(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "B knows it may miss invalidations", func() bool { return strings.Contains(logsB.String(), "invalidations may be missed") })
	waitFor(t, "A subscribed again, B not", func() bool { return subscribers() == 1 })

	// The response cache asks ChangedSince of every history an answer was built from: while B
	// is deaf, any of them may have changed.
	beforeLoss := time.Now().Add(-time.Second)
	if !b.ChangedSince("3", time.Now()) {
		t.Error("B, deaf, says contract 3 has not changed: its response cache would answer")
	}
	version.Store(1)
	if err := a.Invalidate(ctx, "1"); err != nil {
		t.Fatal(err)
	}
	before := calls.Load()
	if s, from := get(b, "1"); s != "v1" || from != upstream.CacheMiss || calls.Load() != before+1 {
		t.Errorf("B's read of 1 after A invalidated it, unheard: %s %s (%d upstream calls), want v1 fetched", s, from, calls.Load()-before)
	}
	// A contract nobody invalidated comes from the store meanwhile, not from the upstream.
	before = calls.Load()
	if s, from := get(b, "2"); s != "v0" || from != upstream.CacheHit || calls.Load() != before {
		t.Errorf("B's read of 2 while deaf: %s %s (%d upstream calls), want a v0 hit from the store", s, from, calls.Load()-before)
	}

	// 2 is invalidated unheard too; B then hears again, and must not serve its old 2.
	if err := a.Invalidate(ctx, "2"); err != nil {
		t.Fatal(err)
	}
	refuse.Store(false)
	waitFor(t, "B hears invalidations again", func() bool { return strings.Contains(logsB.String(), "invalidations heard again") })
	if s, _ := get(b, "2"); s != "v1" {
		t.Errorf("B's read of 2 once it hears again: %s, want v1", s)
	}
	if !b.ChangedSince("3", beforeLoss) || b.ChangedSince("3", time.Now()) {
		t.Error("B once it hears again: want answers built before it was deaf out of date, and new ones not")
	}
	if s, from := get(b, "2"); s != "v1" || from != upstream.CacheHit {
		t.Errorf("B's second read of 2: %s %s, want a v1 hit: B keeps histories in process again", s, from)
	}
}
