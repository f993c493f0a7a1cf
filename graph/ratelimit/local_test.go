package ratelimit

import (
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeClock is a clock for the per-process buckets that moves only when told.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Unix(1_700_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// newTestMemory returns a per-process Limiter on a fake clock.
func newTestMemory(l Limit, maxKeys int) (*Limiter, *fakeClock) {
	clock := newFakeClock()
	return newLimiter(nil, "", l, maxKeys, nil, config{now: clock.Now}), clock
}

func TestMemoryBucket(t *testing.T) {
	lim, clock := newTestMemory(Limit{Burst: 10, PerSecond: 2}, 100)
	steps := []struct {
		advance time.Duration
		key     string
		cost    int64
		want    Decision
	}{
		{0, "a", 4, Decision{Allowed: true, Remaining: 6, Local: true}},
		{0, "a", 6, Decision{Allowed: true, Remaining: 0, Local: true}},
		{0, "a", 3, Decision{Remaining: 0, RetryAfter: 1500 * time.Millisecond, Local: true}}, // 3 missing at 2/s
		{0, "b", 10, Decision{Allowed: true, Remaining: 0, Local: true}},                      // keys are independent
		{time.Second, "a", 3, Decision{Remaining: 2, RetryAfter: 500 * time.Millisecond, Local: true}},
		{500 * time.Millisecond, "a", 3, Decision{Allowed: true, Remaining: 0, Local: true}},
		{0, "b", 4, Decision{Remaining: 3, RetryAfter: 500 * time.Millisecond, Local: true}}, // b refilled too
		{0, "a", 0, Decision{Allowed: true, Remaining: 0, Local: true}},
		{0, "a", -5, Decision{Allowed: true, Remaining: 0, Local: true}}, // takes nothing
		{400 * time.Millisecond, "a", 1, Decision{Remaining: 0, RetryAfter: 100 * time.Millisecond, Local: true}},
		{10 * time.Second, "a", 11, Decision{RetryAfter: 5 * time.Second}}, // costlier than Burst: guard
		{0, "a", 10, Decision{Allowed: true, Remaining: 0, Local: true}},   // the guard took nothing
	}
	for i, s := range steps {
		clock.Advance(s.advance)
		if got := lim.Take(t.Context(), s.key, s.cost); got != s.want {
			t.Errorf("step %d: Take(%q, %d) = %+v, want %+v", i, s.key, s.cost, got, s.want)
		}
	}
	if got := lim.Status(); got != "local" {
		t.Errorf("Status() = %q, want local", got)
	}
	if got, want := lim.Limit(), (Limit{Burst: 10, PerSecond: 2}); got != want {
		t.Errorf("Limit() = %+v, want %+v", got, want)
	}
}

func TestMemoryForgetsLeastRecentlyUsed(t *testing.T) {
	lim, _ := newTestMemory(Limit{Burst: 1, PerSecond: 1}, 2)
	// The clock never moves: a bucket is full only when it is new, or forgotten and new again.
	steps := []struct {
		key  string
		want bool
	}{
		{"a", true},
		{"b", true},
		{"a", false}, // remembered: empty; and now more recent than b
		{"c", true},  // a third key: b, the least recently used, is forgotten
		{"a", false}, // still remembered
		{"b", true},  // forgotten, so full again; c goes
		{"a", false},
		{"c", true},
	}
	for i, s := range steps {
		if got := lim.Take(t.Context(), s.key, 1).Allowed; got != s.want {
			t.Errorf("step %d: Take(%q).Allowed = %v, want %v", i, s.key, got, s.want)
		}
		if n := lim.local.size(); n > 2 {
			t.Errorf("step %d: %d buckets held, want at most 2", i, n)
		}
	}
}

func TestMemoryConcurrentTakes(t *testing.T) {
	const burst, takers = 100, 250
	lim, _ := newTestMemory(Limit{Burst: burst, PerSecond: 1}, 10)
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for range takers {
		wg.Go(func() {
			if lim.Take(t.Context(), "k", 1).Allowed {
				allowed.Add(1)
			}
		})
	}
	wg.Wait()
	// The clock stands still, so exactly the burst fits.
	if got := allowed.Load(); got != burst {
		t.Errorf("%d concurrent takes of 1 allowed %d, want %d", takers, got, burst)
	}
}

func TestInvalidConfig(t *testing.T) {
	tests := []struct {
		name    string
		limit   Limit
		maxKeys int
		want    string // in the panic and, for a bad limit, in Validate's error
	}{
		{"zero burst", Limit{Burst: 0, PerSecond: 1}, 10, "burst 0"},
		{"negative rate", Limit{Burst: 1, PerSecond: -1}, 10, "per second -1"},
		{"no keys", Limit{Burst: 1, PerSecond: 1}, 0, "maxKeys 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.limit.Validate(); tt.maxKeys > 0 && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Errorf("Validate() = %v, want an error with %q", err, tt.want)
			}
			defer func() {
				r := recover()
				if s, _ := r.(string); !strings.Contains(s, tt.want) {
					t.Errorf("NewMemory(%+v, %d) panicked with %v, want a panic with %q", tt.limit, tt.maxKeys, r, tt.want)
				}
			}()
			NewMemory(tt.limit, tt.maxKeys)
		})
	}
	if err := (Limit{Burst: 1, PerSecond: 1}).Validate(); err != nil {
		t.Errorf("Validate() of a valid limit = %v", err)
	}
	if got := NewRedis(nil, "p:", Limit{Burst: 1, PerSecond: 1}, 1, nil).Status(); got != "local" {
		t.Errorf("NewRedis(nil, ...).Status() = %q, want local", got)
	}
}
