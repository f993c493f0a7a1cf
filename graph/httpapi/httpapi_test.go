package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/enneo-facade/facade/graph"
)

// fakeUpstream is the upstream as /readyz sees it.
type fakeUpstream struct{ err error }

func (u fakeUpstream) Ping(context.Context) error { return u.err }
func (fakeUpstream) BreakerState() string         { return "closed" }

// invalidations records what the webhook invalidates, or fails with err.
type invalidations struct {
	mu  sync.Mutex
	ids []string
	err error
}

func (i *invalidations) Invalidate(_ context.Context, id string) error {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.err != nil {
		return i.err
	}
	i.ids = append(i.ids, id)
	return nil
}

// newTestHandler is NewHandler with o, a GraphQL endpoint that answers {"data":{}} and names
// its operation in the request's info as the GraphQL layer does, and logs into lines.
func newTestHandler(t *testing.T, o Options, inv graph.Invalidator, up Pinger, lines io.Writer) http.Handler {
	t.Helper()
	gql := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, ok := w.(graph.InfoCarrier); ok {
			c.RequestInfo().Operation, c.RequestInfo().UpstreamCalls = "Named", 2
		}
		w.Header().Set("Content-Type", "application/json")
		io.Copy(io.Discard, r.Body)
		w.Write([]byte(`{"data":{}}`))
	})
	if lines == nil {
		lines = io.Discard
	}
	return NewHandler(o, Parts{
		GraphQL: gql, Auth: graph.NewAuthenticator("", []byte("k")), Invalidator: inv, Upstream: up,
		Status:  map[string]func() string{"cache": func() string { return "memory" }},
		Metrics: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("# metrics\n")) }),
		Log:     slog.New(slog.NewJSONHandler(io.Discard, nil)), Lines: lines, // info: request lines on
	})
}

// newTestHandlerWith is NewHandler with o and gql as its GraphQL endpoint.
func newTestHandlerWith(t *testing.T, o Options, gql http.Handler) http.Handler {
	t.Helper()
	return NewHandler(o, Parts{
		GraphQL: gql, Auth: graph.NewAuthenticator("", []byte("k")), Invalidator: &invalidations{}, Upstream: fakeUpstream{},
		Log: slog.New(slog.DiscardHandler), Lines: io.Discard,
	})
}

func serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// TestCORS: browsers on allowed origins may call /graphql with an Authorization header; the
// answers vary by Origin and never allow credentials (cookies). Without origins no CORS header
// is sent at all. (Which origins a configuration allows: TestCORSOriginsByMode.)
func TestCORS(t *testing.T) {
	for _, tt := range []struct {
		name, origin, want string // want: Access-Control-Allow-Origin, "" for none
		origins            []string
	}{
		{"any origin", "https://anywhere.example", "*", []string{"*"}},
		{"none", "https://desk.example.com", "", nil},
		{"a listed origin", "https://desk.example.com", "https://desk.example.com", []string{"https://desk.example.com", "https://bi.example.com"}},
		{"an origin not listed", "https://evil.example", "", []string{"https://desk.example.com"}},
	} {
		h := newTestHandler(t, Options{CORSOrigins: tt.origins, MaxRequestBytes: 1 << 20}, nil, fakeUpstream{}, nil)
		pre := httptest.NewRequest(http.MethodOptions, "/graphql", nil)
		pre.Header.Set("Origin", tt.origin)
		pre.Header.Set("Access-Control-Request-Method", "POST")
		pre.Header.Set("Access-Control-Request-Headers", "authorization, content-type")
		resp := serve(h, pre)
		if got := resp.Header().Get("Access-Control-Allow-Origin"); got != tt.want {
			t.Errorf("%s: preflight Access-Control-Allow-Origin %q, want %q", tt.name, got, tt.want)
		}
		if tt.want != "" {
			hd := resp.Header()
			if resp.Code != http.StatusNoContent || !strings.Contains(strings.ToLower(hd.Get("Access-Control-Allow-Headers")), "authorization") ||
				!strings.Contains(hd.Get("Access-Control-Allow-Methods"), "POST") {
				t.Errorf("%s: preflight %d %v, want 204 allowing POST with Authorization", tt.name, resp.Code, hd)
			}
		}
		req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(`{"query":"{ __typename }"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Origin", tt.origin)
		resp = serve(h, req)
		hd := resp.Header()
		if got := hd.Get("Access-Control-Allow-Origin"); got != tt.want || resp.Code != http.StatusOK {
			t.Errorf("%s: POST %d, Access-Control-Allow-Origin %q, want %q", tt.name, resp.Code, got, tt.want)
		}
		if tt.want != "" && !strings.Contains(strings.Join(hd.Values("Vary"), ","), "Origin") {
			t.Errorf("%s: POST Vary %v, want Origin", tt.name, hd.Values("Vary"))
		}
		if hd.Get("Access-Control-Allow-Credentials") != "" {
			t.Errorf("%s: credentials allowed", tt.name)
		}
	}
}

// TestWebhook: Enneo's webhook invalidates the contract it names, with its secret only; a bad
// body or id is 400, and a cache it cannot reach 503, so that Enneo tries again. A number works
// as contractId too, as older Enneo docs send it.
func TestWebhook(t *testing.T) {
	inv := &invalidations{}
	h := newTestHandler(t, Options{WebhookSecret: "hook-secret"}, inv, fakeUpstream{}, nil)
	hook := func(secret, body string) int {
		req := httptest.NewRequest(http.MethodPost, "/webhooks/enneo", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+secret)
		return serve(h, req).Code
	}
	for _, tt := range []struct {
		secret, body string
		status       int
	}{
		{"wrong", `{"event":"TicketUpdated","contractId":"X","ticketId":123}`, http.StatusUnauthorized},
		{"hook-secret", `{"event":"TicketUpdated","contractId":"../x"}`, http.StatusBadRequest},
		{"hook-secret", `not json`, http.StatusBadRequest},
		{"hook-secret", `{"event":"TicketUpdated","contractId":"X","ticketId":123}`, http.StatusOK},
		{"hook-secret", `{"event":"TicketCreated","contractId":746839}`, http.StatusOK},
	} {
		if got := hook(tt.secret, tt.body); got != tt.status {
			t.Errorf("webhook %s with %q: %d, want %d", tt.body, tt.secret, got, tt.status)
		}
	}
	if strings.Join(inv.ids, ",") != "X,746839" {
		t.Errorf("invalidated %v, want X and 746839 only", inv.ids)
	}
	inv.err = errors.New("redis: i/o timeout")
	if got := hook("hook-secret", `{"event":"TicketUpdated","contractId":"X"}`); got != http.StatusServiceUnavailable {
		t.Errorf("webhook with the cache unreachable: %d, want 503 so that Enneo retries", got)
	}
	off := newTestHandler(t, Options{}, inv, fakeUpstream{}, nil)
	if got := serve(off, httptest.NewRequest(http.MethodPost, "/webhooks/enneo", strings.NewReader(`{}`))).Code; got != http.StatusNotFound {
		t.Errorf("webhook without a secret: %d, want 404 (off)", got)
	}
}

// TestProbes: /healthz says the process is alive; /readyz is ready whatever the upstream and
// the cache are, and says what they are.
func TestProbes(t *testing.T) {
	for _, up := range []fakeUpstream{{}, {err: errors.New("dial tcp: connection refused")}} {
		probed := 0
		h := NewHandler(Options{}, Parts{
			GraphQL: http.NotFoundHandler(), Auth: graph.NewAuthenticator("", []byte("k")), Upstream: up,
			Status: map[string]func() string{"cache": func() string { return "degraded" }},
			Probes: []func(context.Context){func(context.Context) { probed++ }},
			Log:    slog.New(slog.DiscardHandler), Lines: io.Discard,
		})
		if resp := serve(h, httptest.NewRequest(http.MethodGet, "/healthz", nil)); resp.Code != http.StatusOK || !strings.Contains(resp.Body.String(), `"ok"`) {
			t.Errorf("/healthz = %d %s", resp.Code, resp.Body)
		}
		resp := serve(h, httptest.NewRequest(http.MethodGet, "/readyz", nil))
		var ready map[string]string
		json.Unmarshal(resp.Body.Bytes(), &ready)
		want := "reachable"
		if up.err != nil {
			want = "unreachable"
		}
		if resp.Code != http.StatusOK || ready["status"] != "ready" || ready["upstream"] != want || ready["cache"] != "degraded" || probed != 1 {
			t.Errorf("/readyz = %d %v (probed %d), want ready, upstream %s, the cache degraded, probed once", resp.Code, ready, probed, want)
		}
	}
}

// TestIndex: / serves the playground where it is on, and otherwise says how to turn it on,
// rather than a bare 404; /metrics is served here unless it listens aside.
func TestIndex(t *testing.T) {
	on := newTestHandler(t, Options{Playground: true, DemoToken: "demo-token", Metrics: true}, nil, fakeUpstream{}, nil)
	resp := serve(on, httptest.NewRequest(http.MethodGet, "/", nil))
	if resp.Code != http.StatusOK || !strings.HasPrefix(resp.Header().Get("Content-Type"), "text/html") ||
		!strings.Contains(resp.Body.String(), "demo-token") || !strings.Contains(resp.Body.String(), "746839") {
		t.Errorf("GET / with the playground: %d %s, want the page with the demo token and the example query", resp.Code, resp.Header().Get("Content-Type"))
	}
	if resp := serve(on, httptest.NewRequest(http.MethodGet, "/metrics", nil)); resp.Code != http.StatusOK {
		t.Errorf("/metrics: %d", resp.Code)
	}
	off := newTestHandler(t, Options{}, nil, fakeUpstream{}, nil)
	resp = serve(off, httptest.NewRequest(http.MethodGet, "/", nil))
	if resp.Code != http.StatusOK || resp.Header().Get("Content-Type") != "application/json" || !strings.Contains(resp.Body.String(), "PLAYGROUND=true") {
		t.Errorf("GET / without the playground: %d %s %s, want JSON saying how to turn it on", resp.Code, resp.Header().Get("Content-Type"), resp.Body)
	}
	if resp := serve(off, httptest.NewRequest(http.MethodGet, "/metrics", nil)); resp.Code != http.StatusNotFound {
		t.Errorf("/metrics listening aside: %d here, want 404", resp.Code)
	}
}

// TestBodyLimit: a body over MaxRequestBytes by its Content-Length is refused before it is read.
func TestBodyLimit(t *testing.T) {
	h := newTestHandler(t, Options{MaxRequestBytes: 100}, nil, fakeUpstream{}, nil)
	resp := serve(h, httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(make([]byte, 101))))
	if resp.Code != http.StatusRequestEntityTooLarge || !strings.Contains(resp.Body.String(), graph.CodeRequestTooLarge) {
		t.Errorf("101 bytes over 100: %d %s, want 413 %s", resp.Code, resp.Body, graph.CodeRequestTooLarge)
	}
}

// TestAccessLog: one line per request, in the order of members a slog JSON line has, with its
// id (kept when well-formed, else new, echoed either way) and what the GraphQL layer said of it.
func TestAccessLog(t *testing.T) {
	var lines bytes.Buffer
	h := newTestHandler(t, Options{MaxRequestBytes: 1 << 20}, nil, fakeUpstream{}, &lines)
	var echoed []string
	for _, id := range []string{"req-1f3a", "bad id\"}"} {
		req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(`{"query":"{ __typename }"}`))
		req.Header.Set("X-Request-Id", id)
		echoed = append(echoed, serve(h, req).Header().Get("X-Request-Id"))
	}
	if echoed[0] != "req-1f3a" || len(echoed[1]) != 32 || strings.Contains(echoed[1], " ") {
		t.Errorf("X-Request-Id echoed %q, want the first kept and a new one for the malformed second", echoed)
	}
	got := strings.Split(strings.TrimSpace(lines.String()), "\n")
	if len(got) != 2 {
		t.Fatalf("%d lines for 2 requests:\n%s", len(got), lines.String())
	}
	var l struct {
		Level, Msg, RequestID, Method, Path, Operation string
		Status, UpstreamCalls                          int
		Duration                                       int64
	}
	if err := json.Unmarshal([]byte(got[0]), &l); err != nil {
		t.Fatal(err)
	}
	if l.Level != "INFO" || l.Msg != "request" || l.RequestID != "req-1f3a" || l.Method != "POST" || l.Path != "/graphql" ||
		l.Status != 200 || l.Duration <= 0 || l.Operation != "Named" || l.UpstreamCalls != 2 {
		t.Errorf("logged %+v", l)
	}
}
