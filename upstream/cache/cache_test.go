package cache

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/enneo-facade/facade/upstream"
	"github.com/enneo-facade/facade/upstream/demo"
)

// stubUpstream serves histories whose one ticket names the token that fetched it, so a test can
// see whose data it got; its behaviour can be switched mid-test.
type stubUpstream struct {
	calls  atomic.Int64
	mode   atomic.Value // "ok", "404", "500", "401", "403", "429", "hang", "garbage"
	delay  time.Duration
	srv    *httptest.Server
	client *upstream.Client
}

func newStubUpstream(t *testing.T, delay time.Duration) *stubUpstream {
	t.Helper()
	u := &stubUpstream{delay: delay}
	u.mode.Store("ok")
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.calls.Add(1)
		select {
		case <-time.After(u.delay):
		case <-r.Context().Done():
			return
		}
		id := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/contract/"), "/history")
		switch mode := u.mode.Load().(string); mode {
		case "ok":
			token := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
			if !strings.HasSuffix(r.URL.Path, "/history") { // the contract's own record
				w.Write([]byte(`{"id":"` + id + `","productName":"record of ` + token + `"}`))
				return
			}
			w.Write([]byte(`{"tickets":[{"id":1,"contractId":"` + id + `","subject":"ticket of ` + token + `","createdAt":"2024-01-02 03:04:05"}]}`))
		case "garbage":
			w.Write([]byte(`<html>`))
		case "hang":
			<-r.Context().Done()
		default:
			status := map[string]int{"404": 404, "500": 500, "401": 401, "403": 403, "429": 429}[mode]
			w.WriteHeader(status)
		}
	}))
	t.Cleanup(u.srv.Close)
	c, err := upstream.New(upstream.Options{BaseURL: u.srv.URL, Timeout: 300 * time.Millisecond, Resilience: upstream.Resilience{Retries: -1}}) // one call per load, for counting
	if err != nil {
		t.Fatal(err)
	}
	u.client = c
	return u
}

// The client is what the cache decorates.
var _ Upstream = (*upstream.Client)(nil)

var (
	alice = upstream.Credential{Token: "alice-token", Scope: "scope-alice"}
	bob   = upstream.Credential{Token: "bob-token", Scope: "scope-bob"}
)

// storeKinds are the stores every cache behaviour is tested against; redis_test.go adds the
// Redis store from outside the package, since upstream/redisstore imports this one.
var storeKinds = map[string]func(t *testing.T) Store{
	"memory": func(t *testing.T) Store { return NewMemoryStore(8 << 20) },
}

func forEachStore(t *testing.T, test func(t *testing.T, newStore func(t *testing.T) Store)) {
	for name, newStore := range storeKinds {
		t.Run(name, func(t *testing.T) { test(t, newStore) })
	}
}

func mustCache(t *testing.T, u *stubUpstream, store Store, o Options) *Cache {
	t.Helper()
	c, err := New(u.client, store, o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// one loads id and waits for the cache's write behind, so that what it stored is visible.
func one(t *testing.T, c *Cache, cred upstream.Credential, id string) upstream.Result {
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

func TestCacheHitMiss(t *testing.T) {
	forEachStore(t, func(t *testing.T, newStore func(t *testing.T) Store) {
		u := newStubUpstream(t, 0)
		store := newStore(t)
		c := mustCache(t, u, store, Options{})
		if r := one(t, c, alice, "1"); r.Err != nil || r.Cache != upstream.CacheMiss || subject(r) != "ticket of alice-token" {
			t.Fatalf("first = %+v, want a miss with alice's ticket", r)
		}
		if r := one(t, c, alice, "1"); r.Cache != upstream.CacheHit || subject(r) != "ticket of alice-token" {
			t.Errorf("second = %+v, want a hit", r)
		}
		// Another replica on the same store: a hit from the store, decoded there.
		other := mustCache(t, u, store, Options{})
		if r := one(t, other, alice, "1"); r.Cache != upstream.CacheHit || subject(r) != "ticket of alice-token" ||
			r.History.Tickets[0].CreatedAt.Location().String() != "Europe/Berlin" {
			t.Errorf("other replica = %+v, want a decoded hit", r)
		}
		if n := u.calls.Load(); n != 1 {
			t.Errorf("upstream calls = %d, want 1", n)
		}
		// Another scope never sees alice's entry.
		if r := one(t, c, bob, "1"); r.Cache != upstream.CacheMiss || subject(r) != "ticket of bob-token" {
			t.Errorf("bob = %+v, want a miss with bob's ticket", r)
		}
	})
}

func TestCacheExpiryAndStale(t *testing.T) {
	forEachStore(t, func(t *testing.T, newStore func(t *testing.T) Store) {
		u := newStubUpstream(t, 0)
		c := mustCache(t, u, newStore(t), Options{TTL: 100 * time.Millisecond, StaleTTL: time.Minute})
		one(t, c, alice, "1")
		time.Sleep(150 * time.Millisecond) // past TTL and its 10% jitter

		// Healthy upstream: an expired entry is not served, the upstream is asked.
		if r := one(t, c, alice, "1"); r.Cache != upstream.CacheMiss {
			t.Errorf("after expiry = %+v, want a miss", r)
		}
		if n := u.calls.Load(); n != 2 {
			t.Errorf("upstream calls = %d, want 2", n)
		}
		time.Sleep(150 * time.Millisecond)

		// Failing upstream: the expired entry is served, marked stale.
		for _, mode := range []string{"500", "429", "hang", "garbage"} {
			u.mode.Store(mode)
			r := one(t, c, alice, "1")
			if r.Err != nil || r.Cache != upstream.CacheStale || subject(r) != "ticket of alice-token" || r.Age < 150*time.Millisecond {
				t.Errorf("upstream %s: %+v, want the stale entry", mode, r)
			}
		}
		// An upstream that answers "no" is heeded: no stale data for a revoked token.
		for _, mode := range []string{"401", "403", "404"} {
			u.mode.Store(mode)
			if r := one(t, c, alice, "1"); r.Err == nil || r.History != nil {
				t.Errorf("upstream %s: %+v, want its error and no data", mode, r)
			}
		}
	})
}

func TestCacheStoresOnlySuccessAndNotFound(t *testing.T) {
	forEachStore(t, func(t *testing.T, newStore func(t *testing.T) Store) {
		u := newStubUpstream(t, 0)
		c := mustCache(t, u, newStore(t), Options{})
		for _, mode := range []string{"500", "401", "403", "429", "hang", "garbage"} {
			u.mode.Store(mode)
			before := u.calls.Load()
			for range 2 {
				if r := one(t, c, alice, "err-"+mode); r.Err == nil {
					t.Errorf("upstream %s: no error", mode)
				}
			}
			if n := u.calls.Load() - before; n != 2 {
				t.Errorf("upstream %s: %d calls for two loads, want 2 (errors are never stored)", mode, n)
			}
		}
		// A 404 is remembered, for its scope only.
		u.mode.Store("404")
		before := u.calls.Load()
		for range 3 {
			if r := one(t, c, alice, "gone"); !errors.Is(r.Err, upstream.ErrNotFound) {
				t.Errorf("404: err = %v, want upstream.ErrNotFound", r.Err)
			}
		}
		if n := u.calls.Load() - before; n != 1 {
			t.Errorf("three loads of a 404 made %d calls, want 1", n)
		}
		one(t, c, bob, "gone")
		if n := u.calls.Load() - before; n != 2 {
			t.Errorf("another scope's 404 load made %d calls in all, want 2", n)
		}
	})
}

func TestCacheNotFoundIsBrief(t *testing.T) {
	u := newStubUpstream(t, 0)
	c := mustCache(t, u, NewMemoryStore(1<<20), Options{TTL: time.Hour, NotFoundTTL: 100 * time.Millisecond})
	u.mode.Store("404")
	one(t, c, alice, "gone")
	u.mode.Store("ok")
	time.Sleep(150 * time.Millisecond)
	if r := one(t, c, alice, "gone"); r.Err != nil || r.Cache != upstream.CacheMiss {
		t.Errorf("after the 404 expired: %+v, want the new history", r)
	}
}

func TestCacheEncryption(t *testing.T) {
	forEachStore(t, func(t *testing.T, newStore func(t *testing.T) Store) {
		u := newStubUpstream(t, 0)
		store := newStore(t)
		key := bytes.Repeat([]byte{7}, 32)
		c := mustCache(t, u, store, Options{EncryptionKey: key})
		one(t, c, alice, "1")

		raw, err := store.GetMany(context.Background(), []EntryKey{{"1", alice.Scope}})
		if err != nil || raw[0] == nil {
			t.Fatalf("stored value: %v %v", raw, err)
		}
		if raw[0][0] != formatSealed {
			t.Errorf("stored value is not sealed")
		}
		// Round trip through another replica with the same key.
		if r := one(t, mustCache(t, u, store, Options{EncryptionKey: key}), alice, "1"); r.Cache != upstream.CacheHit {
			t.Errorf("same key = %+v, want a hit", r)
		}
		// Without the key, or with another one, the value is unreadable: a miss.
		for _, o := range []Options{{}, {EncryptionKey: bytes.Repeat([]byte{8}, 32)}} {
			if r := one(t, mustCache(t, u, store, o), alice, "1"); r.Cache != upstream.CacheMiss {
				t.Errorf("other key %v = %+v, want a miss", o.EncryptionKey != nil, r)
			}
		}
		// Alice's value moved under bob's key fails to open: bob gets his own data.
		store.SetMany(context.Background(), []Entry{{Key: EntryKey{"9", bob.Scope}, Value: raw[0], TTL: time.Minute}})
		fresh := mustCache(t, u, store, Options{EncryptionKey: key})
		if r := one(t, fresh, bob, "9"); r.Cache != upstream.CacheMiss || subject(r) != "ticket of bob-token" {
			t.Errorf("moved value = %+v, want a miss and bob's data", r)
		}
	})
}

func TestCacheInvalidate(t *testing.T) {
	forEachStore(t, func(t *testing.T, newStore func(t *testing.T) Store) {
		u := newStubUpstream(t, 0)
		store := newStore(t)
		c := mustCache(t, u, store, Options{})
		replica := mustCache(t, u, store, Options{})
		for _, cred := range []upstream.Credential{alice, bob} {
			one(t, c, cred, "x")
			one(t, c, cred, "y")
			one(t, replica, cred, "x") // now hot in the replica too
		}
		before := u.calls.Load()
		if err := c.Invalidate(context.Background(), "x"); err != nil {
			t.Fatal(err)
		}
		for _, cred := range []upstream.Credential{alice, bob} {
			if r := one(t, c, cred, "x"); r.Cache != upstream.CacheMiss {
				t.Errorf("%s after invalidation: %s, want a miss", cred.Scope, r.Cache)
			}
			if r := one(t, c, cred, "y"); r.Cache != upstream.CacheHit {
				t.Errorf("%s other contract: %s, want a hit", cred.Scope, r.Cache)
			}
		}
		if n := u.calls.Load() - before; n != 2 {
			t.Errorf("upstream calls after invalidation = %d, want 2 (x for each scope)", n)
		}
	})
}

func TestCacheStampede(t *testing.T) {
	forEachStore(t, func(t *testing.T, newStore func(t *testing.T) Store) {
		u := newStubUpstream(t, 50*time.Millisecond)
		c := mustCache(t, u, newStore(t), Options{})
		var wg sync.WaitGroup
		var bad atomic.Int64
		for range 200 {
			wg.Go(func() {
				if r := one(t, c, alice, "hot"); r.Err != nil || subject(r) != "ticket of alice-token" {
					bad.Add(1)
				}
			})
		}
		wg.Wait()
		if n := u.calls.Load(); n != 1 {
			t.Errorf("200 concurrent loads made %d upstream calls, want 1", n)
		}
		if bad.Load() > 0 {
			t.Errorf("%d loads failed", bad.Load())
		}
	})
}

// The zstd encoder sets itself up on first use, with channels that belong to the synctest bubble
// that happens in, and that no other may use: it happens here, outside all of them.
func init() { zstdEncoder.EncodeAll([]byte("warm up"), nil) }

// gatedTransport answers each request with a one-ticket history once released, and counts the
// requests it got and those their callers cancelled first.
type gatedTransport struct {
	calls, cancelled atomic.Int64
	release          chan struct{}
}

func (g *gatedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	g.calls.Add(1)
	select {
	case <-g.release:
		return &http.Response{StatusCode: http.StatusOK, Header: http.Header{}, Request: r,
			Body: io.NopCloser(strings.NewReader(`{"tickets":[{"id":1,"subject":"s"}]}`))}, nil
	case <-r.Context().Done():
		g.cancelled.Add(1)
		return nil, r.Context().Err()
	}
}

// newGatedCache is a cache whose upstream answers when the test says so (for synctest bubbles).
func newGatedCache(t *testing.T) (*Cache, *gatedTransport) {
	t.Helper()
	tr := &gatedTransport{release: make(chan struct{})}
	client, err := upstream.New(upstream.Options{BaseURL: "http://upstream.invalid", Timeout: time.Minute, Transport: tr})
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(client, NewMemoryStore(1<<20), Options{})
	if err != nil {
		t.Fatal(err)
	}
	return c, tr
}

// TestCacheCancelledCallerDoesNotCancelOthers: callers of one contract share one call; one that
// gives up stops waiting, and the others still get the history from that call.
func TestCacheCancelledCallerDoesNotCancelOthers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, tr := newGatedCache(t)
		ctx, cancel := context.WithCancel(context.Background())
		first, second := make(chan upstream.Result, 1), make(chan upstream.Result, 1)
		go func() { first <- c.Histories(ctx, alice, []string{"1"}, nil)[0] }()
		synctest.Wait() // the call is under way
		go func() { second <- c.Histories(context.Background(), alice, []string{"1"}, nil)[0] }()
		synctest.Wait() // the second caller waits on it too
		cancel()
		if r := <-first; !errors.Is(r.Err, context.Canceled) {
			t.Errorf("cancelled caller = %+v, want context.Canceled", r)
		}
		close(tr.release)
		if r := <-second; r.Err != nil || r.History == nil {
			t.Errorf("other caller = %+v, want the history", r)
		}
		if n, m := tr.calls.Load(), tr.cancelled.Load(); n != 1 || m != 0 {
			t.Errorf("upstream calls = %d, %d of them cancelled; want 1, none", n, m)
		}
		c.Flush() // the write behind the answer, before the bubble ends
	})
}

// TestCacheLastCallerGoneCancelsTheCall: a call nobody waits for any more is cancelled, rather
// than run on for nobody.
func TestCacheLastCallerGoneCancelsTheCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, tr := newGatedCache(t)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan upstream.Result, 1)
		go func() { done <- c.Histories(ctx, alice, []string{"1"}, nil)[0] }()
		synctest.Wait()
		cancel()
		<-done
		synctest.Wait()
		if n, m := tr.calls.Load(), tr.cancelled.Load(); n != 1 || m != 1 {
			t.Errorf("upstream calls = %d, %d of them cancelled; want 1, cancelled", n, m)
		}
	})
}

func TestCacheRefusesWithoutCalling(t *testing.T) {
	u := newStubUpstream(t, 0)
	c := mustCache(t, u, NewMemoryStore(1<<20), Options{})
	res := c.Histories(context.Background(), upstream.Credential{}, []string{"1"}, nil)
	if !errors.Is(res[0].Err, upstream.ErrNoCredential) {
		t.Errorf("no token: %v, want upstream.ErrNoCredential", res[0].Err)
	}
	res = c.Histories(context.Background(), alice, []string{"../x"}, nil)
	if !errors.Is(res[0].Err, upstream.ErrInvalidID) {
		t.Errorf("bad id: %v, want upstream.ErrInvalidID", res[0].Err)
	}
	if n := u.calls.Load(); n != 0 {
		t.Errorf("upstream calls = %d, want 0", n)
	}
}

func TestMemoryStoreIsBounded(t *testing.T) {
	s := NewMemoryStore(10_000)
	for i := range 100 {
		s.SetMany(context.Background(), []Entry{{Key: EntryKey{strings.Repeat("c", i+1), "s"}, Value: make([]byte, 1000), TTL: time.Minute}})
	}
	entries, cost := s.entries.Stats()
	if cost > 10_000 || entries > 10 {
		t.Errorf("store holds %d entries costing %d, want at most 10_000", entries, cost)
	}
	got, _ := s.GetMany(context.Background(), []EntryKey{{strings.Repeat("c", 100), "s"}, {"c", "s"}})
	if got[0] == nil || got[1] != nil {
		t.Errorf("the newest entry must stay and the oldest go: %v", got)
	}
}

// fiveExampleTickets is the load benchmark's history, as upstream's benchmarks build it: the
// example ticket five times, as indented as the example (53 KB).
func fiveExampleTickets() []byte {
	ex := demo.ExampleHistory()
	ticket := ex[bytes.IndexByte(ex, '[')+1 : bytes.LastIndexByte(ex, ']')]
	return []byte(`{"tickets":[` + strings.Repeat(string(ticket)+",", 4) + string(ticket) + `]}`)
}

// TestDecodedCostIsAnUpperBound holds the hot layer's byte bound to what it claims: the heap
// that decoded histories keep alive, measured, stays within decodedCost of their bodies.
func TestDecodedCostIsAnUpperBound(t *testing.T) {
	c, err := upstream.New(upstream.Options{BaseURL: "http://upstream.invalid"})
	if err != nil {
		t.Fatal(err)
	}
	demoBody, _ := demo.History("100035")
	var compact bytes.Buffer
	if err := json.Compact(&compact, fiveExampleTickets()); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string][]byte{"demo": demoBody, "five example tickets": compact.Bytes(), "pretty": fiveExampleTickets()} {
		const n = 50
		keep := make([]*upstream.History, n)
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for i := range keep {
			if keep[i], err = c.DecodeHistory(body, "1", nil); err != nil {
				t.Fatal(err)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		per := int64(after.HeapAlloc-before.HeapAlloc) / n
		if est := decodedCost(len(body)); per > est || per < est/3 {
			t.Errorf("%s: a %d-byte body decodes to %d bytes of heap; decodedCost says %d", name, len(body), per, est)
		}
		runtime.KeepAlive(keep)
	}
}

// TestSelectedFetchCachesTheWholeHistory: a caller reading through a projection gets only its
// fields from a fetch, and the entry cached for everyone is whole, in process and in the store.
func TestSelectedFetchCachesTheWholeHistory(t *testing.T) {
	forEachStore(t, func(t *testing.T, newStore func(t *testing.T) Store) {
		u := newStubUpstream(t, 0)
		store := newStore(t)
		onlyIDs, err := upstream.NewProjection(map[string][]string{"Ticket": {"id"}})
		if err != nil {
			t.Fatal(err)
		}
		c := mustCache(t, u, store, Options{})
		r := c.Histories(context.Background(), alice, []string{"7"}, onlyIDs)[0]
		c.Flush()
		if r.Err != nil || r.Cache != upstream.CacheMiss || len(r.History.Tickets) != 1 || r.History.Tickets[0].ID == nil {
			t.Fatalf("selected fetch = %+v", r)
		}
		if subject(r) != "" {
			t.Errorf("the projection leaves the subject out, yet it came back: %q", subject(r))
		}
		hot := c.Histories(context.Background(), alice, []string{"7"}, onlyIDs)[0]
		if hot.Cache != upstream.CacheHit || subject(hot) != "ticket of alice-token" {
			t.Errorf("hot hit = %s %q, want a whole hit", hot.Cache, subject(hot))
		}
		if p, ok := c.Peek(alice, "7"); !ok || subject(p) != "ticket of alice-token" {
			t.Errorf("peek = %v %q", ok, subject(p))
		}
		other := mustCache(t, u, store, Options{}) // another replica: the store's entry
		if r := one(t, other, alice, "7"); r.Cache != upstream.CacheHit || subject(r) != "ticket of alice-token" {
			t.Errorf("stored entry = %s %q, want a whole hit", r.Cache, subject(r))
		}
		if n := u.calls.Load(); n != 1 {
			t.Errorf("upstream calls = %d, want 1", n)
		}
		u.mode.Store("garbage")
		if r := c.Histories(context.Background(), bob, []string{"8"}, onlyIDs)[0]; !errors.Is(r.Err, upstream.ErrBadResponse) {
			t.Errorf("garbage through a projection = %v, want upstream.ErrBadResponse", r.Err)
		}
	})
}

// countingStore counts the entries written through it.
type countingStore struct {
	Store
	written atomic.Int64
}

func (s *countingStore) SetMany(ctx context.Context, entries []Entry) error {
	s.written.Add(int64(len(entries)))
	return s.Store.SetMany(ctx, entries)
}

// TestSharedFetchIsWrittenOnce: callers that wait on one upstream call share its entry, and
// it is compressed and written once, not once per caller.
func TestSharedFetchIsWrittenOnce(t *testing.T) {
	u := newStubUpstream(t, 50*time.Millisecond)
	store := &countingStore{Store: NewMemoryStore(8 << 20)}
	c := mustCache(t, u, store, Options{})
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if r := c.Histories(context.Background(), alice, []string{"7"}, nil)[0]; r.Err != nil {
				t.Error(r.Err)
			}
		})
	}
	wg.Wait()
	c.Flush()
	if calls, written := u.calls.Load(), store.written.Load(); calls != 1 || written != 1 {
		t.Errorf("20 concurrent callers: %d upstream calls, %d entries written; want 1 and 1", calls, written)
	}
}

// blockingTransport counts the requests it is given and answers none until its caller gives up.
type blockingTransport struct{ calls atomic.Int64 }

func (b *blockingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	b.calls.Add(1)
	<-r.Context().Done()
	return nil, r.Context().Err()
}

// TestCacheStartsNoFetchAfterTheCallerGaveUp: a caller out of time starts no upstream call,
// although the calls it starts run on detached from it (see Cache.fetch): a batch that fans out
// past its deadline would otherwise start one for every contract left, for nobody. In a
// synctest bubble, Wait returns once every goroutine the batch started is blocked or done.
func TestCacheStartsNoFetchAfterTheCallerGaveUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := &blockingTransport{}
		client, err := upstream.New(upstream.Options{BaseURL: "http://upstream.invalid", Timeout: time.Minute, Transport: tr})
		if err != nil {
			t.Fatal(err)
		}
		cache, err := New(client, NewMemoryStore(1<<20), Options{})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		for i, r := range cache.Histories(ctx, upstream.Credential{Token: "t", Scope: "s"}, []string{"1", "2", "3"}, nil) {
			if !errors.Is(r.Err, context.Canceled) {
				t.Errorf("history %d: %v, want the caller's cancellation", i, r.Err)
			}
		}
		synctest.Wait()
		if n := tr.calls.Load(); n != 0 {
			t.Errorf("%d upstream calls started for a caller that had given up, want 0", n)
		}
	})
}

// TestStaleWhileRevalidate: within CACHE_REVALIDATE after its TTL, an expired history is served
// at once, marked revalidating, while one refresh runs in the background, however many callers
// ask; once it is done, callers get the fresh history. An invalidated one is never served so.
func TestStaleWhileRevalidate(t *testing.T) {
	forEachStore(t, func(t *testing.T, newStore func(t *testing.T) Store) {
		gate := make(chan struct{})
		var calls, refreshes atomic.Int64
		up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if calls.Add(1) > 1 {
				refreshes.Add(1)
				<-gate // the refresh takes as long as the test says
			}
			fmt.Fprintf(w, `{"tickets":[{"id":%d,"subject":"s"}]}`, calls.Load())
		}))
		t.Cleanup(up.Close)
		client, err := upstream.New(upstream.Options{BaseURL: up.URL, Timeout: 10 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		const ttl = 100 * time.Millisecond
		c, err := New(client, newStore(t), Options{TTL: ttl, Revalidate: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		if r := c.Histories(ctx, alice, []string{"1"}, nil)[0]; r.Err != nil || r.Cache != upstream.CacheMiss {
			t.Fatalf("first load: %+v", r)
		}
		c.Flush()
		time.Sleep(ttl + ttl/10 + 20*time.Millisecond) // the TTL and its jitter: no event tells
		var wg sync.WaitGroup
		for range 20 {
			wg.Go(func() {
				if r := c.Histories(ctx, alice, []string{"1"}, nil)[0]; r.Err != nil || r.Cache != upstream.CacheRevalidating || string(*r.History.Tickets[0].ID) != "1" {
					t.Errorf("within the window: %+v, want the expired history at once, revalidating", r)
				}
			})
		}
		wg.Wait() // all 20 answered while the refresh is held at the gate
		close(gate)
		for i := 0; ; i++ {
			r := c.Histories(ctx, alice, []string{"1"}, nil)[0]
			if r.Cache == upstream.CacheHit {
				if string(*r.History.Tickets[0].ID) != "2" {
					t.Errorf("after the refresh: %+v, want the refreshed history", r)
				}
				break
			}
			if i == 200 {
				t.Fatalf("the refresh never landed: %+v", r)
			}
			time.Sleep(5 * time.Millisecond)
		}
		if n := refreshes.Load(); n != 1 {
			t.Errorf("%d background refreshes for 20 callers, want 1", n)
		}
		// Invalidated: wrong, not merely old, so never served while revalidating.
		c.Flush()
		time.Sleep(ttl + ttl/10 + 20*time.Millisecond)
		if err := c.Invalidate(ctx, "1"); err != nil {
			t.Fatal(err)
		}
		if r := c.Histories(ctx, alice, []string{"1"}, nil)[0]; r.Cache != upstream.CacheMiss {
			t.Errorf("after an invalidation: %+v, want a fresh fetch", r)
		}
	})
}

// TestCloseEndsBackgroundRefreshes: Close cancels a background refresh under way and returns
// once it has ended (run's goroutines are all joined at shutdown), and none starts after it.
func TestCloseEndsBackgroundRefreshes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := &gatedTransport{release: make(chan struct{})}
		client, err := upstream.New(upstream.Options{BaseURL: "http://upstream.invalid", Timeout: time.Minute, Transport: tr})
		if err != nil {
			t.Fatal(err)
		}
		const ttl = time.Second
		c, err := New(client, NewMemoryStore(1<<20), Options{TTL: ttl, Revalidate: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		first := make(chan upstream.Result, 1)
		go func() { first <- c.Histories(context.Background(), alice, []string{"1"}, nil)[0] }()
		synctest.Wait()
		tr.release <- struct{}{} // the first call answers; the refresh will wait
		if r := <-first; r.Err != nil {
			t.Fatal(r.Err)
		}
		c.Flush()
		time.Sleep(2 * ttl) // the bubble's clock: past the TTL and its jitter
		if r := c.Histories(context.Background(), alice, []string{"1"}, nil)[0]; r.Cache != upstream.CacheRevalidating {
			t.Fatalf("after the TTL: %+v, want revalidating", r)
		}
		synctest.Wait() // the refresh is at the upstream
		start := time.Now()
		c.Close()
		if waited := time.Since(start); waited != 0 {
			t.Errorf("Close waited %v for the refresh, want it cancelled at once", waited)
		}
		// The call itself runs on singleflight's goroutine, which the refresh has left by now;
		// it ends as soon as it sees the cancellation.
		synctest.Wait()
		if n, m := tr.calls.Load(), tr.cancelled.Load(); n != 2 || m != 1 {
			t.Errorf("upstream calls = %d, %d of them cancelled; want 2, the refresh cancelled", n, m)
		}
		c.Histories(context.Background(), alice, []string{"1"}, nil)
		synctest.Wait()
		if n := tr.calls.Load(); n != 2 {
			t.Errorf("upstream calls after Close = %d, want no refresh started", n)
		}
	})
}

// TestCacheCallerAfterAnInvalidationAsksAgain: a caller that comes after an invalidation never
// gets what it replaced by joining a call begun before it: it asks the upstream again.
func TestCacheCallerAfterAnInvalidationAsksAgain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, tr := newGatedCache(t)
		ctx := context.Background()
		first, second := make(chan upstream.Result, 1), make(chan upstream.Result, 1)
		go func() { first <- c.Histories(ctx, alice, []string{"1"}, nil)[0] }()
		synctest.Wait()              // the call is under way
		time.Sleep(time.Millisecond) // the bubble's clock moves only so
		if err := c.Invalidate(ctx, "1"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond)
		go func() { second <- c.Histories(ctx, alice, []string{"1"}, nil)[0] }()
		synctest.Wait() // the second caller waits on the first call
		tr.release <- struct{}{}
		if r := <-first; r.Err != nil {
			t.Fatalf("first caller: %v", r.Err)
		}
		synctest.Wait()
		if n := tr.calls.Load(); n != 2 {
			t.Fatalf("%d upstream calls, want 2: the caller after the invalidation asks again", n)
		}
		tr.release <- struct{}{}
		if r := <-second; r.Err != nil || r.History == nil {
			t.Errorf("second caller = %+v, want the history", r)
		}
		c.Flush()
	})
}

// stallingStore reads nothing: GetMany waits until its caller gives up.
type stallingStore struct {
	Store
	reading chan struct{}
}

func (s *stallingStore) GetMany(ctx context.Context, keys []EntryKey) ([][]byte, error) {
	close(s.reading)
	<-ctx.Done()
	return make([][]byte, len(keys)), ctx.Err()
}

// lookups is an Observer that counts cache lookups by layer and result.
type lookups struct {
	nop
	mu sync.Mutex
	n  map[string]int
}

func (l *lookups) CacheLookup(layer, result string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.n[layer+" "+result]++
}

// TestCallerWhoLeavesDuringTheStoreReadIsNoRedisError: a client that hangs up while Redis is
// being read gets its context's error, makes no upstream call, and is not counted as a Redis
// failure (which would tell the operator Redis is failing whenever clients leave).
func TestCallerWhoLeavesDuringTheStoreReadIsNoRedisError(t *testing.T) {
	u := newStubUpstream(t, 0)
	obs := &lookups{n: map[string]int{}}
	store := &stallingStore{Store: NewMemoryStore(1 << 20), reading: make(chan struct{})}
	c := mustCache(t, u, store, Options{Observer: obs})
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-store.reading; cancel() }()
	res := c.Histories(ctx, alice, []string{"7", "8"}, nil)
	for i, r := range res {
		if !errors.Is(r.Err, context.Canceled) {
			t.Errorf("result %d: err = %v, want context.Canceled", i, r.Err)
		}
	}
	if n := u.calls.Load(); n != 0 {
		t.Errorf("%d upstream calls for a caller who left, want 0", n)
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if obs.n["store error"] != 0 || obs.n["store miss"] != 0 {
		t.Errorf("lookups %v: a caller who left counted as a store error or miss", obs.n)
	}
	if obs.n["hot miss"] != 2 {
		t.Errorf("lookups %v, want 2 hot misses", obs.n)
	}
}

// feedStore has a feed that is heard, lost once while watched (when lose closes), heard again,
// and lost when the watch ends, as a store's feed is at shutdown.
type feedStore struct {
	Store
	lose, back chan struct{}
}

func (s feedStore) Invalidations(ctx context.Context, f InvalidationFeed) {
	f.Resumed()
	<-s.lose
	f.Lost()
	f.Resumed()
	close(s.back)
	<-ctx.Done()
	f.Lost()
}

// TestFeedLostAtShutdownIsNoWarning: a replica warns when it may be missing invalidations,
// but not when its watch ends because it is shutting down: then nobody is served anyway, and
// the warning would send an operator looking for a Redis problem after every deploy.
func TestFeedLostAtShutdownIsNoWarning(t *testing.T) {
	var logs bytes.Buffer
	var mu sync.Mutex
	log := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return logs.Write(p)
	}), nil))
	u := newStubUpstream(t, 0)
	store := feedStore{Store: NewMemoryStore(1 << 20), lose: make(chan struct{}), back: make(chan struct{})}
	c := mustCache(t, u, store, Options{Logger: log})
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Watch(ctx); close(done) }()
	close(store.lose)
	<-store.back
	stop()
	<-done
	mu.Lock()
	defer mu.Unlock()
	if n := strings.Count(logs.String(), "invalidations may be missed"); n != 1 {
		t.Errorf("%d warnings that invalidations may be missed, want 1 (the loss while watched, none at the end):\n%s", n, logs.String())
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// heardStore's feed is heard from when the cache starts watching it: a replica that has just
// started, with the store's entries older than its feed.
type heardStore struct {
	Store
	heard chan struct{}
}

func (s heardStore) Invalidations(ctx context.Context, f InvalidationFeed) {
	f.Lost()
	f.Resumed()
	close(s.heard)
	<-ctx.Done()
}

// TestStoreReadAfterARestartIsCurrent: a replica started after a history was stored reads it
// from the store as the latest, so what it builds from it (the response cache) stays valid
// until an invalidation; dating it from its fetch, before the replica's feed began, made every
// answer built from the store out of date at once.
func TestStoreReadAfterARestartIsCurrent(t *testing.T) {
	forEachStore(t, func(t *testing.T, newStore func(t *testing.T) Store) {
		u := newStubUpstream(t, 0)
		store := newStore(t)
		one(t, mustCache(t, u, store, Options{}), alice, "x")

		started := heardStore{Store: store, heard: make(chan struct{})}
		c := mustCache(t, u, started, Options{})
		ctx, cancel := context.WithCancel(context.Background())
		watched := make(chan struct{})
		go func() { c.Watch(ctx); close(watched) }()
		defer func() { cancel(); <-watched }()
		<-started.heard

		for _, layer := range []string{"store", "hot"} {
			r := one(t, c, alice, "x")
			if r.Cache != upstream.CacheHit {
				t.Fatalf("%s read: %s, want a hit", layer, r.Cache)
			}
			if !c.ChangedSince("x", time.Now().Add(-r.Age)) {
				t.Fatalf("%s read: fetched before the feed began, yet not suspect", layer)
			}
			if c.ChangedSince("x", r.Current) {
				t.Errorf("%s read: changed since it was read (%v), with no invalidation", layer, r.Current)
			}
		}
		r := one(t, c, alice, "x")
		if err := c.Invalidate(context.Background(), "x"); err != nil {
			t.Fatal(err)
		}
		if !c.ChangedSince("x", r.Current) {
			t.Error("not changed since it was read, after an invalidation")
		}
		if n := u.calls.Load(); n != 1 {
			t.Errorf("%d upstream calls, want 1", n)
		}
	})
}

// TestRecordsAreCachedLikeHistories: a contract's own record is cached per scope, in process
// and in the store, apart from its history, and dropped with the contract's invalidation.
func TestRecordsAreCachedLikeHistories(t *testing.T) {
	forEachStore(t, func(t *testing.T, newStore func(t *testing.T) Store) {
		u := newStubUpstream(t, 0)
		store := newStore(t)
		c := mustCache(t, u, store, Options{})
		record := func(c *Cache, cred upstream.Credential) upstream.RecordResult {
			t.Helper()
			r := c.Contracts(context.Background(), cred, []string{"x"})[0]
			c.Flush()
			if r.Err != nil {
				t.Fatal(r.Err)
			}
			return r
		}
		calls := func(want int64, when string) {
			t.Helper()
			if n := u.calls.Load(); n != want {
				t.Errorf("%s: %d upstream calls in all, want %d", when, n, want)
			}
		}
		if r := record(c, alice); r.Cache != upstream.CacheMiss || *r.Contract.ProductName != "record of alice-token" {
			t.Errorf("first: %s %q", r.Cache, *r.Contract.ProductName)
		}
		if r := record(c, alice); r.Cache != upstream.CacheHit {
			t.Errorf("again: %s, want a hit", r.Cache)
		}
		calls(1, "alice twice")
		if r := record(mustCache(t, u, store, Options{}), alice); r.Cache != upstream.CacheHit || *r.Contract.ProductName != "record of alice-token" {
			t.Errorf("another replica: %s %q, want the stored record", r.Cache, *r.Contract.ProductName)
		}
		if r := record(c, bob); *r.Contract.ProductName != "record of bob-token" {
			t.Errorf("bob got %q", *r.Contract.ProductName)
		}
		calls(2, "bob after alice")
		if h := one(t, c, alice, "x"); h.Cache != upstream.CacheMiss || subject(h) != "ticket of alice-token" {
			t.Errorf("the history after the record: %s %q, want its own fetch", h.Cache, subject(h))
		}
		calls(3, "the history")
		if err := c.Invalidate(context.Background(), "x"); err != nil {
			t.Fatal(err)
		}
		if r := record(c, alice); r.Cache != upstream.CacheMiss {
			t.Errorf("after the invalidation: %s, want a miss", r.Cache)
		}
		calls(4, "after the invalidation")
	})
}
