// Package bench holds measurements: Go benchmarks of the cache and, later, the load benchmark
// against other gateways. Run: go -C bench test . -run '^$' -bench . -benchtime 200x
package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/enneo-facade/facade/graph"
	"github.com/enneo-facade/facade/upstream"
	"github.com/enneo-facade/facade/upstream/cache"
	"github.com/enneo-facade/facade/upstream/demo"
	"github.com/enneo-facade/facade/upstream/redisstore"
	"github.com/enneo-facade/facade/upstream/redisstore/redistest"
)

// demoIDs returns n demo contract ids, the first of which has 40 tickets.
func demoIDs(tb testing.TB, n int) []string {
	var ids []string
	for i := 100000; len(ids) < n; i++ {
		body, _ := demo.History(fmt.Sprint(i))
		var h struct{ Tickets []json.RawMessage }
		json.Unmarshal(body, &h)
		if len(ids) > 0 || len(h.Tickets) == 40 {
			ids = append(ids, fmt.Sprint(i))
		}
	}
	return ids
}

// newCachedHandler serves /graphql over the demo upstream through a cache on Redis.
func newCachedHandler(tb testing.TB, redisURL, prefix string, hotBytes int64) (http.Handler, *cache.Cache) {
	up := httptest.NewServer(demo.NewHandler())
	tb.Cleanup(up.Close)
	client, err := upstream.New(upstream.Options{BaseURL: up.URL})
	if err != nil {
		tb.Fatal(err)
	}
	store, err := redisstore.New(redisstore.Options{URL: redisURL, Prefix: prefix})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { store.Close() })
	histories, err := cache.New(client, store, cache.Options{TTL: time.Hour, HotBytes: hotBytes})
	if err != nil {
		tb.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	return graph.NewHandler(histories, graph.NewAuthenticator("", []byte("bench")), graph.Options{}, log), histories
}

func post(tb testing.TB, h http.Handler, body []byte) {
	req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer bench-token")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || bytes.Contains(rec.Body.Bytes(), []byte(`"errors"`)) {
		tb.Fatalf("query failed: %d %.300s", rec.Code, rec.Body.String())
	}
}

// BenchmarkWarm50Contracts is a list view of 50 contracts (id, status, subject of every ticket)
// on a warm Redis, with the in-process hot layer and without it (every query then reads Redis
// and decodes). It reports the median latency.
func BenchmarkWarm50Contracts(b *testing.B) {
	url := redistest.Start(b)
	ids := demoIDs(b, 50)
	body, _ := json.Marshal(map[string]any{
		"query":     `query($ids: [ID!]!) { contracts(ids: $ids) { id history { tickets { id status subject } } } }`,
		"variables": map[string]any{"ids": ids},
	})
	for _, layer := range []struct {
		name     string
		hotBytes int64
	}{{"hot", 64 << 20}, {"redis-only", 1}} {
		b.Run(layer.name, func(b *testing.B) {
			h, histories := newCachedHandler(b, url, redistest.Prefix(b), layer.hotBytes)
			post(b, h, body) // warm: every history fetched and stored
			histories.Flush()
			var took []time.Duration
			for b.Loop() {
				start := time.Now()
				post(b, h, body)
				took = append(took, time.Since(start))
			}
			slices.Sort(took)
			b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "p50-ms")
		})
	}
}

// BenchmarkStoredSize reports the bytes of a cached 40-ticket history: the upstream's body and
// what Redis holds for it, plain and sealed.
func BenchmarkStoredSize(b *testing.B) {
	url := redistest.Start(b)
	id := demoIDs(b, 1)[0]
	raw, _ := demo.History(id)
	opts, _ := redis.ParseURL(url)
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	for _, enc := range []struct {
		name string
		key  []byte
	}{{"plain", nil}, {"sealed", bytes.Repeat([]byte{1}, 32)}} {
		b.Run(enc.name, func(b *testing.B) {
			prefix := redistest.Prefix(b)
			store, err := redisstore.New(redisstore.Options{URL: url, Prefix: prefix})
			if err != nil {
				b.Fatal(err)
			}
			defer store.Close()
			up := httptest.NewServer(demo.NewHandler())
			defer up.Close()
			client, _ := upstream.New(upstream.Options{BaseURL: up.URL})
			histories, err := cache.New(client, store, cache.Options{EncryptionKey: enc.key})
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if r := histories.Histories(context.Background(), upstream.Credential{Token: "t", Scope: "s"}, []string{id}, nil); r[0].Err != nil {
					b.Fatal(r[0].Err)
				}
			}
			histories.Flush()
			keys, err := rdb.Keys(context.Background(), prefix+"c:*").Result()
			if err != nil || len(keys) != 1 {
				b.Fatalf("keys: %v %v", keys, err)
			}
			stored, err := rdb.HStrLen(context.Background(), keys[0], "s").Result()
			if err != nil || stored == 0 {
				b.Fatalf("stored entry: %d %v", stored, err)
			}
			b.ReportMetric(float64(len(raw)), "raw-bytes")
			b.ReportMetric(float64(stored), "stored-bytes")
		})
	}
}
