package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/enneo-facade/facade/upstream"
	"github.com/enneo-facade/facade/upstream/demo"
)

// staticFetcher answers every id with one decoded history, as a warm hot layer would.
type staticFetcher struct{ h *upstream.History }

func (f staticFetcher) Histories(_ context.Context, _ upstream.Credential, ids []string, _ *upstream.Projection) []upstream.Result {
	res := make([]upstream.Result, len(ids))
	for i := range res {
		res[i] = upstream.Result{History: f.h, Cache: upstream.CacheHit, FreshUntil: time.Now().Add(time.Hour)}
	}
	return res
}

// Peek answers at once, like the cache's hot layer.
func (f staticFetcher) Peek(_ upstream.Credential, _ string) (upstream.Result, bool) {
	return upstream.Result{History: f.h, Cache: upstream.CacheHit, FreshUntil: time.Now().Add(time.Hour)}, true
}

// Contracts finds no record: the example's tickets embed their contract.
func (f staticFetcher) Contracts(_ context.Context, _ upstream.Credential, ids []string) []upstream.RecordResult {
	res := make([]upstream.RecordResult, len(ids))
	for i := range res {
		res[i].Err = upstream.ErrNotFound
	}
	return res
}

// neverChanged is a ChangeTracker for which nothing is ever invalidated.
type neverChanged struct{}

func (neverChanged) ChangedSince(string, time.Time) bool { return false }

// benchHandler serves the example ticket five times per contract (about the 36 KB history of the
// load benchmark), with or without the response cache.
func benchHandler(b *testing.B, responses bool) http.Handler {
	b.Helper()
	h := benchHistory(b)
	o := Options{}
	if responses {
		o.Changes = neverChanged{}
	}
	return NewHandler(staticFetcher{h}, NewAuthenticator("", []byte("k")), o, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

// benchHistory is the example ticket five times, decoded.
func benchHistory(b *testing.B) *upstream.History {
	raw := demo.ExampleHistory()
	var one struct{ Tickets []json.RawMessage }
	json.Unmarshal(raw, &one)
	five, _ := json.Marshal(map[string]any{"tickets": []json.RawMessage{one.Tickets[0], one.Tickets[0], one.Tickets[0], one.Tickets[0], one.Tickets[0]}})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(five) }))
	b.Cleanup(srv.Close)
	client, _ := upstream.New(upstream.Options{BaseURL: srv.URL})
	h, err := client.History(context.Background(), "t", "746839")
	if err != nil {
		b.Fatal(err)
	}
	return h
}

func benchQuery(b *testing.B, h http.Handler, query string) {
	body, _ := json.Marshal(map[string]any{"query": query})
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer bench")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d", rec.Code)
		}
	}
}

const benchQ1 = `{ contract(id: "746839") { history { tickets { id status subject } } } }`

// BenchmarkExecuteQ1 runs a list view of one contract through gqlgen: parse (cached),
// validate, resolve and encode, without the response cache.
func BenchmarkExecuteQ1(b *testing.B) { benchQuery(b, benchHandler(b, false), benchQ1) }

// BenchmarkExecuteQ2 selects every field of the contract's tickets.
func BenchmarkExecuteQ2(b *testing.B) {
	schema := NewExecutableSchema(Config{Resolvers: &Resolver{}}).Schema()
	benchQuery(b, benchHandler(b, false), everyTicketField(schema))
}

// BenchmarkResponseCacheQ1 answers q1 from the response cache.
func BenchmarkResponseCacheQ1(b *testing.B) { benchQuery(b, benchHandler(b, true), benchQ1) }

// BenchmarkResponseCacheQ2 answers the every-field query from the response cache.
func BenchmarkResponseCacheQ2(b *testing.B) {
	schema := NewExecutableSchema(Config{Resolvers: &Resolver{}}).Schema()
	benchQuery(b, benchHandler(b, true), everyTicketField(schema))
}
