package upstream

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/enneo-facade/facade/upstream/redistest"
)

// newTestRedisStore returns a RedisStore on a real Redis (see redistest.Start) under a prefix
// of t's own, closed when t ends: the cache's tests run against it as against the memory store.
func newTestRedisStore(t *testing.T) Store {
	t.Helper()
	return mustRedisStore(t, patient(redistest.Start(t), redistest.Prefix(t)), redisConfig{})
}

// patient returns options with generous timeouts, for tests of what the store does rather than
// of how it copes with a slow Redis: a 150ms read timing out on a loaded CI machine (go test
// -race ./... on 2 cores) would turn a hit into a miss and fail a test that counts calls.
func patient(url, prefix string) RedisOptions {
	return RedisOptions{URL: url, Prefix: prefix, DialTimeout: 5 * time.Second, IOTimeout: 5 * time.Second}
}

// mustRedisStore returns a store for o and c, closed when t ends.
func mustRedisStore(t *testing.T, o RedisOptions, c redisConfig) *RedisStore {
	t.Helper()
	s, err := newRedisStore(o, c)
	if err != nil {
		t.Fatalf("newRedisStore(%q): %v", o.URL, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// logTo returns a logger writing text lines into b.
func logTo(b *syncBuffer) *slog.Logger { return slog.New(slog.NewTextHandler(b, nil)) }

// syncBuffer is a log sink that the store's goroutines and the test may share.
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

// roundTrips is a go-redis hook that counts commands and pipelines sent, each one round trip.
// Connection handshakes do not pass client hooks; tests warm the pool up before counting.
type roundTrips struct{ n atomic.Int64 }

func (r *roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }

func (r *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		r.n.Add(1)
		return next(ctx, cmd)
	}
}

func (r *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		r.n.Add(1)
		return next(ctx, cmds)
	}
}

// countRoundTrips installs a roundTrips hook on s after a PING and a pipeline, so that both of
// go-redis's pools (commands, pipelines) hold a connection whose handshake is done: a new
// connection's HELLO passes the hooks too.
func countRoundTrips(t *testing.T, s *RedisStore) *roundTrips {
	t.Helper()
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if _, err := s.GetMany(t.Context(), []EntryKey{{"warm-up", "warm-up"}}); err != nil {
		t.Fatalf("GetMany: %v", err)
	}
	r := &roundTrips{}
	s.rdb.AddHook(r)
	return r
}

// manualClock is a breaker clock that moves only when told.
type manualClock struct {
	mu sync.Mutex
	t  time.Time
}

func newManualClock() *manualClock { return &manualClock{t: time.Unix(1_700_000_000, 0)} }

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *manualClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// countingDialer dials like go-redis's default dialer and counts the dials.
func countingDialer(n *atomic.Int64) func(context.Context, string, string) (net.Conn, error) {
	var d net.Dialer
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		n.Add(1)
		return d.DialContext(ctx, network, addr)
	}
}

// waitSubscribed waits until channel has a subscriber on s's Redis, since PUBLISH reaches only
// the subscribers it finds.
func waitSubscribed(t *testing.T, s *RedisStore) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		n, err := s.rdb.PubSubNumSub(t.Context(), s.channel).Result()
		if err == nil && n[s.channel] > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no subscriber on %q after 10s (last error %v)", s.channel, err)
		}
	}
}

// checkNoGoroutineLeak fails t if the number of goroutines does not come back to before.
// go-redis ends some goroutines lazily (a dial prober sleeps 1s between tries), so it waits.
func checkNoGoroutineLeak(t *testing.T, before int) {
	t.Helper()
	var now int
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if now = runtime.NumGoroutine(); now <= before {
			return
		}
	}
	buf := make([]byte, 1<<20)
	t.Fatalf("goroutines: %d before, %d after; stacks:\n%s", before, now, buf[:runtime.Stack(buf, true)])
}

func TestRedisStoreGetManyAbsent(t *testing.T) {
	s := mustRedisStore(t, patient(redistest.Start(t), redistest.Prefix(t)), redisConfig{})
	keys := []EntryKey{{"1", "a"}, {"2", "b"}, {"1", "b"}}
	got, err := s.GetMany(t.Context(), keys)
	if err != nil {
		t.Fatalf("GetMany: %v", err)
	}
	if len(got) != len(keys) {
		t.Fatalf("GetMany returned %d values for %d keys", len(got), len(keys))
	}
	for i, v := range got {
		if v != nil {
			t.Errorf("GetMany(%v) = %q, want nil", keys[i], v)
		}
	}
	if got, err := s.GetMany(t.Context(), nil); err != nil || len(got) != 0 {
		t.Errorf("GetMany(nil) = %v, %v; want empty, nil", got, err)
	}
	if err := s.Ping(t.Context()); err != nil {
		t.Errorf("Ping: %v", err)
	}
	if got := s.Status(); got != "ok" {
		t.Errorf("Status() = %q, want ok", got)
	}
}

func TestRedisStoreRoundTrip(t *testing.T) {
	s := mustRedisStore(t, patient(redistest.Start(t), redistest.Prefix(t)), redisConfig{})
	ctx := t.Context()
	entries := []Entry{
		{EntryKey{"100", "scope-a"}, []byte("a100"), time.Minute},
		{EntryKey{"100", "scope-b"}, []byte("b100"), time.Minute},
		{EntryKey{"200", "scope-a"}, []byte{0, 1, 0xfe, 0xff, '\r', '\n'}, time.Minute}, // binary-safe
		{EntryKey{"300", "scope-b"}, bytes.Repeat([]byte("x"), 256<<10), time.Minute},   // larger than a buffer
	}
	if err := s.SetMany(ctx, entries); err != nil {
		t.Fatalf("SetMany: %v", err)
	}
	rt := countRoundTrips(t, s)

	// Overwrite one entry, and count: one round trip whatever the number of entries.
	entries[0].Value = []byte("a100 again")
	if err := s.SetMany(ctx, entries); err != nil {
		t.Fatalf("SetMany: %v", err)
	}
	if n := rt.n.Swap(0); n != 1 {
		t.Errorf("SetMany of %d entries made %d round trips, want 1", len(entries), n)
	}

	keys := []EntryKey{
		{"300", "scope-b"}, {"100", "scope-a"}, {"100", "scope-c"}, {"200", "scope-a"},
		{"200", "scope-b"}, {"100", "scope-b"}, {"400", "scope-a"},
	}
	want := [][]byte{entries[3].Value, entries[0].Value, nil, entries[2].Value, nil, entries[1].Value, nil}
	got, err := s.GetMany(ctx, keys)
	if err != nil {
		t.Fatalf("GetMany: %v", err)
	}
	if n := rt.n.Swap(0); n != 1 {
		t.Errorf("GetMany of %d keys made %d round trips, want 1", len(keys), n)
	}
	for i := range keys {
		if !bytes.Equal(got[i], want[i]) || (got[i] == nil) != (want[i] == nil) {
			t.Errorf("GetMany: value of %v = %.20q (%d bytes), want %.20q (%d bytes)",
				keys[i], got[i], len(got[i]), want[i], len(want[i]))
		}
	}

	// An entry too short-lived to store is skipped, not an error.
	if err := s.SetMany(ctx, []Entry{{EntryKey{"500", "scope-a"}, []byte("v"), 0}}); err != nil {
		t.Errorf("SetMany with TTL 0: %v", err)
	}
	if got, _ := s.GetMany(ctx, []EntryKey{{"500", "scope-a"}}); got[0] != nil {
		t.Errorf("entry with TTL 0 was stored: %q", got[0])
	}
}

func TestRedisStoreTTL(t *testing.T) {
	s := mustRedisStore(t, patient(redistest.Start(t), redistest.Prefix(t)), redisConfig{})
	ctx := t.Context()

	short := EntryKey{"1", "scope-a"}
	if err := s.SetMany(ctx, []Entry{{short, []byte("v"), 200 * time.Millisecond}}); err != nil {
		t.Fatalf("SetMany: %v", err)
	}
	if got, err := s.GetMany(ctx, []EntryKey{short}); err != nil || got[0] == nil {
		t.Fatalf("GetMany right after SetMany = %q, %v; want the value", got, err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		got, err := s.GetMany(ctx, []EntryKey{short})
		if err != nil {
			t.Fatalf("GetMany: %v", err)
		}
		if got[0] == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("entry with a 200ms TTL still there after 10s")
		}
	}

	// The hash lives as long as its longest-lived entry: a shorter TTL never shortens it.
	ttl := func() time.Duration {
		t.Helper()
		d, err := s.rdb.PTTL(ctx, s.hashKey("2")).Result()
		if err != nil {
			t.Fatalf("PTTL: %v", err)
		}
		return d
	}
	steps := []struct {
		scope   string
		ttl     time.Duration
		atLeast time.Duration // the hash's remaining life must exceed this
	}{
		{"scope-a", time.Hour, 59 * time.Minute},
		{"scope-b", 200 * time.Millisecond, 59 * time.Minute}, // not shortened
		{"scope-a", time.Hour, 59 * time.Minute},              // rewritten: still an hour
		{"scope-c", 2 * time.Hour, 119 * time.Minute},         // extended
	}
	for _, st := range steps {
		if err := s.SetMany(ctx, []Entry{{EntryKey{"2", st.scope}, []byte(st.scope), st.ttl}}); err != nil {
			t.Fatalf("SetMany: %v", err)
		}
		if got := ttl(); got <= st.atLeast {
			t.Errorf("after writing %s with TTL %v: hash TTL = %v, want > %v", st.scope, st.ttl, got, st.atLeast)
		}
	}
}

func TestRedisStoreBoundsScopesPerContract(t *testing.T) {
	s := mustRedisStore(t, patient(redistest.Start(t), redistest.Prefix(t)), redisConfig{maxScopes: 3})
	ctx := t.Context()
	for i := range 5 {
		e := Entry{EntryKey{"1", fmt.Sprintf("scope-%d", i)}, []byte{byte(i)}, time.Minute}
		if err := s.SetMany(ctx, []Entry{e}); err != nil {
			t.Fatalf("SetMany: %v", err)
		}
	}
	fields, err := s.rdb.HKeys(ctx, s.hashKey("1")).Result()
	if err != nil {
		t.Fatalf("HKEYS: %v", err)
	}
	if len(fields) != 3 || !strings.Contains(strings.Join(fields, " "), "scope-4") {
		t.Fatalf("after 5 scopes with a cap of 3: fields %v, want 3 including the newest", fields)
	}
	// Rewriting a scope that is there evicts nothing.
	if err := s.SetMany(ctx, []Entry{{EntryKey{"1", "scope-4"}, []byte("new"), time.Minute}}); err != nil {
		t.Fatalf("SetMany: %v", err)
	}
	if after, _ := s.rdb.HKeys(ctx, s.hashKey("1")).Result(); len(after) != 3 {
		t.Errorf("rewriting a present scope at the cap left fields %v, want %v", after, fields)
	}
}

func TestRedisStoreReloadsScriptAfterFlush(t *testing.T) {
	url, _, _ := redistest.StartServer(t) // SCRIPT FLUSH must not touch a shared Redis
	s := mustRedisStore(t, patient(url, redistest.Prefix(t)), redisConfig{})
	ctx := t.Context()
	rt := countRoundTrips(t, s)
	for i, wantTrips := range []int64{2, 1, 2} { // new server: NOSCRIPT; loaded; flushed: NOSCRIPT
		if i == 2 {
			if err := s.rdb.ScriptFlush(ctx).Err(); err != nil {
				t.Fatalf("SCRIPT FLUSH: %v", err)
			}
		}
		rt.n.Store(0)
		v := []byte(fmt.Sprint("value ", i))
		if err := s.SetMany(ctx, []Entry{{EntryKey{"1", "a"}, v, time.Minute}, {EntryKey{"2", "a"}, v, time.Minute}}); err != nil {
			t.Fatalf("SetMany #%d: %v", i, err)
		}
		if n := rt.n.Load(); n != wantTrips {
			t.Errorf("SetMany #%d made %d round trips, want %d", i, n, wantTrips)
		}
		got, err := s.GetMany(ctx, []EntryKey{{"1", "a"}, {"2", "a"}})
		if err != nil || !bytes.Equal(got[0], v) || !bytes.Equal(got[1], v) {
			t.Errorf("GetMany after SetMany #%d = %q, %v; want %q twice", i, got, err, v)
		}
	}
}

func TestRedisStoreDropContract(t *testing.T) {
	url, prefix := redistest.Start(t), redistest.Prefix(t)
	s := mustRedisStore(t, patient(url, prefix), redisConfig{})
	replica := mustRedisStore(t, patient(url, prefix), redisConfig{}) // another facade process
	ctx := t.Context()

	got := make(chan string, 10)
	subCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		replica.Invalidations(subCtx, func(id string) { got <- id })
	}()
	defer func() { cancel(); <-done }()
	waitSubscribed(t, s)

	entries := []Entry{
		{EntryKey{"1", "a"}, []byte("1a"), time.Minute},
		{EntryKey{"1", "b"}, []byte("1b"), time.Minute},
		{EntryKey{"2", "a"}, []byte("2a"), time.Minute},
		{EntryKey{"10", "a"}, []byte("10a"), time.Minute}, // a prefix of another id must not matter
	}
	if err := s.SetMany(ctx, entries); err != nil {
		t.Fatalf("SetMany: %v", err)
	}
	if err := s.DropContract(ctx, "1"); err != nil {
		t.Fatalf("DropContract: %v", err)
	}
	vals, err := s.GetMany(ctx, []EntryKey{{"1", "a"}, {"1", "b"}, {"2", "a"}, {"10", "a"}})
	if err != nil {
		t.Fatalf("GetMany: %v", err)
	}
	if vals[0] != nil || vals[1] != nil {
		t.Errorf("after DropContract(1): contract 1's entries = %q, %q; want nil", vals[0], vals[1])
	}
	if string(vals[2]) != "2a" || string(vals[3]) != "10a" {
		t.Errorf("after DropContract(1): other contracts' entries = %q, %q; want 2a, 10a", vals[2], vals[3])
	}
	select {
	case id := <-got:
		if id != "1" {
			t.Errorf("replica's Invalidations got %q, want 1", id)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("replica's Invalidations got nothing within 10s")
	}
}

func TestRedisStoreInvalidationsEndWithoutLeaks(t *testing.T) {
	url, prefix := redistest.Start(t), redistest.Prefix(t)
	before := runtime.NumGoroutine()
	s, err := newRedisStore(RedisOptions{URL: url, Prefix: prefix}, redisConfig{})
	if err != nil {
		t.Fatal(err)
	}

	// Ended by its context.
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); s.Invalidations(ctx, func(string) {}) }()
	waitSubscribed(t, s)
	cancel()
	<-done

	// Ended by Close.
	done = make(chan struct{})
	go func() { defer close(done); s.Invalidations(t.Context(), func(string) {}) }()
	waitSubscribed(t, s)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Invalidations still running 10s after Close")
	}
	checkNoGoroutineLeak(t, before)
}

func TestRedisStoreHungRedis(t *testing.T) {
	var dials atomic.Int64
	logs := &syncBuffer{}
	url := redistest.Blackhole(t)
	before := runtime.NumGoroutine()
	// The store's own short timeouts: they are what this test is about.
	s := mustRedisStore(t, RedisOptions{URL: url, Prefix: "efctest:hung:", Logger: logTo(logs)},
		redisConfig{coolDown: time.Hour, dialer: countingDialer(&dials)})
	ctx := t.Context()
	keys := []EntryKey{{"1", "secret-scope"}}
	entries := []Entry{{keys[0], []byte("secret-value"), time.Minute}}

	// Each call gives up by itself (its timeouts) and fails; three open the breaker.
	vals, err := s.GetMany(ctx, keys)
	if err == nil || errors.Is(err, ErrRedisUnavailable) || len(vals) != 1 || vals[0] != nil {
		t.Fatalf("GetMany on a hung Redis = %q, %v; want [nil] and a Redis error", vals, err)
	}
	if got := s.Status(); got != "degraded" {
		t.Errorf("Status() after a failure = %q, want degraded", got)
	}
	if err := s.SetMany(ctx, entries); err == nil || errors.Is(err, ErrRedisUnavailable) {
		t.Fatalf("SetMany on a hung Redis = %v, want a Redis error", err)
	}
	if err := s.DropContract(ctx, "1"); err == nil || errors.Is(err, ErrRedisUnavailable) {
		t.Fatalf("DropContract on a hung Redis = %v, want a Redis error", err)
	}
	dialed := dials.Load()
	if dialed == 0 {
		t.Fatal("no dial counted: the test dialer is not in use")
	}

	// Open: every call fails at once without touching the network.
	for range 5 {
		vals, err := s.GetMany(ctx, keys)
		if !errors.Is(err, ErrRedisUnavailable) || len(vals) != 1 || vals[0] != nil {
			t.Errorf("GetMany with the breaker open = %q, %v; want [nil], ErrRedisUnavailable", vals, err)
		}
		if err := s.SetMany(ctx, entries); !errors.Is(err, ErrRedisUnavailable) {
			t.Errorf("SetMany with the breaker open = %v, want ErrRedisUnavailable", err)
		}
		if err := s.DropContract(ctx, "1"); !errors.Is(err, ErrRedisUnavailable) {
			t.Errorf("DropContract with the breaker open = %v, want ErrRedisUnavailable", err)
		}
		if err := s.Ping(ctx); !errors.Is(err, ErrRedisUnavailable) {
			t.Errorf("Ping with the breaker open = %v, want ErrRedisUnavailable", err)
		}
	}
	if n := dials.Load(); n != dialed {
		t.Errorf("dials with the breaker open: %d, want none", n-dialed)
	}
	if got := s.Status(); got != "degraded" {
		t.Errorf("Status() = %q, want degraded", got)
	}

	log := logs.String()
	if n := strings.Count(log, "redis cache degraded"); n != 1 {
		t.Errorf("logged %d degraded warnings, want 1:\n%s", n, log)
	}
	if strings.Contains(log, "secret") {
		t.Errorf("log shows a scope or a value:\n%s", log)
	}

	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	checkNoGoroutineLeak(t, before)
}

func TestRedisStoreCallerCancelIsNoFailure(t *testing.T) {
	s := mustRedisStore(t, RedisOptions{URL: redistest.Blackhole(t), Prefix: "efctest:cancel:"}, redisConfig{coolDown: time.Hour})
	keys := []EntryKey{{"1", "a"}}

	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	for range 5 {
		if _, err := s.GetMany(cancelled, keys); err == nil {
			t.Fatal("GetMany with a cancelled context succeeded on a hung Redis")
		}
	}
	for range 5 {
		// The caller's deadline is shorter than the store's timeouts, so it cuts the call.
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
		_, err := s.GetMany(ctx, keys)
		cancel()
		if err == nil {
			t.Fatal("GetMany on a hung Redis succeeded")
		}
	}
	if got := s.Status(); got != "ok" {
		t.Errorf("Status() after callers gave up = %q, want ok: their deadlines say nothing of Redis", got)
	}
}

func TestRedisStoreRecoversAfterOutage(t *testing.T) {
	url, stop, restart := redistest.StartServer(t)
	prefix := redistest.Prefix(t)
	clock := newManualClock()
	logs := &syncBuffer{}
	o := patient(url, prefix)
	o.Logger = logTo(logs)
	s := mustRedisStore(t, o, redisConfig{now: clock.Now})
	replica := mustRedisStore(t, patient(url, prefix), redisConfig{})
	ctx := t.Context()
	key := EntryKey{"1", "a"}

	got := make(chan string, 100)
	subCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		replica.Invalidations(subCtx, func(id string) { got <- id })
	}()
	defer func() { cancel(); <-done }()
	waitSubscribed(t, s)

	if err := s.SetMany(ctx, []Entry{{key, []byte("v"), time.Minute}}); err != nil {
		t.Fatalf("SetMany: %v", err)
	}

	stop()
	for i := range 3 {
		if _, err := s.GetMany(ctx, []EntryKey{key}); err == nil || errors.Is(err, ErrRedisUnavailable) {
			t.Fatalf("GetMany #%d with Redis stopped = %v, want a Redis error", i, err)
		}
	}
	if _, err := s.GetMany(ctx, []EntryKey{key}); !errors.Is(err, ErrRedisUnavailable) {
		t.Fatalf("GetMany after 3 failures = %v, want ErrRedisUnavailable", err)
	}
	if got := s.Status(); got != "degraded" {
		t.Errorf("Status() with Redis stopped = %q, want degraded", got)
	}

	restart()
	// Past the cool-down one probe goes through. The first may still meet a connection of the
	// old server; the breaker then waits another cool-down, so try a few.
	var err error
	for range 20 {
		clock.Advance(5 * time.Second)
		if _, err = s.GetMany(ctx, []EntryKey{key}); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("GetMany after Redis came back: %v", err)
	}
	if got := s.Status(); got != "ok" {
		t.Errorf("Status() after recovery = %q, want ok", got)
	}
	if err := s.SetMany(ctx, []Entry{{key, []byte("after"), time.Minute}}); err != nil {
		t.Fatalf("SetMany after recovery: %v", err)
	}
	if vals, err := s.GetMany(ctx, []EntryKey{key}); err != nil || string(vals[0]) != "after" {
		t.Errorf("GetMany after recovery = %q, %v; want after", vals, err)
	}

	// The replica's subscription came back by itself: an invalidation reaches it again.
	deadline := time.Now().Add(15 * time.Second)
	for received := false; !received; {
		if err := s.DropContract(ctx, "7"); err != nil {
			t.Fatalf("DropContract after recovery: %v", err)
		}
		select {
		case id := <-got:
			received = id == "7"
		case <-time.After(100 * time.Millisecond):
		}
		if !received && time.Now().After(deadline) {
			t.Fatal("the replica's Invalidations did not resubscribe within 15s of Redis coming back")
		}
	}

	log := logs.String()
	if d, r := strings.Count(log, "redis cache degraded"), strings.Count(log, "redis cache recovered"); d != 1 || r != 1 {
		t.Errorf("logged %d degraded and %d recovered, want 1 each:\n%s", d, r, log)
	}
}

func TestRedisBreaker(t *testing.T) {
	clock := newManualClock()
	b := &redisBreaker{threshold: 3, coolDown: 5 * time.Second, now: clock.Now}
	mustAllow := func(step string, wantProbe bool) bool {
		t.Helper()
		probe, ok := b.allow()
		if !ok || probe != wantProbe {
			t.Fatalf("%s: allow() = probe %v, ok %v; want probe %v, ok true", step, probe, ok, wantProbe)
		}
		return probe
	}
	mustRefuse := func(step string) {
		t.Helper()
		if _, ok := b.allow(); ok {
			t.Fatalf("%s: allow() = ok, want refused", step)
		}
	}

	b.failed(mustAllow("1st failure", false))
	b.failed(mustAllow("2nd failure", false))
	if !b.degraded() {
		t.Error("not degraded after 2 failures")
	}
	b.succeeded(mustAllow("success", false))
	if b.degraded() {
		t.Error("degraded after a success")
	}

	for i := range 3 {
		b.failed(mustAllow(fmt.Sprint("failure ", i), false))
	}
	mustRefuse("open")
	clock.Advance(4 * time.Second)
	mustRefuse("open, 4s later")
	clock.Advance(time.Second)
	probe := mustAllow("half-open", true)
	mustRefuse("half-open, probe in flight")
	b.failed(probe)
	mustRefuse("probe failed")

	clock.Advance(5 * time.Second)
	b.abandoned(mustAllow("half-open again", true)) // the caller gave up: no verdict
	if !b.degraded() {
		t.Error("an abandoned probe closed the breaker")
	}
	b.succeeded(mustAllow("next call probes", true))
	if b.degraded() {
		t.Error("degraded after a successful probe")
	}
	mustAllow("closed", false)
}

func TestNewRedisStoreURL(t *testing.T) {
	bad := []struct{ url, want string }{
		{"", "empty"},
		{"  ", "empty"},
		{"http://127.0.0.1:6379", "redis://"},
		{"127.0.0.1:6379", "redis://"},
		{"redis://user:hunter2@127.0.0.1:notaport/0", "invalid port"},
		{"redis://user:hunter2@127.0.0.1:6379/zero", "database number"},
		{"redis://user:hunter2@127.0.0.1:6379/0?colour=blue", "colour"},
		{"redis://127.0.0.1:6379?cluster=maybe", "cluster"},
	}
	for _, tt := range bad {
		s, err := NewRedisStore(RedisOptions{URL: tt.url})
		if err == nil {
			s.Close()
			t.Errorf("NewRedisStore(%q) = nil error, want one about %s", tt.url, tt.want)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("NewRedisStore(%q) error = %q, want it to name %q and not show the password", tt.url, err, tt.want)
		}
	}

	// None of these connects: a store is made while Redis is down, and works once it is up.
	good := []struct {
		url     string
		cluster bool
	}{
		{"redis://127.0.0.1:1/0", false},
		{"REDIS://127.0.0.1:1", false},
		{"redis://user:pw@127.0.0.1:1/2?pool_size=4", false},
		{"rediss://127.0.0.1:1", false},
		{"redis://127.0.0.1:1?addr=127.0.0.1:2&addr=127.0.0.1:3", true},
		{"rediss://127.0.0.1:1?cluster=true", true},
		{"redis://127.0.0.1:1?cluster=false", false},
	}
	for _, tt := range good {
		s, err := NewRedisStore(RedisOptions{URL: tt.url})
		if err != nil {
			t.Errorf("NewRedisStore(%q): %v", tt.url, err)
			continue
		}
		if _, isCluster := s.rdb.(*redis.ClusterClient); isCluster != tt.cluster {
			t.Errorf("NewRedisStore(%q) made a %T, want cluster %v", tt.url, s.rdb, tt.cluster)
		}
		if got := s.Status(); got != "ok" {
			t.Errorf("NewRedisStore(%q).Status() = %q before any call, want ok", tt.url, got)
		}
		s.Close()
	}
}
