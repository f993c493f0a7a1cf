package graph

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/enneo-facade/facade/graph/persisted"
	"github.com/enneo-facade/facade/upstream"
	"github.com/enneo-facade/facade/upstream/redisstore/redistest"
)

const listed = `query ContractIDs($id: ID!) { contract(id: $id) { id } }`

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// persistedAPI serves the handler with persisted operations as o has them.
func persistedAPI(t *testing.T, up *testUpstream, o Options) *httptest.Server {
	t.Helper()
	client, err := upstream.New(upstream.Options{BaseURL: up.srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	api := httptest.NewServer(NewHandler(client, NewAuthenticator("", []byte("k")), o, slog.New(slog.DiscardHandler)))
	t.Cleanup(api.Close)
	return api
}

// do sends a POST with body, or a GET with the query parameters of body's members.
func do(t *testing.T, method, api string, body map[string]any) gqlResponse {
	t.Helper()
	var req *http.Request
	if method == http.MethodGet {
		v := url.Values{}
		for k, x := range body {
			if s, ok := x.(string); ok {
				v.Set(k, s)
			} else {
				b, _ := json.Marshal(x)
				v.Set(k, string(b))
			}
		}
		req, _ = http.NewRequest(method, api+"?"+v.Encode(), nil)
	} else {
		b, _ := json.Marshal(body)
		req, _ = http.NewRequest(method, api, strings.NewReader(string(b)))
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer token")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out gqlResponse
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("%s %v: %q", method, body, raw)
	}
	out.raw = string(raw)
	return out
}

func apq(hash string) map[string]any {
	return map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hash}}
}

func codeOf(r gqlResponse) string {
	if len(r.Errors) == 0 {
		return ""
	}
	c, _ := r.Errors[0].Extensions["code"].(string)
	return c
}

// TestSafelist: with a safelist, the manifest's operations run, sent by documentId or Relay's
// doc_id (POST and GET), by their APQ hash, or in full; any other text is refused before any upstream call, and
// nothing can be registered.
func TestSafelist(t *testing.T) {
	up := newTestUpstream(t, func(w http.ResponseWriter, r *http.Request, id string) {
		w.Write(historyWithSibling(id, "x"))
	})
	m, err := persisted.ParseManifest([]byte(`{"format":"apollo-persisted-query-manifest","version":1,"operations":[` +
		`{"id":"contract-ids-v1","name":"ContractIDs","type":"query","body":` + strings.ReplaceAll(jsonString(listed), "\n", "") + `}]}`))
	if err != nil {
		t.Fatal(err)
	}
	api := persistedAPI(t, up, Options{Manifest: m, Safelist: true}).URL
	vars := map[string]any{"id": "746839"}
	other := `{ contract(id: "746839") { id productName } }`
	for _, tt := range []struct {
		name, method string
		body         map[string]any
		code         string // "" for data
	}{
		{"documentId", http.MethodPost, map[string]any{"documentId": "contract-ids-v1", "variables": vars}, ""},
		{"documentId over GET", http.MethodGet, map[string]any{"documentId": "sha256:" + sha(listed), "variables": vars}, ""},
		{"Relay's doc_id", http.MethodPost, map[string]any{"doc_id": "contract-ids-v1", "variables": vars}, ""},
		{"Relay's doc_id over GET", http.MethodGet, map[string]any{"doc_id": "contract-ids-v1", "variables": vars}, ""},
		{"an unknown doc_id", http.MethodPost, map[string]any{"doc_id": "nope"}, "PERSISTED_QUERY_NOT_FOUND"},
		{"APQ hash", http.MethodPost, map[string]any{"extensions": apq(sha(listed)), "variables": vars}, ""},
		{"APQ hash over GET", http.MethodGet, map[string]any{"extensions": apq(sha(listed)), "variables": vars}, ""},
		{"the listed text", http.MethodPost, map[string]any{"query": listed, "variables": vars}, ""},
		{"another text", http.MethodPost, map[string]any{"query": other}, CodeNotInSafelist},
		{"another text over GET", http.MethodGet, map[string]any{"query": other}, CodeNotInSafelist},
		{"the listed text, spaced", http.MethodPost, map[string]any{"query": listed + " ", "variables": vars}, CodeNotInSafelist},
		{"registering another", http.MethodPost, map[string]any{"query": other, "extensions": apq(sha(other))}, CodeNotInSafelist},
		{"what was not registered", http.MethodPost, map[string]any{"extensions": apq(sha(other))}, "PERSISTED_QUERY_NOT_FOUND"},
		{"an unknown documentId", http.MethodPost, map[string]any{"documentId": "nope"}, "PERSISTED_QUERY_NOT_FOUND"},
	} {
		before := up.total()
		resp := do(t, tt.method, api, tt.body)
		switch {
		case tt.code == "" && (len(resp.Errors) > 0 || string(resp.Data["contract"]) != `{"id":"746839"}`):
			t.Errorf("%s: %s, want the contract", tt.name, resp.raw)
		case tt.code != "" && (codeOf(resp) != tt.code || resp.Data != nil || up.total() != before):
			t.Errorf("%s: %s (%d upstream calls), want %s and none", tt.name, resp.raw, up.total()-before, tt.code)
		}
	}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// TestPersistedQueriesSharedByReplicas: a query one replica learnt by APQ, the other answers by
// its hash alone, through Redis; a manifest's operations are known by id without a safelist,
// and other queries still run.
func TestPersistedQueriesSharedByReplicas(t *testing.T) {
	up := newTestUpstream(t, func(w http.ResponseWriter, r *http.Request, id string) {
		w.Write(historyWithSibling(id, "x"))
	})
	redisURL, prefix := redistest.Start(t), redistest.Prefix(t)
	m, err := persisted.ParseManifest([]byte(`{"contract-ids-v1": ` + jsonString(listed) + `}`))
	if err != nil {
		t.Fatal(err)
	}
	var apis []string
	for range 2 {
		opt, err := redis.ParseURL(redisURL)
		if err != nil {
			t.Fatal(err)
		}
		rdb := redis.NewClient(opt)
		t.Cleanup(func() { rdb.Close() })
		apis = append(apis, persistedAPI(t, up, Options{Manifest: m, Persisted: persisted.NewRedisCache(rdb, prefix, time.Minute, 1<<20)}).URL)
	}
	const q = `{ contract(id: "746839") { id status } }`
	if r := do(t, http.MethodGet, apis[1], map[string]any{"extensions": apq(sha(q))}); codeOf(r) != "PERSISTED_QUERY_NOT_FOUND" {
		t.Fatalf("before registering: %s, want PERSISTED_QUERY_NOT_FOUND", r.raw)
	}
	if r := do(t, http.MethodPost, apis[0], map[string]any{"query": q, "extensions": apq(sha(q))}); len(r.Errors) > 0 {
		t.Fatalf("registering on one replica: %s", r.raw)
	}
	if r := do(t, http.MethodGet, apis[1], map[string]any{"extensions": apq(sha(q))}); len(r.Errors) > 0 || !strings.Contains(r.raw, `"id":"746839"`) {
		t.Errorf("by hash on the other replica: %s, want the contract", r.raw)
	}
	if r := do(t, http.MethodPost, apis[1], map[string]any{"documentId": "contract-ids-v1", "variables": map[string]any{"id": "1"}}); string(r.Data["contract"]) != `{"id":"1"}` {
		t.Errorf("a manifest's operation by id: %s", r.raw)
	}
	for _, method := range []string{http.MethodPost, http.MethodGet} { // Relay's request shape, its manifest's format
		if r := do(t, method, apis[0], map[string]any{"doc_id": "contract-ids-v1", "variables": map[string]any{"id": "3"}}); string(r.Data["contract"]) != `{"id":"3"}` {
			t.Errorf("%s doc_id: %s", method, r.raw)
		}
	}
	if r := do(t, http.MethodPost, apis[1], map[string]any{"query": `{ contract(id: "2") { id } }`}); len(r.Errors) > 0 {
		t.Errorf("without a safelist, any query runs: %s", r.raw)
	}
}
