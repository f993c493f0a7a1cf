package graph

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/enneo-facade/facade/upstream"
	"github.com/enneo-facade/facade/upstream/cache"
	"github.com/enneo-facade/facade/upstream/redisstore"
	"github.com/enneo-facade/facade/upstream/redisstore/redistest"
)

var (
	_ ChangeTracker  = (*cache.Cache)(nil)
	_ HistoryFetcher = (*cache.Cache)(nil)
	_ Invalidator    = (*cache.Cache)(nil)
)

// newCachedAPI serves the /graphql handler with a cache on a real Redis in front of up.
func newCachedAPI(t *testing.T, up *testUpstream, redisURL, prefix string) (*httptest.Server, *countingFetcher) {
	t.Helper()
	api, fetch, _ := newCachedAPIWith(t, up, redisURL, prefix, cache.Options{})
	return api, fetch
}

// newCachedAPIWith is newCachedAPI with cache options, returning the cache too.
func newCachedAPIWith(t *testing.T, up *testUpstream, redisURL, prefix string, o cache.Options) (*httptest.Server, *countingFetcher, *cache.Cache) {
	t.Helper()
	return newCachedAPIWaiting(t, up, redisURL, prefix, o, 0)
}

// newCachedAPIWaiting is newCachedAPIWith whose batches collect loads for wait (0: the default).
func newCachedAPIWaiting(t *testing.T, up *testUpstream, redisURL, prefix string, o cache.Options, wait time.Duration) (*httptest.Server, *countingFetcher, *cache.Cache) {
	t.Helper()
	// Generous timeouts: on a loaded CI machine the default 150 ms would turn hits into misses.
	store, err := redisstore.New(redisstore.Options{URL: redisURL, Prefix: prefix, IOTimeout: 5 * time.Second, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return serveCached(t, up, store, o, wait)
}

// newCachedAPIOver serves the /graphql handler, with its response cache, over a cache of its
// own in front of up, keeping entries in store: two of them over one store are two replicas.
func newCachedAPIOver(t *testing.T, up *testUpstream, store cache.Store, o cache.Options) (*httptest.Server, *countingFetcher, *cache.Cache) {
	t.Helper()
	return serveCached(t, up, store, o, 0)
}

func serveCached(t *testing.T, up *testUpstream, store cache.Store, o cache.Options, wait time.Duration) (*httptest.Server, *countingFetcher, *cache.Cache) {
	t.Helper()
	client, err := upstream.New(upstream.Options{BaseURL: up.srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	histories, err := cache.New(client, store, o)
	if err != nil {
		t.Fatal(err)
	}
	fetch := &countingFetcher{next: histories}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	api := httptest.NewServer(NewHandler(fetch, NewAuthenticator("", []byte("test-secret")), Options{Invalidator: histories, Changes: histories, Wait: wait}, log))
	t.Cleanup(api.Close)
	return api, fetch, histories
}

// countingFetcher counts the batches the loaders hand to the cache.
type countingFetcher struct {
	next    HistoryFetcher
	batches atomic.Int64
}

func (f *countingFetcher) Histories(ctx context.Context, cred upstream.Credential, ids []string, p *upstream.Projection) []upstream.Result {
	f.batches.Add(1)
	return f.next.Histories(ctx, cred, ids, p)
}

// flush waits for the cache's writes behind its answers.
func (f *countingFetcher) flush() { f.next.(*cache.Cache).Flush() }

func (f *countingFetcher) Peek(cred upstream.Credential, id string) (upstream.Result, bool) {
	return f.next.Peek(cred, id)
}

func (f *countingFetcher) Contracts(ctx context.Context, cred upstream.Credential, ids []string) []upstream.RecordResult {
	f.batches.Add(1)
	return f.next.Contracts(ctx, cred, ids)
}

// personalUpstream answers each token with data only that token may see.
func personalUpstream(t *testing.T, delay time.Duration) *testUpstream {
	return newTestUpstream(t, func(w http.ResponseWriter, r *http.Request, id string) {
		time.Sleep(delay)
		owner := map[string]string{"Bearer alice-token": "Alice", "Bearer bob-token": "Bob"}[r.Header.Get("Authorization")]
		b, _ := json.Marshal(map[string]any{"tickets": []any{map[string]any{
			"id": 1, "contractId": id, "subject": "private to " + owner,
			"customer": map[string]any{"firstname": owner, "email": strings.ToLower(owner) + "@example.de"},
		}}})
		w.Write(b)
	})
}

func TestIsolationBetweenTokens(t *testing.T) {
	url, prefix := redistest.Start(t), redistest.Prefix(t)
	up := personalUpstream(t, time.Millisecond)
	api, fetch := newCachedAPI(t, up, url, prefix)

	var wg sync.WaitGroup
	var leaks, failures atomic.Int64
	for i := range 300 {
		wg.Go(func() {
			me, mine, other := "alice", "Alice", "bob"
			if i%2 == 1 {
				me, mine, other = "bob", "Bob", "alice"
			}
			resp := mustQuery(t, api, me+"-token", fmt.Sprintf(`{ contract(id: "%d") { history { tickets { subject customer { firstname email } } } } }`, i%7), nil)
			if len(resp.Errors) > 0 || !strings.Contains(resp.raw, "private to "+mine) {
				failures.Add(1)
			}
			if strings.Contains(strings.ToLower(resp.raw), other) {
				leaks.Add(1)
			}
		})
	}
	wg.Wait()
	if leaks.Load() > 0 || failures.Load() > 0 {
		t.Fatalf("%d responses held the other token's data, %d lacked their own", leaks.Load(), failures.Load())
	}
	fetch.flush()
	// Neither token appears in any key or value in Redis.
	rdb := redis.NewClient(mustParseURL(t, url))
	defer rdb.Close()
	ctx := context.Background()
	keys, err := rdb.Keys(ctx, prefix+"*").Result()
	if err != nil || len(keys) == 0 {
		t.Fatalf("keys under %s: %v %v", prefix, keys, err)
	}
	for _, k := range keys {
		fields, err := rdb.HGetAll(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		for f, v := range fields {
			for _, token := range []string{"alice-token", "bob-token"} {
				if strings.Contains(k+f+v, token) {
					t.Errorf("Redis key %s field %s holds %s", k, f, token)
				}
			}
		}
	}
}

func mustParseURL(t *testing.T, url string) *redis.Options {
	t.Helper()
	o, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func TestStampedeMakesOneUpstreamCall(t *testing.T) {
	up := personalUpstream(t, 100*time.Millisecond)
	api, _ := newCachedAPI(t, up, redistest.Start(t), redistest.Prefix(t))
	var wg sync.WaitGroup
	var failures atomic.Int64
	for range 200 {
		wg.Go(func() {
			resp := mustQuery(t, api, "alice-token", `{ contract(id: "hot") { history { tickets { subject } } } }`, nil)
			if len(resp.Errors) > 0 || !strings.Contains(resp.raw, "private to Alice") {
				failures.Add(1)
			}
		})
	}
	wg.Wait()
	if n := up.total(); n != 1 {
		t.Errorf("200 concurrent queries made %d upstream calls, want 1", n)
	}
	if failures.Load() > 0 {
		t.Errorf("%d queries failed", failures.Load())
	}
}

func TestProvenanceAndOneBatchOnWarmRedis(t *testing.T) {
	url, prefix := redistest.Start(t), redistest.Prefix(t)
	up := personalUpstream(t, 0)
	ids := make([]any, 50)
	for i := range ids {
		ids[i] = fmt.Sprint(7000 + i)
	}
	const q = `query($ids: [ID!]!) { contracts(ids: $ids) { id history { tickets { subject } } } }`
	warmer, warmerFetch := newCachedAPI(t, up, url, prefix)
	cold := mustQuery(t, warmer, "alice-token", q, map[string]any{"ids": ids})
	if len(cold.Errors) > 0 || !strings.Contains(cold.raw, `"histories":{`) || !strings.Contains(cold.raw, `"7049":{"cache":"miss","ageSeconds":0}`) {
		t.Fatalf("cold query: %s", cold.raw)
	}
	warmerFetch.flush() // the writes behind the answer
	// Another replica, whose process holds nothing: everything comes from Redis in one batch.
	// (Its batches wait longer than the default millisecond: on a loaded machine a resolver
	// preempted in its loop of loads would split them, which says nothing of the cache.)
	api, fetch, _ := newCachedAPIWaiting(t, up, url, prefix, cache.Options{}, 100*time.Millisecond)
	before := up.total()
	warm := mustQuery(t, api, "alice-token", q, map[string]any{"ids": ids})
	if len(warm.Errors) > 0 || strings.Count(warm.raw, `"cache":"hit"`) != 50 {
		t.Errorf("warm query: %s", warm.raw)
	}
	if n := up.total() - before; n != 0 {
		t.Errorf("warm query made %d upstream calls, want 0", n)
	}
	if n := fetch.batches.Load(); n != 1 {
		t.Errorf("warm query made %d batches, want 1", n)
	}
}

func TestInvalidateMutation(t *testing.T) {
	up := personalUpstream(t, 0)
	client, _ := upstream.New(upstream.Options{BaseURL: up.srv.URL})
	histories, err := cache.New(client, cache.NewMemoryStore(1<<20), cache.Options{})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	api := httptest.NewServer(NewHandler(histories, NewAuthenticator("", []byte("k")), Options{Invalidator: histories, AdminToken: "admin-secret"}, log))
	defer api.Close()

	const q = `{ contract(id: "5") { id } }`
	mustQuery(t, api, "alice-token", q, nil)
	mutate := `mutation { invalidateContractHistory(contractId: "5") }`
	for _, token := range []string{"", "alice-token", "admin-secre"} {
		resp := mustQuery(t, api, token, mutate, nil)
		if ext := resp.errorAt("invalidateContractHistory"); ext == nil || ext["code"] != CodeForbidden {
			t.Errorf("mutation with %q: %s, want FORBIDDEN", token, resp.raw)
		}
	}
	if resp := mustQuery(t, api, "alice-token", q, nil); !strings.Contains(resp.raw, `"cache":"hit"`) {
		t.Errorf("a refused mutation changed the cache: %s", resp.raw)
	}
	if resp := mustQuery(t, api, "admin-secret", mutate, nil); string(resp.Data["invalidateContractHistory"]) != "true" {
		t.Fatalf("admin mutation: %s", resp.raw)
	}
	if resp := mustQuery(t, api, "alice-token", q, nil); !strings.Contains(resp.raw, `"cache":"miss"`) {
		t.Errorf("after invalidation: %s, want a miss", resp.raw)
	}
	// Never over GET.
	resp, err := http.Get(api.URL + "?query=" + strings.ReplaceAll(mutate, " ", "%20"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		t.Errorf("mutation over GET answered 200")
	}
}
