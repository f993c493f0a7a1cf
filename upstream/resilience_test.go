package upstream

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/enneo-facade/facade/upstream/demo"
)

// TestBreakerOpensServesStaleAndRecovers: an upstream answering 503 opens the breaker; while it is
// open the upstream sees only probes, every call fails at once with ErrBreakerOpen, and the
// cache serves what it has, marked stale; once the upstream recovers, a probe closes it and
// answers are fresh again.
func TestBreakerOpensServesStaleAndRecovers(t *testing.T) {
	var sick atomic.Bool
	var calls atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if sick.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte(`{"tickets":[{"id":1,"subject":"s"}]}`))
	}))
	t.Cleanup(up.Close)
	changes := &breakerChanges{to: make(chan string, 16)}
	const cooldown = 300 * time.Millisecond
	client, err := New(Options{BaseURL: up.URL, Resilience: Resilience{BreakerFailures: 3, BreakerCooldown: cooldown, Retries: -1},
		Observer: changes})
	if err != nil {
		t.Fatal(err)
	}
	cache, err := NewCache(client, NewMemoryStore(1<<20), CacheOptions{TTL: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if r := cache.Histories(ctx, alice, []string{"1"}, nil)[0]; r.Err != nil {
		t.Fatal(r.Err)
	}
	cache.Flush()
	sick.Store(true)
	for i := 0; client.BreakerState() != "open"; i++ {
		if i == 10 {
			t.Fatalf("the breaker is %s after %d failed calls", client.BreakerState(), i)
		}
		client.History(ctx, "t", fmt.Sprint("sick-", i))
	}
	if to := <-changes.to; to != "open" {
		t.Fatalf("the breaker went %v, want open", to)
	}
	// Calls made well within the cool-down, however slow the machine.
	opened, before, made := time.Now(), calls.Load(), 0
	for ; made < 50 && time.Since(opened) < cooldown/2; made++ {
		if _, err := client.History(ctx, "t", fmt.Sprint("open-", made)); !errors.Is(err, ErrBreakerOpen) || !errors.Is(err, ErrUnavailable) {
			t.Fatalf("call %d while open: %v, want ErrBreakerOpen", made, err)
		}
	}
	if r := cache.Histories(ctx, alice, []string{"1"}, nil)[0]; r.Err != nil || r.Cache != CacheStale {
		t.Errorf("with the breaker open: %+v, want the stale history", r)
	}
	if n := calls.Load() - before; n != 0 && time.Since(opened) < cooldown {
		t.Errorf("the upstream saw %d calls while the breaker was open, want none", n)
	}
	t.Logf("%d calls while open, %d of them reached the upstream", made+1, calls.Load()-before)
	// Still sick: the probe fails and the breaker opens again.
	waitForProbe(t, client, cooldown)
	if _, err := client.History(ctx, "t", "probe-1"); err == nil || errors.Is(err, ErrBreakerOpen) {
		t.Errorf("the probe: %v, want the upstream's 503", err)
	}
	if s := client.BreakerState(); s != "open" {
		t.Errorf("after a failed probe the breaker is %s, want open", s)
	}
	// Recovered: the next probe closes it.
	sick.Store(false)
	recovered := time.Now()
	waitForProbe(t, client, cooldown)
	if _, err := client.History(ctx, "t", "probe-2"); err != nil {
		t.Errorf("the probe after recovery: %v", err)
	}
	if s := client.BreakerState(); s != "closed" {
		t.Errorf("after a good probe the breaker is %s, want closed", s)
	}
	if r := cache.Histories(ctx, alice, []string{"1"}, nil)[0]; r.Err != nil || r.Cache != CacheMiss {
		t.Errorf("after recovery: %+v, want a fresh history", r)
	}
	t.Logf("fresh again %v after the upstream recovered (cool-down %v)", time.Since(recovered).Round(time.Millisecond), cooldown)
}

// waitForProbe waits until the breaker lets a probe through: its cool-down is a wait on the
// clock, which no event announces.
func waitForProbe(t *testing.T, c *Client, cooldown time.Duration) {
	t.Helper()
	deadline := time.Now().Add(10 * cooldown)
	for c.BreakerState() == "open" {
		if time.Now().After(deadline) {
			t.Fatalf("the breaker stayed open for %v", 10*cooldown)
		}
		time.Sleep(cooldown / 10)
	}
}

// TestBreakerIgnoresClientErrorsAndCancellations: 4xx answers and callers that give up do not
// count against the upstream.
func TestBreakerIgnoresClientErrorsAndCancellations(t *testing.T) {
	c, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/mind/contract/slow/history" {
			<-r.Context().Done()
			return
		}
		w.WriteHeader(http.StatusNotFound)
	}, Options{Resilience: Resilience{BreakerFailures: 2}})
	for i := range 5 {
		c.History(context.Background(), "t", fmt.Sprint(i))
		ctx, cancel := context.WithCancel(context.Background())
		go cancel()
		c.History(ctx, "t", "slow")
	}
	if s := c.BreakerState(); s != "closed" {
		t.Errorf("after 404s and cancelled calls the breaker is %s, want closed", s)
	}
}

// TestSlowUpstreamCostsTheDeadline: an upstream slower than the caller's deadline costs it the
// deadline, once: timeouts are not retried.
func TestSlowUpstreamCostsTheDeadline(t *testing.T) {
	c, calls := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(5 * time.Second):
		case <-r.Context().Done():
		}
	}, Options{Timeout: time.Minute})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.History(ctx, "t", "1")
	if took := time.Since(start); !errors.Is(err, ErrTimeout) || took > 2*time.Second {
		t.Errorf("History = %v after %v, want ErrTimeout at the 200ms deadline", err, took)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("%d calls, want 1 (timeouts are not retried)", n)
	}
}

// TestRetryAfter: a 429 whose Retry-After fits the deadline is waited for and retried; one that
// does not fails at once, with its Retry-After, and without another call.
func TestRetryAfter(t *testing.T) {
	for _, tt := range []struct {
		retryAfter string
		calls      int64
		wantErr    bool
	}{
		{"1", 2, false},
		{"30", 1, true},
	} {
		var n atomic.Int64
		c, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
			if n.Add(1) == 1 {
				w.Header().Set("Retry-After", tt.retryAfter)
				w.WriteHeader(http.StatusTooManyRequests)
				return
			}
			serve(demo.ExampleHistory())(w, r)
		}, Options{})
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		start := time.Now()
		_, err := c.History(ctx, "t", "1")
		took := time.Since(start)
		cancel()
		var se *StatusError
		switch {
		case tt.wantErr && (!errors.As(err, &se) || se.Status != 429 || se.RetryAfter != 30*time.Second || took > time.Second):
			t.Errorf("Retry-After %s: %v after %v, want the 429 with its Retry-After at once", tt.retryAfter, err, took)
		case !tt.wantErr && (err != nil || took < time.Second):
			t.Errorf("Retry-After %s: %v after %v, want the history after waiting a second", tt.retryAfter, err, took)
		}
		if got := n.Load(); got != tt.calls {
			t.Errorf("Retry-After %s: %d calls, want %d", tt.retryAfter, got, tt.calls)
		}
	}
}

// TestRetriesAfterResetsAndGatewayErrors: a connection reset in the middle of a body, and a 502,
// are retried, with backoff, and the call succeeds once the upstream does; a 500 is not.
func TestRetriesAfterResetsAndGatewayErrors(t *testing.T) {
	for _, tt := range []struct {
		name  string
		fail  func(w http.ResponseWriter)
		calls int64
		ok    bool
	}{
		{"reset mid-body", resetMidBody, 3, true},
		{"502", func(w http.ResponseWriter) { w.WriteHeader(http.StatusBadGateway) }, 3, true},
		{"500", func(w http.ResponseWriter) { w.WriteHeader(http.StatusInternalServerError) }, 1, false},
	} {
		var n atomic.Int64
		c, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
			if n.Add(1) < 3 {
				tt.fail(w)
				return
			}
			serve(demo.ExampleHistory())(w, r)
		}, Options{})
		_, err := c.History(context.Background(), "t", "1")
		if (err == nil) != tt.ok || n.Load() != tt.calls {
			t.Errorf("%s: %v after %d calls, want ok %v after %d", tt.name, err, n.Load(), tt.ok, tt.calls)
		}
	}
	// Reset every time: the retries are spent, and the caller learns the upstream is unreachable.
	c, calls := newTestClient(t, func(w http.ResponseWriter, r *http.Request) { resetMidBody(w) }, Options{})
	if _, err := c.History(context.Background(), "t", "1"); !errors.Is(err, ErrUnavailable) && !errors.Is(err, ErrBadResponse) || calls.Load() != 3 {
		t.Errorf("always reset: %v after %d calls, want ErrUnavailable after 3", err, calls.Load())
	}
}

// resetMidBody announces a long body, sends a little of it, and resets the connection.
func resetMidBody(w http.ResponseWriter) {
	conn, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(err)
	}
	buf.WriteString("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{\"tickets\":[")
	buf.Flush()
	conn.(*net.TCPConn).SetLinger(0) // a reset, not a close
	conn.Close()
}

// TestCallsInFlightAreBounded: 1,000 concurrent callers, each fetching contracts of its own in
// batches, never have more calls in flight than MaxInFlight.
func TestCallsInFlightAreBounded(t *testing.T) {
	var inFlight, peak atomic.Int64
	c, calls := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for m := peak.Load(); n > m && !peak.CompareAndSwap(m, n); m = peak.Load() {
		}
		time.Sleep(time.Millisecond) // long enough for calls to overlap
		w.Write([]byte(`{"tickets":[]}`))
	}, Options{Resilience: Resilience{MaxInFlight: 8}})
	var wg sync.WaitGroup
	for i := range 1000 {
		wg.Go(func() {
			for j, r := range c.Histories(context.Background(), Credential{Token: "t"}, []string{fmt.Sprint(i, "-a"), fmt.Sprint(i, "-b")}, nil) {
				if r.Err != nil {
					t.Errorf("caller %d, contract %d: %v", i, j, r.Err)
				}
			}
		})
	}
	wg.Wait()
	if p, n := peak.Load(), calls.Load(); p > 8 || n != 2000 {
		t.Errorf("%d calls, at most %d in flight; want 2000, at most 8", n, p)
	}
	t.Logf("%d calls, at most %d in flight", calls.Load(), peak.Load())
}

// breakerChanges is an Observer that passes on the breaker's new states.
type breakerChanges struct {
	nop
	to chan string
}

func (b *breakerChanges) BreakerChanged(_, to string) { b.to <- to }
