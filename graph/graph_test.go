package graph

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/enneo-facade/facade/upstream"
)

// testUpstream is an upstream that serves per-id answers and counts calls.
type testUpstream struct {
	srv         *httptest.Server
	mu          sync.Mutex
	calls       map[string]int
	inFlight    atomic.Int64
	maxInFlight atomic.Int64
	tokens      sync.Map // tokens seen
}

func newTestUpstream(t *testing.T, serve func(w http.ResponseWriter, r *http.Request, id string)) *testUpstream {
	t.Helper()
	u := &testUpstream{calls: map[string]int{}}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := u.inFlight.Add(1)
		defer u.inFlight.Add(-1)
		for {
			m := u.maxInFlight.Load()
			if n <= m || u.maxInFlight.CompareAndSwap(m, n) {
				break
			}
		}
		id := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/contract/"), "/history")
		u.mu.Lock()
		u.calls[id]++
		u.mu.Unlock()
		u.tokens.Store(r.Header.Get("Authorization"), true)
		serve(w, r, id)
	}))
	t.Cleanup(u.srv.Close)
	return u
}

// callsFor is how many calls asked for id; upstream handlers may still be running.
func (u *testUpstream) callsFor(id string) int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.calls[id]
}

func (u *testUpstream) total() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	n := 0
	for _, c := range u.calls {
		n += c
	}
	return n
}

// syncBuffer collects log output written from many goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// newTestAPI serves the real /graphql handler against up; its logs go to the returned buffer.
func newTestAPI(t *testing.T, up *testUpstream, timeout time.Duration) (*httptest.Server, *syncBuffer) {
	t.Helper()
	return newTestAPIWith(t, up, timeout, Options{})
}

// newTestAPIWith is newTestAPI with handler options.
func newTestAPIWith(t *testing.T, up *testUpstream, timeout time.Duration, o Options) (*httptest.Server, *syncBuffer) {
	t.Helper()
	client, err := upstream.New(upstream.Options{BaseURL: up.srv.URL, Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	api := httptest.NewServer(NewHandler(client, NewAuthenticator("", []byte("test-secret")), o, log))
	t.Cleanup(api.Close)
	return api, logs
}

type gqlResponse struct {
	Data   map[string]json.RawMessage `json:"data"`
	Errors []struct {
		Message    string         `json:"message"`
		Path       []any          `json:"path"`
		Extensions map[string]any `json:"extensions"`
	} `json:"errors"`
	raw string
}

// errorAt returns the extensions of the error at path (joined with dots), or nil.
func (r gqlResponse) errorAt(path string) map[string]any {
	for _, e := range r.Errors {
		var parts []string
		for _, p := range e.Path {
			b, _ := json.Marshal(p)
			parts = append(parts, strings.Trim(string(b), `"`))
		}
		if strings.Join(parts, ".") == path {
			return e.Extensions
		}
	}
	return nil
}

func mustQuery(t *testing.T, api *httptest.Server, token, query string, vars map[string]any) gqlResponse {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, api.URL, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out gqlResponse
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("response %q: %v", raw, err)
	}
	out.raw = string(raw)
	return out
}

func mustReadFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// historyWithSibling is a one-ticket history of contract id whose customer also holds sibling.
func historyWithSibling(id, sibling string) []byte {
	b, _ := json.Marshal(map[string]any{"tickets": []any{map[string]any{
		"id": "t-" + id, "contractId": id, "subject": "Zählerstand " + id,
		"customer": map[string]any{"id": 1, "contracts": []any{
			map[string]any{"id": id, "productName": "Flex " + id},
			map[string]any{"id": sibling, "productName": "Flex " + sibling},
		}},
	}}})
	return b
}
