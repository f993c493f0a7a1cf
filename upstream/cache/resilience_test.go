package cache

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/enneo-facade/facade/upstream"
)

// TestBreakerOpensServesStaleAndRecovers: an upstream answering 503 opens the breaker; while it is
// open the upstream sees only probes, every call fails at once with upstream.ErrBreakerOpen, and the
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
	client, err := upstream.New(upstream.Options{BaseURL: up.URL, Resilience: upstream.Resilience{BreakerFailures: 3, BreakerCooldown: cooldown, Retries: -1},
		Observer: changes})
	if err != nil {
		t.Fatal(err)
	}
	cache, err := New(client, NewMemoryStore(1<<20), Options{TTL: time.Millisecond})
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
		if _, err := client.History(ctx, "t", fmt.Sprint("open-", made)); !errors.Is(err, upstream.ErrBreakerOpen) || !errors.Is(err, upstream.ErrUnavailable) {
			t.Fatalf("call %d while open: %v, want upstream.ErrBreakerOpen", made, err)
		}
	}
	if r := cache.Histories(ctx, alice, []string{"1"}, nil)[0]; r.Err != nil || r.Cache != upstream.CacheStale {
		t.Errorf("with the breaker open: %+v, want the stale history", r)
	}
	if n := calls.Load() - before; n != 0 && time.Since(opened) < cooldown {
		t.Errorf("the upstream saw %d calls while the breaker was open, want none", n)
	}
	t.Logf("%d calls while open, %d of them reached the upstream", made+1, calls.Load()-before)
	// Still sick: the probe fails and the breaker opens again.
	waitForProbe(t, client, cooldown)
	if _, err := client.History(ctx, "t", "probe-1"); err == nil || errors.Is(err, upstream.ErrBreakerOpen) {
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
	if r := cache.Histories(ctx, alice, []string{"1"}, nil)[0]; r.Err != nil || r.Cache != upstream.CacheMiss {
		t.Errorf("after recovery: %+v, want a fresh history", r)
	}
	t.Logf("fresh again %v after the upstream recovered (cool-down %v)", time.Since(recovered).Round(time.Millisecond), cooldown)
}

// waitForProbe waits until the breaker lets a probe through: its cool-down is a wait on the
// clock, which no event announces.
func waitForProbe(t *testing.T, c *upstream.Client, cooldown time.Duration) {
	t.Helper()
	deadline := time.Now().Add(10 * cooldown)
	for c.BreakerState() == "open" {
		if time.Now().After(deadline) {
			t.Fatalf("the breaker stayed open for %v", 10*cooldown)
		}
		time.Sleep(cooldown / 10)
	}
}

// breakerChanges is an upstream.Observer that passes on the breaker's new states.
type breakerChanges struct{ to chan string }

func (b *breakerChanges) BreakerChanged(_, to string)     { b.to <- to }
func (b *breakerChanges) UpstreamCall(int, time.Duration) {}
func (b *breakerChanges) UpstreamRetry()                  {}
