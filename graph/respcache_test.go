package graph

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/enneo-facade/facade/upstream/cache"
	"github.com/enneo-facade/facade/upstream/redisstore/redistest"
)

func TestResponseCache(t *testing.T) {
	up := newTestUpstream(t, func(w http.ResponseWriter, r *http.Request, id string) {
		switch id {
		case "gone":
			w.WriteHeader(http.StatusNotFound)
		case "down":
			w.WriteHeader(http.StatusBadGateway)
		default:
			w.Write(historyWithSibling(id, "x"))
		}
	})
	api, fetch, histories := newCachedAPIWith(t, up, redistest.Start(t), redistest.Prefix(t), cache.Options{TTL: 300 * time.Millisecond})
	const q = `query($id: ID!) { contract(id: $id) { id productName } }`
	vars := map[string]any{"id": "11"}

	first := mustQuery(t, api, "alice-token", q, vars)
	second := mustQuery(t, api, "alice-token", q, vars)
	if n := fetch.batches.Load(); n != 1 {
		t.Errorf("two identical queries made %d batches, want 1 (the second from the response cache)", n)
	}
	if string(first.Data["contract"]) != string(second.Data["contract"]) || !strings.Contains(second.raw, `"histories":{"11":{"cache":"hit","ageSeconds":0}}`) {
		t.Errorf("cached response = %s, want %s with a hit", second.raw, first.raw)
	}
	// Another scope does not share it.
	mustQuery(t, api, "bob-token", q, vars)
	if n := fetch.batches.Load(); n != 2 {
		t.Errorf("another scope's query made %d batches in all, want 2", n)
	}

	// An invalidation reaches the cached response.
	if err := histories.Invalidate(context.Background(), "11"); err != nil {
		t.Fatal(err)
	}
	if resp := mustQuery(t, api, "alice-token", q, vars); !strings.Contains(resp.raw, `"cache":"miss"`) {
		t.Errorf("after invalidation: %s, want a fresh execution", resp.raw)
	}
	// So does expiry.
	time.Sleep(400 * time.Millisecond)
	before := fetch.batches.Load()
	mustQuery(t, api, "alice-token", q, vars)
	if n := fetch.batches.Load() - before; n != 1 {
		t.Errorf("after expiry: %d batches, want 1", n)
	}

	// Responses with errors are not kept: each one is executed and keeps its error.
	for i := range 3 {
		resp := mustQuery(t, api, "alice-token", `{ a: contract(id: "11") { id } b: contract(id: "gone") { id } }`, nil)
		if ext := resp.errorAt("b"); ext == nil || ext["code"] != CodeNotFound || string(resp.Data["a"]) != `{"id":"11"}` {
			t.Errorf("query %d with a failing contract: %s", i, resp.raw)
		}
	}
	if n := up.callsFor("gone"); n != 1 {
		t.Errorf("404 calls = %d, want 1 (remembered by the history cache)", n)
	}

	// GET queries are cached too.
	get := func() string {
		req, _ := http.NewRequest(http.MethodGet, api.URL+"?query="+url.QueryEscape(`{ contract(id: "12") { id } }`), nil)
		req.Header.Set("Authorization", "Bearer alice-token")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		return resp.Header.Get("Content-Type")
	}
	get()
	before = fetch.batches.Load()
	if ct := get(); ct != "application/json" || fetch.batches.Load() != before {
		t.Errorf("cached GET: content type %q, %d batches", ct, fetch.batches.Load()-before)
	}
}

func TestResponseCacheSkipsStale(t *testing.T) {
	var failing atomic.Bool
	up := newTestUpstream(t, func(w http.ResponseWriter, r *http.Request, id string) {
		if failing.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Write(historyWithSibling(id, "x"))
	})
	api, fetch, _ := newCachedAPIWith(t, up, redistest.Start(t), redistest.Prefix(t), cache.Options{TTL: 100 * time.Millisecond})
	const q = `{ contract(id: "21") { id } }`
	mustQuery(t, api, "alice-token", q, nil)
	time.Sleep(200 * time.Millisecond)
	failing.Store(true)
	for range 2 {
		if resp := mustQuery(t, api, "alice-token", q, nil); !strings.Contains(resp.raw, `"cache":"stale"`) {
			t.Errorf("with the upstream down: %s, want the stale history", resp.raw)
		}
	}
	if n := fetch.batches.Load(); n != 3 {
		t.Errorf("batches = %d, want 3: a response built from a stale history is not kept", n)
	}
}

func TestCachedNotFoundKeepsItsError(t *testing.T) {
	up := newTestUpstream(t, func(w http.ResponseWriter, r *http.Request, id string) {
		w.WriteHeader(http.StatusNotFound)
	})
	api, _, _ := newCachedAPIWith(t, up, redistest.Start(t), redistest.Prefix(t), cache.Options{})
	for i := range 3 {
		resp := mustQuery(t, api, "alice-token", `{ contract(id: "gone") { id } }`, nil)
		if ext := resp.errorAt("contract"); ext == nil || ext["code"] != CodeNotFound {
			t.Errorf("query %d: %s, want NOT_FOUND", i, resp.raw)
		}
	}
	if n := up.total(); n != 1 {
		t.Errorf("upstream calls = %d, want 1 (the 404 is remembered)", n)
	}
}

// TestResponseCacheMissesAnInvalidationDuringTheAnswer: a contract invalidated after its history
// was fetched but before the answer built from it was stored must not be answered from that
// stored answer.
func TestResponseCacheMissesAnInvalidationDuringTheAnswer(t *testing.T) {
	reached, release := make(chan struct{}), make(chan struct{})
	var once atomic.Bool
	up := newTestUpstream(t, func(w http.ResponseWriter, r *http.Request, id string) {
		if id == "32" && once.CompareAndSwap(false, true) {
			close(reached) // 31's history is fetched; the answer waits for 32's
			<-release
		}
		w.Write(historyWithSibling(id, "32"))
	})
	api, _, histories := newCachedAPIWith(t, up, redistest.Start(t), redistest.Prefix(t), cache.Options{TTL: time.Minute})
	const q = `{ contract(id: "31") { id history { tickets { customer { contracts { id history { tickets { id } } } } } } } }`
	done := make(chan gqlResponse, 1)
	go func() { done <- mustQuery(t, api, "alice-token", q, nil) }()
	<-reached
	if err := histories.Invalidate(context.Background(), "31"); err != nil {
		t.Fatal(err)
	}
	close(release)
	if first := <-done; len(first.Errors) > 0 {
		t.Fatalf("first query: %s", first.raw)
	}
	second := mustQuery(t, api, "alice-token", q, nil)
	if n := up.callsFor("31"); n != 2 || !strings.Contains(second.raw, `"31":{"cache":"miss"`) {
		t.Errorf("after an invalidation during the first answer: %d calls for 31, answer %s; want 2 and a fresh history", n, second.raw)
	}
}

// An answer built from an upstream call that was in flight when its contract was invalidated
// is dated from when the call began: the response cache does not serve it afterwards.
func TestResponseCacheMissesAnInvalidationDuringTheFetch(t *testing.T) {
	reached, release := make(chan struct{}), make(chan struct{})
	var version atomic.Int64
	var once atomic.Bool
	up := newTestUpstream(t, func(w http.ResponseWriter, r *http.Request, id string) {
		v := version.Load() // what the upstream reads is what it had when asked
		if once.CompareAndSwap(false, true) {
			close(reached)
			<-release
		}
		w.Write([]byte(`{"tickets":[{"id":1,"subject":"v` + strconv.FormatInt(v, 10) + `"}]}`))
	})
	api, _, histories := newCachedAPIWith(t, up, redistest.Start(t), redistest.Prefix(t), cache.Options{TTL: time.Minute})
	const q = `{ contract(id: "41") { history { tickets { subject } } } }`
	done := make(chan gqlResponse, 1)
	go func() { done <- mustQuery(t, api, "alice-token", q, nil) }()
	<-reached
	version.Store(1)
	if err := histories.Invalidate(context.Background(), "41"); err != nil {
		t.Fatal(err)
	}
	close(release)
	if first := <-done; !strings.Contains(first.raw, `"v0"`) {
		t.Fatalf("first query, sent before the invalidation: %s", first.raw)
	}
	if second := mustQuery(t, api, "alice-token", q, nil); !strings.Contains(second.raw, `"v1"`) {
		t.Errorf("second query, sent after the invalidation: %s, want v1", second.raw)
	}
}

// TestCachedAnswersAreCompressedOncePerSecond: a cached answer is compressed once for each
// second and Accept-Encoding, not for every request, and goes out as the HTTP layer's
// compression made it (its Content-Encoding and ETag).
func TestCachedAnswersAreCompressedOncePerSecond(t *testing.T) {
	var runs atomic.Int64
	// A stand-in for the HTTP layer's compression: "gzip" for a client that takes it.
	compress := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			runs.Add(1)
			if !strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
				next.ServeHTTP(w, r)
				return
			}
			w.Header().Set("Content-Encoding", "gzip")
			if tag := w.Header().Get("ETag"); tag != "" {
				w.Header().Set("ETag", strings.TrimSuffix(tag, `"`)+`-gzip"`)
			}
			rec := &recorder{header: http.Header{}}
			next.ServeHTTP(rec, r)
			w.Write([]byte(strings.ToUpper(rec.body.String())))
		})
	}
	e := &cachedResponse{data: []byte(`{"contract":{"id":"1"}}`)}
	ask := func(ae string, now time.Time) (http.Header, []byte) {
		r, _ := http.NewRequest(http.MethodGet, "/graphql", nil)
		if ae != "" {
			r.Header.Set("Accept-Encoding", ae)
		}
		h := http.Header{"Etag": {`W/"t"`}}
		return h, e.encode(r, h, e.response(now), now, compress)
	}
	second := time.Unix(1_800_000_000, 0)
	h, first := ask("gzip", second)
	if h.Get("Content-Encoding") != "gzip" || h.Get("ETag") != `W/"t-gzip"` || !strings.HasPrefix(string(first), `{"DATA":`) {
		t.Fatalf("gzip: %v %s", h, first)
	}
	_, again := ask("gzip", second.Add(500*time.Millisecond))
	if &again[0] != &first[0] || runs.Load() != 1 {
		t.Errorf("the same second: compressed %d times, want once", runs.Load())
	}
	if h, plain := ask("identity", second); h.Get("Content-Encoding") != "" || h.Get("ETag") != `W/"t"` || !strings.HasPrefix(string(plain), `{"data":`) {
		t.Errorf("identity: %v %s", h, plain)
	}
	if h, plain := ask("", second); h.Get("Content-Encoding") != "" || runs.Load() != 2 {
		t.Errorf("no Accept-Encoding: %v %s, compression run %d times, want 2 (not for it)", h, plain, runs.Load())
	}
	if _, later := ask("gzip", second.Add(time.Second)); &later[0] == &first[0] || runs.Load() != 3 {
		t.Errorf("the next second: compression run %d times in all, want 3", runs.Load())
	}
}
