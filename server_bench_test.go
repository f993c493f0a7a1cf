package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/enneo-facade/facade/bench/queries"
	"github.com/enneo-facade/facade/graph"
	"github.com/enneo-facade/facade/graph/metrics"
	"github.com/enneo-facade/facade/upstream"
	"github.com/enneo-facade/facade/upstream/demo"
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
			cache, _ := upstream.NewCache(client, upstream.NewMemoryStore(8<<20), upstream.CacheOptions{Observer: m})
			logs := newBufferedLog(io.Discard)
			b.Cleanup(logs.Close)
			log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: cfg.LogLevel}))
			h := newHandler(cfg, parts{client: client, cache: cache, auth: graph.NewAuthenticator("", []byte("k")), metrics: m, logs: logs}, log)
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
