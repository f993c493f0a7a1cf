package main

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sync/atomic"
	"testing"

	"github.com/enneo-facade/facade/graph"
	"github.com/enneo-facade/facade/graph/queries"
	"github.com/enneo-facade/facade/upstream"
	"github.com/enneo-facade/facade/upstream/demo"
)

// TestAnswersAsTheFacade: the baseline answers q1, q2 and q3 with the facade's data, and asks
// again from memory, with no upstream call: it does the same work, without the facade's around it.
func TestAnswersAsTheFacade(t *testing.T) {
	var calls atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Write(demo.ExampleHistory())
	}))
	defer up.Close()
	client, err := upstream.New(upstream.Options{BaseURL: up.URL})
	if err != nil {
		t.Fatal(err)
	}
	facade := httptest.NewServer(graph.NewHandler(client, graph.NewAuthenticator("", []byte("k")), graph.Options{}, slog.New(slog.NewTextHandler(io.Discard, nil))))
	defer facade.Close()
	bare := httptest.NewServer(newHandler(client, "t"))
	defer bare.Close()
	all := map[string]string{"q1": queries.Q1, "q2": queries.Q2, "q3": queries.Q3}
	for name, q := range all {
		want, got := data(t, facade.URL, q), data(t, bare.URL+"/graphql", q)
		if want == nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: bare answers %.300v, the facade %.300v", name, got, want)
		}
	}
	before := calls.Load()
	for _, q := range all {
		data(t, bare.URL+"/graphql", q)
	}
	if n := calls.Load() - before; n != 0 {
		t.Errorf("asked again, the baseline made %d upstream calls, want none: its histories are in memory", n)
	}
}

func data(t *testing.T, url, query string) any {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query})
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer t")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Data   any
		Errors []any
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || len(out.Errors) > 0 {
		t.Fatalf("%s: %v %v", url, err, out.Errors)
	}
	return out.Data
}
