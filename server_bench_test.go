package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/enneo-facade/facade/graph"
	"github.com/enneo-facade/facade/graph/jsonlog"
	"github.com/enneo-facade/facade/graph/metrics"
	"github.com/enneo-facade/facade/graph/queries"
	"github.com/enneo-facade/facade/upstream"
	"github.com/enneo-facade/facade/upstream/cache"
	"github.com/enneo-facade/facade/upstream/demo"
	"github.com/enneo-facade/facade/upstream/redisstore/redistest"
)

// BenchmarkWarmQ1 is the warm path through the whole handler, routes, access log and metrics
// included: q1 answered from the response cache, with its request line logged (info) or not
// (warn), into a buffered log as run has it.
func BenchmarkWarmQ1(b *testing.B) {
	up := httptest.NewServer(demo.NewHandler())
	b.Cleanup(up.Close)
	for _, level := range []string{"info", "warn"} {
		b.Run("log="+level, func(b *testing.B) {
			cfg, err := loadConfig(nil, env("UPSTREAM_URL", up.URL, "LOG_LEVEL", level), io.Discard)
			if err != nil {
				b.Fatal(err)
			}
			m := metrics.New()
			client, _ := upstream.New(upstream.Options{BaseURL: up.URL, Observer: m})
			histories, _ := cache.New(client, cache.NewMemoryStore(8<<20), cache.Options{Observer: m})
			logs := jsonlog.New(io.Discard)
			b.Cleanup(logs.Close)
			log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: cfg.LogLevel}))
			h := newHandler(cfg, parts{client: client, cache: histories, auth: graph.NewAuthenticator("", []byte("k")), metrics: m, logs: logs}, log)
			body := []byte(`{"query":` + quote(queries.Q1) + `}`)
			send := func() *httptest.ResponseRecorder {
				req := httptest.NewRequestWithContext(context.Background(), http.MethodPost, "/graphql", bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer bench")
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				return w
			}
			if w := send(); w.Code != http.StatusOK {
				b.Fatalf("warm-up: %d %s", w.Code, w.Body)
			}
			b.ReportAllocs()
			for b.Loop() {
				send()
			}
		})
	}
}

func quote(s string) string {
	var b bytes.Buffer
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '\n':
			b.WriteString(`\n`)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// BenchmarkInvalidationDesigns measures the two ways issue 11 names for an invalidation that a
// replica with a dropped subscription must still obey, warm q1 and q3 with 16 requests in flight:
//
//   - resubscribe: what the facade does. A replica that stops hearing invalidations stops serving
//     from its in-process layers until it hears them again, and then drops them; an invalidation
//     is acknowledged only once every listening replica confirmed it or knows it is deaf. A warm
//     query costs no Redis round trip.
//   - generation: a per-contract generation kept in Redis, read by every query before it may
//     serve what it holds. Measured here as the handler plus a pipeline of GETs for the query's
//     contracts (one per contract, one pipeline per master on a cluster) before it serves: the
//     least that design costs, since comparing the generations with the entries is left out.
//
// On a single node and on the local cluster (skipped with a how-to without redis-server).
func BenchmarkInvalidationDesigns(b *testing.B) {
	up := httptest.NewServer(demo.NewHandler())
	b.Cleanup(up.Close)
	cfg, err := loadConfig(nil, env("UPSTREAM_URL", up.URL, "LOG_LEVEL", "warn"), io.Discard)
	if err != nil {
		b.Fatal(err)
	}
	m := metrics.New()
	client, _ := upstream.New(upstream.Options{BaseURL: up.URL, Observer: m})
	histories, _ := cache.New(client, cache.NewMemoryStore(8<<20), cache.Options{Observer: m})
	log := slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: cfg.LogLevel}))
	h := newHandler(cfg, parts{client: client, cache: histories, auth: graph.NewAuthenticator("", []byte("k")), metrics: m}, log)

	q3IDs := make([]string, 15)
	for i := range q3IDs {
		q3IDs[i] = strconv.Itoa(100001 + i)
	}
	type query struct {
		name string
		body []byte
		ids  []string
	}
	queries := []query{
		{"q1", []byte(`{"query":` + quote(queries.Q1) + `}`), []string{"100001"}},
		{"q3", []byte(`{"query":` + quote(queries.Q3) + `}`), q3IDs},
	}
	send := func(b *testing.B, q query) {
		req := httptest.NewRequestWithContext(context.Background(), http.MethodPost, "/graphql", bytes.NewReader(q.body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer bench")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("%s: %d %s", q.name, w.Code, w.Body)
		}
	}
	prefix := redistest.Prefix(b)
	generations := func(b *testing.B, rdb redis.UniversalClient, ids []string) {
		_, err := rdb.Pipelined(context.Background(), func(p redis.Pipeliner) error {
			for _, id := range ids {
				p.Get(context.Background(), prefix+"g:{"+id+"}")
			}
			return nil
		})
		if err != nil && !errors.Is(err, redis.Nil) {
			b.Fatal(err)
		}
	}
	run := func(b *testing.B, rdb redis.UniversalClient) {
		for _, q := range queries {
			send(b, q) // warm
			b.Run(q.name, func(b *testing.B) {
				b.SetParallelism(8) // 16 in flight on this machine's two cores
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if rdb != nil {
							generations(b, rdb, q.ids)
						}
						send(b, q)
					}
				})
			})
		}
	}
	b.Run("resubscribe", func(b *testing.B) { run(b, nil) })
	b.Run("generation/node", func(b *testing.B) {
		opts, err := redis.ParseURL(redistest.Start(b))
		if err != nil {
			b.Fatal(err)
		}
		rdb := redis.NewClient(opts)
		b.Cleanup(func() { rdb.Close() })
		run(b, rdb)
	})
	b.Run("generation/cluster", func(b *testing.B) {
		run(b, redistest.SharedCluster(b).Client(b))
	})
}
