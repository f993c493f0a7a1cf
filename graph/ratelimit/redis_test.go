package ratelimit

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/enneo-facade/facade/upstream/redisstore"
	"github.com/enneo-facade/facade/upstream/redisstore/redistest"
)

// Timeouts for test clients: patient ones for tests of what is shared, where a 150ms read timing
// out on a loaded CI machine would turn a shared decision into a local one; short ones, like
// production's, for tests of a hung Redis, so that each failing call costs a fraction of a second.
const (
	patient = 5 * time.Second
	short   = 150 * time.Millisecond
)

// newTestClient returns a client for url under the facade's policy (redisstore.ApplyPolicy: no
// retries, one dial attempt, the caller's deadline honoured, no extra handshake round trips),
// with ioTimeout for reads and writes, closed when t ends.
func newTestClient(t *testing.T, url string, ioTimeout time.Duration) *redis.Client {
	t.Helper()
	o, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("redis.ParseURL: %v", err)
	}
	redisstore.ApplyPolicy(o, 250*time.Millisecond, ioTimeout)
	c := redis.NewClient(o)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// deleteBuckets deletes the buckets under prefix when t ends: redis_rate's "rate:" in front keeps
// them out of redistest.Prefix's own clean-up.
func deleteBuckets(t *testing.T, c *redis.Client, prefix string) {
	t.Helper()
	t.Cleanup(func() {
		ctx := context.Background()
		iter := c.Scan(ctx, 0, "rate:"+prefix+"*", 100).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
		if err := iter.Err(); err != nil {
			t.Logf("deleting buckets under %q: %v", prefix, err)
		}
	})
}

// syncBuffer is a log sink that the limiter and the test may share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// commands is a go-redis hook that counts the commands a client is asked to send, whether or
// not they reach Redis: a dial happens inside the hook, so a refused or hung connection counts.
type commands struct{ n atomic.Int64 }

func (c *commands) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *commands) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.n.Add(1)
		return next(ctx, cmd)
	}
}

func (c *commands) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.n.Add(int64(len(cmds)))
		return next(ctx, cmds)
	}
}

func TestRedisShared(t *testing.T) {
	url, prefix := redistest.Start(t), redistest.Prefix(t)
	c1, c2 := newTestClient(t, url, patient), newTestClient(t, url, patient)
	deleteBuckets(t, c1, prefix)
	limit := Limit{Burst: 1000, PerSecond: 1}
	a := NewRedis(c1, prefix, limit, 10, nil)
	b := NewRedis(c2, prefix, limit, 10, nil)
	ctx := t.Context()

	// Redis refills in real time, so a bucket may have gained a point or so between two takes:
	// lo is what is left if no time passed, hi is below what a bucket of one's own would leave
	// (or, for a refusal, below the cost).
	steps := []struct {
		who     string
		lim     *Limiter
		key     string
		cost    int64
		allowed bool
		lo, hi  int64
	}{
		{"a", a, "k", 600, true, 400, 400},
		{"b", b, "k", 300, true, 100, 699}, // b sees a's take
		{"b", b, "other", 300, true, 700, 700},
		{"a", a, "k", 200, false, 100, 199}, // a sees b's take: alone it would have 400
		{"b", b, "k", 200, false, 100, 199},
		{"a", a, "other", 700, true, 0, 299}, // another key is another bucket, shared too
	}
	for i, s := range steps {
		d := s.lim.Take(ctx, s.key, s.cost)
		if d.Allowed != s.allowed || d.Remaining < s.lo || d.Remaining > s.hi || d.Local {
			t.Errorf("step %d: %s.Take(%q, %d) = %+v, want Allowed %v, Remaining in [%d, %d], Local false",
				i, s.who, s.key, s.cost, d, s.allowed, s.lo, s.hi)
		}
		// A refusal's RetryAfter is the time the missing points take at 1 a second, rounded up
		// to the millisecond.
		missing := time.Duration(s.cost-d.Remaining) * time.Second
		if !s.allowed && (d.RetryAfter <= 0 || d.RetryAfter > missing+time.Millisecond) {
			t.Errorf("step %d: %s.Take(%q, %d).RetryAfter = %v, want in (0, %v]", i, s.who, s.key, s.cost, d.RetryAfter, missing)
		}
		if s.allowed && d.RetryAfter != 0 {
			t.Errorf("step %d: %s.Take(%q, %d).RetryAfter = %v, want 0 when allowed", i, s.who, s.key, s.cost, d.RetryAfter)
		}
	}
	for _, key := range []string{"k", "other"} {
		if n, err := c1.Exists(ctx, "rate:"+prefix+"rl:"+key).Result(); err != nil || n != 1 {
			t.Errorf("Exists(rate:<prefix>rl:%s) = %d, %v; want 1, nil", key, n, err)
		}
	}
	if d := a.Take(ctx, "k", 0); !d.Allowed || d.Local {
		t.Errorf("a.Take(k, 0) = %+v, want allowed and shared", d)
	}
	if d := a.Take(ctx, "k", 1001); d.Allowed || d.RetryAfter != 1000*time.Second {
		t.Errorf("a.Take(k, 1001) = %+v, want refused with RetryAfter 1000s", d)
	}
	for _, lim := range []*Limiter{a, b} {
		if got := lim.Status(); got != "shared" {
			t.Errorf("Status() = %q, want shared", got)
		}
	}
}

// troubles are the two ways Redis fails: it hangs (every call waits for the read timeout) or it
// is down (every call is refused at once).
var troubles = []struct {
	name string
	url  func(t *testing.T) string
}{
	{"hung", func(t *testing.T) string { return redistest.Blackhole(t) }},
	{"down", func(t *testing.T) string {
		url, stop, _ := redistest.StartServer(t)
		stop()
		return url
	}},
}

func TestRedisTroubleFallsBackToLocalBuckets(t *testing.T) {
	for _, tt := range troubles {
		t.Run(tt.name, func(t *testing.T) {
			t.Cleanup(redistest.NoLeakedGoroutines(t)) // runs last: clean-ups run in reverse order
			c := newTestClient(t, tt.url(t), short)
			sent := &commands{}
			c.AddHook(sent)
			var log syncBuffer
			clock := newFakeClock()
			// The breaker stays open far longer than the test: no probe may reach Redis.
			lim := newLimiter(c, "p:", Limit{Burst: 10, PerSecond: 1}, 10, slog.New(slog.NewTextHandler(&log, nil)),
				config{openFor: time.Hour, now: clock.Now})
			ctx := t.Context()

			// The first failures go to Redis, and the local bucket answers each of them; it
			// persists from one take to the next.
			steps := []struct {
				cost int64
				want Decision
			}{
				{4, Decision{Allowed: true, Remaining: 6, Local: true}},
				{4, Decision{Allowed: true, Remaining: 2, Local: true}},
				{4, Decision{Remaining: 2, RetryAfter: 2 * time.Second, Local: true}},
			}
			for i, s := range steps {
				if got := lim.Take(ctx, "k", s.cost); got != s.want {
					t.Errorf("step %d: Take(k, %d) = %+v, want %+v", i, s.cost, got, s.want)
				}
			}
			if got := sent.n.Load(); got < failThreshold {
				t.Fatalf("%d commands sent for %d takes, want at least one each", got, failThreshold)
			}
			if got := lim.Status(); got != "degraded" {
				t.Errorf("Status() = %q after %d failures, want degraded", got, failThreshold)
			}

			// The breaker is open: takes do not touch Redis, and the same local bucket answers.
			before := sent.n.Load()
			if got, want := lim.Take(ctx, "k", 2), (Decision{Allowed: true, Remaining: 0, Local: true}); got != want {
				t.Errorf("Take(k, 2) = %+v, want %+v", got, want)
			}
			for range 5 {
				lim.Take(ctx, "other", 1)
			}
			if got := sent.n.Load() - before; got != 0 {
				t.Errorf("%d commands sent while the breaker was open, want 0", got)
			}
			if n := strings.Count(log.String(), "level=WARN"); n != 1 {
				t.Errorf("%d warnings logged, want 1; log:\n%s", n, log.String())
			}
			if strings.Contains(log.String(), "rl:") {
				t.Errorf("the log names a key:\n%s", log.String())
			}
		})
	}
}

func TestRedisRecovers(t *testing.T) {
	t.Cleanup(redistest.NoLeakedGoroutines(t)) // runs last: clean-ups run in reverse order
	url, stop, restart := redistest.StartServer(t)
	// A stopped server refuses at once, so patient timeouts cost nothing here and keep a loaded
	// machine from failing the shared takes.
	c1, c2 := newTestClient(t, url, patient), newTestClient(t, url, patient)
	sent := &commands{}
	c1.AddHook(sent)
	var log syncBuffer
	limit := Limit{Burst: 1000, PerSecond: 1}
	// A short open time, so that probes start soon after the restart.
	a := newLimiter(c1, "p:", limit, 10, slog.New(slog.NewTextHandler(&log, nil)), config{openFor: 10 * time.Millisecond})
	b := NewRedis(c2, "p:", limit, 10, nil)
	ctx := t.Context()

	if d := a.Take(ctx, "k", 1); d.Local || !d.Allowed {
		t.Fatalf("Take(k, 1) = %+v before the outage, want allowed and shared", d)
	}
	stop()
	for i := range failThreshold {
		if d := a.Take(ctx, "k", 1); !d.Local || !d.Allowed {
			t.Errorf("failure %d: Take(k, 1) = %+v, want allowed and local", i, d)
		}
	}
	if got := a.Status(); got != "degraded" {
		t.Errorf("Status() = %q while Redis is down, want degraded", got)
	}

	// Once the open time is over, one probe goes to Redis; it fails, and the outage goes on
	// without a note of recovery.
	for before, deadline := sent.n.Load(), time.Now().Add(10*time.Second); sent.n.Load() == before; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no probe reached Redis 10s after the breaker opened")
		}
		if d := a.Take(ctx, "k", 1); !d.Local {
			t.Fatalf("Take(k, 1) = %+v while Redis is down, want local", d)
		}
	}
	if got := a.Status(); got != "degraded" {
		t.Errorf("Status() = %q after a failed probe, want degraded", got)
	}
	if strings.Contains(log.String(), "level=INFO") {
		t.Errorf("a note logged before Redis came back:\n%s", log.String())
	}

	restart()
	// Probes go through once the open time is over; the first may still fail on a connection
	// from before the outage, so wait for one to succeed, a bounded number of times.
	for deadline := time.Now().Add(10 * time.Second); a.Status() != "shared"; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("Status() = %q 10s after Redis came back, want shared", a.Status())
		}
		a.Take(ctx, "probe", 0)
	}

	// Shared again: b sees what a takes.
	if d := a.Take(ctx, "k", 600); d.Local || !d.Allowed {
		t.Errorf("a.Take(k, 600) = %+v after recovery, want allowed and shared", d)
	}
	if d := b.Take(ctx, "k", 600); d.Local || d.Allowed {
		t.Errorf("b.Take(k, 600) = %+v after a took 600 of 1000, want refused and shared", d)
	}
	logged := log.String()
	if n := strings.Count(logged, "level=WARN"); n != 1 {
		t.Errorf("%d warnings logged, want 1; log:\n%s", n, logged)
	}
	if n := strings.Count(logged, "level=INFO"); n != 1 {
		t.Errorf("%d notes logged, want 1 (recovered); log:\n%s", n, logged)
	}
}

func TestCallerGivingUpKeepsBreakerClosed(t *testing.T) {
	c := newTestClient(t, redistest.Blackhole(t), short)
	tests := []struct {
		name string
		ctx  func(t *testing.T) context.Context
	}{
		{"cancelled", func(t *testing.T) context.Context {
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			return ctx
		}},
		{"deadline passed", func(t *testing.T) context.Context {
			ctx, cancel := context.WithDeadline(t.Context(), time.Now().Add(-time.Second))
			t.Cleanup(cancel)
			return ctx
		}},
		// The hung Redis holds the call until the caller's deadline cuts it short.
		{"deadline during the call", func(t *testing.T) context.Context {
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
			t.Cleanup(cancel)
			return ctx
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lim := newLimiter(c, "p:", Limit{Burst: 10, PerSecond: 1}, 10, nil, config{openFor: time.Hour})
			for i := range 2 * failThreshold {
				if d := lim.Take(tt.ctx(t), "k", 1); !d.Allowed || !d.Local {
					t.Errorf("take %d: Take(k, 1) = %+v, want allowed and local", i, d)
				}
			}
			if got := lim.Status(); got != "shared" {
				t.Errorf("Status() = %q after %d takes given up by their callers, want shared", got, 2*failThreshold)
			}
			// The same hung Redis does open the breaker for callers that wait.
			for range failThreshold {
				lim.Take(t.Context(), "k", 1)
			}
			if got := lim.Status(); got != "degraded" {
				t.Errorf("Status() = %q after %d failures, want degraded", got, failThreshold)
			}
		})
	}
}
