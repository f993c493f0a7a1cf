package upstream

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/enneo-facade/facade/upstream/demo"
)

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
