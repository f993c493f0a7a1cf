package graph

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/enneo-facade/facade/graph/live"
	"github.com/enneo-facade/facade/upstream"
	"github.com/enneo-facade/facade/upstream/cache"
)

// sse is one server-sent event.
type sse struct{ name, data string }

// subscribeSSE posts query accepting only server-sent events, and returns the events as they
// come, the status and a function that ends the stream.
func subscribeSSE(t *testing.T, api, token, query string) (<-chan sse, int, func()) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"query": query})
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, api, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	events := make(chan sse, 16)
	go func() {
		defer close(events)
		defer resp.Body.Close()
		lines := bufio.NewScanner(resp.Body)
		var e sse
		for lines.Scan() {
			switch line := lines.Text(); {
			case line == "":
				if e.name != "" {
					events <- e
				}
				e = sse{}
			case strings.HasPrefix(line, "event: "):
				e.name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				e.data = strings.TrimPrefix(line, "data: ")
			}
		}
	}()
	t.Cleanup(cancel)
	return events, resp.StatusCode, cancel
}

// next waits for the next event of events, failing after a while.
func next(t *testing.T, events <-chan sse) sse {
	t.Helper()
	select {
	case e, ok := <-events:
		if !ok {
			t.Fatal("the stream ended")
		}
		return e
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10 s")
	}
	return sse{}
}

// changingUpstream serves each contract's history with one ticket whose subject names the
// token that read it and the upstream's version, which the test moves on; it counts the calls
// per token and contract.
type changingUpstream struct {
	*testUpstream
	version atomic.Int64
	reads   map[string]*atomic.Int64 // "token contract" -> calls
}

func newChangingUpstream(t *testing.T) *changingUpstream {
	u := &changingUpstream{reads: map[string]*atomic.Int64{}}
	for _, k := range []string{"Bearer alice c1", "Bearer alice c2", "Bearer bob c1"} {
		u.reads[k] = &atomic.Int64{}
	}
	u.version.Store(1)
	u.testUpstream = newTestUpstream(t, func(w http.ResponseWriter, r *http.Request, id string) {
		if n := u.reads[r.Header.Get("Authorization")+" "+id]; n != nil {
			n.Add(1)
		}
		fmt.Fprintf(w, `{"tickets":[{"id":1,"contractId":%q,"subject":"%s v%d"}]}`, id, strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "), u.version.Load())
	})
	return u
}

// newLiveAPI serves the handler over an in-process cache whose invalidations reach a hub.
func newLiveAPI(t *testing.T, up *testUpstream, o live.Options, stopping ...<-chan struct{}) (*httptest.Server, *cache.Cache, *live.Hub) {
	t.Helper()
	client, err := upstream.New(upstream.Options{BaseURL: up.srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	var hub *live.Hub
	histories, err := cache.New(client, cache.NewMemoryStore(8<<20), cache.Options{Changed: func(id string) { hub.Changed(id) }})
	if err != nil {
		t.Fatal(err)
	}
	hub = live.New(histories, o)
	opts := Options{Invalidator: histories, Changes: histories, Live: hub}
	if len(stopping) > 0 {
		opts.Stopping = stopping[0]
	}
	api := httptest.NewServer(NewHandler(histories, NewAuthenticator("", []byte("test-secret")), opts, slog.New(slog.NewTextHandler(io.Discard, nil))))
	t.Cleanup(api.Close)
	return api, histories, hub
}

// watching waits until hub holds subs subscriptions.
func watching(t *testing.T, hub *live.Hub, subs int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		if n, _ := hub.Watched(); n == subs {
			return
		}
		if time.Now().After(deadline) {
			n, _ := hub.Watched()
			t.Fatalf("%d subscriptions after 10 s, want %d", n, subs)
		}
	}
}

const changedQuery = `subscription { contractChanged(ids: ["c1"]) { id history { tickets { subject } } } }`

// TestSubscriptionOverEventStream: subscribers of contractChanged get one event per change, with
// the new history in their own selection, read once for every subscriber of a scope and never
// across scopes; an invalidation that changes nothing sends nothing.
func TestSubscriptionOverEventStream(t *testing.T) {
	up := newChangingUpstream(t)
	api, histories, hub := newLiveAPI(t, up.testUpstream, live.Options{})
	a1, status, _ := subscribeSSE(t, api.URL, "alice", changedQuery)
	a2, _, _ := subscribeSSE(t, api.URL, "alice", changedQuery)
	b, _, _ := subscribeSSE(t, api.URL, "bob", changedQuery)
	if status != http.StatusOK {
		t.Fatalf("status %d", status)
	}
	watching(t, hub, 3)

	up.version.Store(2)
	if err := histories.Invalidate(context.Background(), "c1"); err != nil {
		t.Fatal(err)
	}
	for name, events := range map[string]<-chan sse{"alice": a1, "alice again": a2, "bob": b} {
		owner := strings.Fields(name)[0]
		e := next(t, events)
		want := fmt.Sprintf(`{"data":{"contractChanged":{"id":"c1","history":{"tickets":[{"subject":"%s v2"}]}}}`, owner)
		if e.name != "next" || !strings.HasPrefix(e.data, want) {
			t.Errorf("%s: %s %s, want %s", name, e.name, e.data, want)
		}
	}
	if n, m := up.reads["Bearer alice c1"].Load(), up.reads["Bearer bob c1"].Load(); n != 1 || m != 1 {
		t.Errorf("upstream reads after the change: alice %d, bob %d; want one each, for both of alice's subscribers", n, m)
	}

	// An invalidation with nothing new: no event; the next change comes next.
	if err := histories.Invalidate(context.Background(), "c1"); err != nil {
		t.Fatal(err)
	}
	up.version.Store(3)
	if err := histories.Invalidate(context.Background(), "c1"); err != nil {
		t.Fatal(err)
	}
	if e := next(t, a1); !strings.Contains(e.data, "alice v3") {
		t.Errorf("after an unchanged read and a change: %s, want v3", e.data)
	}
}

// TestSubscriptionRefusals: what a subscription may not be is said with a code, in the stream
// of a client that takes one, or with 406 for one that takes none.
func TestSubscriptionRefusals(t *testing.T) {
	up := newChangingUpstream(t)
	api, _, hub := newLiveAPI(t, up.testUpstream, live.Options{PerCaller: 1})
	ids := make([]string, 101)
	for i := range ids {
		ids[i] = fmt.Sprintf("%q", fmt.Sprint("c", i))
	}
	for _, tt := range []struct{ name, query, code string }{
		{"too many ids", `subscription { contractChanged(ids: [` + strings.Join(ids, ",") + `]) { id } }`, CodeBadUserInput},
		{"an invalid id", `subscription { contractChanged(ids: ["a/b"]) { id } }`, CodeBadUserInput},
	} {
		events, _, _ := subscribeSSE(t, api.URL, "alice", tt.query)
		if e := next(t, events); e.name != "next" || !strings.Contains(e.data, `"code":"`+tt.code+`"`) {
			t.Errorf("%s: %s %s, want %s", tt.name, e.name, e.data, tt.code)
		}
		if e := next(t, events); e.name != "complete" {
			t.Errorf("%s: then %s, want complete", tt.name, e.name)
		}
	}
	_, _, stop := subscribeSSE(t, api.URL, "alice", changedQuery)
	watching(t, hub, 1)
	second, _, _ := subscribeSSE(t, api.URL, "alice", changedQuery)
	if e := next(t, second); !strings.Contains(e.data, `"code":"`+CodeTooManySubs+`"`) {
		t.Errorf("a second subscription of one caller: %s, want %s", e.data, CodeTooManySubs)
	}
	stop()
	watching(t, hub, 0)

	// A client that takes no event stream.
	r := httpPost(t, api.URL, "alice", changedQuery, nil, nil)
	if r.status != http.StatusNotAcceptable || !strings.Contains(r.body, CodeNotAcceptable) {
		t.Errorf("over JSON: %d %s, want 406", r.status, r.body)
	}
}

// TestSubscriptionsEndWhenTheServerStops: when shutdown begins, streams end without complete,
// which graphql-sse's client and EventSource take as a reason to connect again (elsewhere),
// and the server need not wait for them.
func TestSubscriptionsEndWhenTheServerStops(t *testing.T) {
	stopping := make(chan struct{})
	api, _, hub := newLiveAPI(t, newChangingUpstream(t).testUpstream, live.Options{}, stopping)
	events, _, _ := subscribeSSE(t, api.URL, "alice", changedQuery)
	watching(t, hub, 1)
	close(stopping)
	select {
	case e, ok := <-events:
		if ok {
			t.Errorf("an event %s %s, want the stream to end without one", e.name, e.data)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the stream did not end within 10 s of the shutdown")
	}
	watching(t, hub, 0)
}

// TestSubscribersAreToldWhenChangesMayBeMissed: when the replica stops hearing invalidations,
// each subscriber gets one event without data, SUBSCRIPTION_DEGRADED, over both transports.
func TestSubscribersAreToldWhenChangesMayBeMissed(t *testing.T) {
	api, _, hub := newLiveAPI(t, newChangingUpstream(t).testUpstream, live.Options{})
	events, _, _ := subscribeSSE(t, api.URL, "alice", changedQuery)
	ws, _, err := dialWS(t, api.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	ws.init("alice")
	ws.send(map[string]any{"id": "s", "type": "subscribe", "payload": map[string]any{"query": changedQuery}})
	watching(t, hub, 2)
	hub.Hearing(false)
	if e := next(t, events); e.name != "next" || !strings.Contains(e.data, `"code":"`+CodeSubsDegraded+`"`) || strings.Contains(e.data, `"data"`) {
		t.Errorf("over SSE: %s %s, want the notice", e.name, e.data)
	}
	if m := ws.expect("next"); !strings.Contains(string(m.Payload), CodeSubsDegraded) {
		t.Errorf("over graphql-ws: %s, want the notice", m.Payload)
	}
}
