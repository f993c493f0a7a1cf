package graph

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/enneo-facade/facade/graph/ratelimit"
	"github.com/enneo-facade/facade/upstream"
	"github.com/enneo-facade/facade/upstream/cache"
)

// costOf52 costs 1 contract + 1 history + 50 tickets.
const costOf52 = `{ contract(id: "1") { history { tickets { id } } } }`

// answer is an HTTP answer: its status, Retry-After and body.
type answer struct {
	status     int
	retryAfter string
	body       gqlResponse
	cost       costReport
}

func send(t *testing.T, url, token, query string) answer {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query})
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After")}
	var ext struct {
		Extensions struct {
			Cost costReport `json:"cost"`
		} `json:"extensions"`
	}
	if err := json.Unmarshal(raw, &a.body); err != nil {
		t.Fatalf("answer %q: %v", raw, err)
	}
	json.Unmarshal(raw, &ext)
	a.body.raw, a.cost = string(raw), ext.Extensions.Cost
	return a
}

// TestRateLimitPerCredential: each credential pays for its operations from its own bucket; one
// over its budget gets 429 with Retry-After and RATE_LIMITED, no upstream call, while another
// is served. Answers from the response cache are paid for too, and every answer says what is
// left.
func TestRateLimitPerCredential(t *testing.T) {
	up := newTestUpstream(t, func(w http.ResponseWriter, r *http.Request, id string) {
		w.Write(historyWithSibling(id, "x"))
	})
	client, err := upstream.New(upstream.Options{BaseURL: up.srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	histories, err := cache.New(client, cache.NewMemoryStore(1<<20), cache.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for name, o := range map[string]Options{
		"executed":                {},
		"from the response cache": {Changes: histories},
	} {
		o.RateLimiter = ratelimit.NewMemory(ratelimit.Limit{Burst: 160, PerSecond: 1}, 100)
		var fetch HistoryFetcher = client
		if o.Changes != nil {
			fetch = histories
		}
		api := httptest.NewServer(NewHandler(fetch, NewAuthenticator("", []byte("k")), o, slog.New(slog.DiscardHandler)))
		t.Cleanup(api.Close)
		for i, left := range []int64{108, 56, 4} {
			a := send(t, api.URL, "alice", costOf52)
			// The bucket regains a point a second: a slow machine may see one more.
			ts := a.cost.ThrottleStatus
			if a.status != http.StatusOK || len(a.body.Errors) > 0 || a.cost.RequestedQueryCost != 52 || ts == nil ||
				ts.MaximumAvailable != 160 || ts.RestoreRate != 1 || ts.CurrentlyAvailable < left || ts.CurrentlyAvailable > left+1 {
				t.Fatalf("%s: alice's query %d: %d %s, want data with %d points left", name, i+1, a.status, a.body.raw, left)
			}
		}
		before := up.total()
		a := send(t, api.URL, "alice", costOf52)
		if a.status != http.StatusTooManyRequests || a.retryAfter == "" || a.retryAfter == "0" || a.body.Data != nil ||
			len(a.body.Errors) != 1 || a.body.Errors[0].Extensions["code"] != CodeRateLimited || a.body.Errors[0].Extensions["retryAfter"] == nil {
			t.Errorf("%s: alice over her budget: %d Retry-After %q %s, want 429 RATE_LIMITED", name, a.status, a.retryAfter, a.body.raw)
		}
		if ts := a.cost.ThrottleStatus; ts == nil || ts.CurrentlyAvailable < 4 || ts.CurrentlyAvailable > 5 {
			t.Errorf("%s: refusal's cost %+v, want the bucket's 4 points", name, a.cost)
		}
		if n := up.total() - before; n != 0 {
			t.Errorf("%s: the refused query made %d upstream calls", name, n)
		}
		if b := send(t, api.URL, "bob", costOf52); b.status != http.StatusOK || len(b.body.Errors) > 0 {
			t.Errorf("%s: bob while alice is limited: %d %s", name, b.status, b.body.raw)
		}
	}
}

// TestCostInEveryAnswer: without a rate limit, answers still carry their estimated cost; a
// query refused for its cost says what it was estimated at.
func TestCostInEveryAnswer(t *testing.T) {
	up := newTestUpstream(t, func(w http.ResponseWriter, r *http.Request, id string) {
		w.Write(historyWithSibling(id, "x"))
	})
	api, _ := newTestAPIWith(t, up, 0, Options{Limits: Limits{Cost: 51}})
	a := send(t, api.URL, "alice", `{ contract(id: "1") { id } }`)
	if a.cost.RequestedQueryCost != 1 || a.cost.ThrottleStatus != nil || !strings.Contains(a.body.raw, `"cost":{"requestedQueryCost":1}`) {
		t.Errorf("answer %s, want extensions.cost.requestedQueryCost 1 and no throttle status", a.body.raw)
	}
	a = send(t, api.URL, "alice", costOf52)
	if a.cost.RequestedQueryCost != 52 || len(a.body.Errors) != 1 || a.body.Errors[0].Extensions["code"] != CodeQueryTooComplex {
		t.Errorf("refused answer %s, want QUERY_TOO_COMPLEX with its cost, 52", a.body.raw)
	}
}
