package redisstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/enneo-facade/facade/upstream/cache"
	"github.com/enneo-facade/facade/upstream/redisstore/redistest"
)

// newTestStore returns a Store on a real Redis (see redistest.Start) under a prefix
// of t's own, closed when t ends: the cache's tests run against it as against the memory store.
func newTestStore(t *testing.T) *Store {
	t.Helper()
	return mustStore(t, patient(redistest.Start(t), redistest.Prefix(t)), config{})
}

// k and entry spell the store's key and entry types briefly.
func k(contractID, scope string) cache.EntryKey {
	return cache.EntryKey{ContractID: contractID, Scope: scope}
}

func entry(key cache.EntryKey, value []byte, ttl time.Duration) cache.Entry {
	return cache.Entry{Key: key, Value: value, TTL: ttl}
}

// patient returns options with generous timeouts, for tests of what the store does rather than
// of how it copes with a slow Redis: a 150ms read timing out on a loaded CI machine (go test
// -race ./... on 2 cores) would turn a hit into a miss and fail a test that counts calls.
func patient(url, prefix string) Options {
	return Options{URL: url, Prefix: prefix, DialTimeout: 5 * time.Second, IOTimeout: 5 * time.Second}
}

// mustStore returns a store for o and c, closed when t ends.
func mustStore(t *testing.T, o Options, c config) *Store {
	t.Helper()
	s, err := newStore(o, c)
	if err != nil {
		t.Fatalf("newStore(%q): %v", o.URL, err)
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
func countRoundTrips(t *testing.T, s *Store) *roundTrips {
	t.Helper()
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if _, err := s.GetMany(t.Context(), []cache.EntryKey{k("warm-up", "warm-up")}); err != nil {
		t.Fatalf("GetMany: %v", err)
	}
	r := &roundTrips{}
	s.rdb.AddHook(r)
	return r
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
func waitSubscribed(t *testing.T, s *Store) {
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

func TestStoreGetManyAbsent(t *testing.T) {
	s := mustStore(t, patient(redistest.Start(t), redistest.Prefix(t)), config{})
	keys := []cache.EntryKey{k("1", "a"), k("2", "b"), k("1", "b")}
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

func TestStoreRoundTrip(t *testing.T) {
	s := mustStore(t, patient(redistest.Start(t), redistest.Prefix(t)), config{})
	ctx := t.Context()
	entries := []cache.Entry{
		entry(k("100", "scope-a"), []byte("a100"), time.Minute),
		entry(k("100", "scope-b"), []byte("b100"), time.Minute),
		entry(k("200", "scope-a"), []byte{0, 1, 0xfe, 0xff, '\r', '\n'}, time.Minute), // binary-safe
		entry(k("300", "scope-b"), bytes.Repeat([]byte("x"), 256<<10), time.Minute),   // larger than a buffer
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

	keys := []cache.EntryKey{
		k("300", "scope-b"), k("100", "scope-a"), k("100", "scope-c"), k("200", "scope-a"),
		k("200", "scope-b"), k("100", "scope-b"), k("400", "scope-a"),
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
	if err := s.SetMany(ctx, []cache.Entry{entry(k("500", "scope-a"), []byte("v"), 0)}); err != nil {
		t.Errorf("SetMany with TTL 0: %v", err)
	}
	if got, _ := s.GetMany(ctx, []cache.EntryKey{k("500", "scope-a")}); got[0] != nil {
		t.Errorf("entry with TTL 0 was stored: %q", got[0])
	}
}

func TestStoreTTL(t *testing.T) {
	s := mustStore(t, patient(redistest.Start(t), redistest.Prefix(t)), config{})
	ctx := t.Context()

	short := k("1", "scope-a")
	if err := s.SetMany(ctx, []cache.Entry{entry(short, []byte("v"), 200*time.Millisecond)}); err != nil {
		t.Fatalf("SetMany: %v", err)
	}
	if got, err := s.GetMany(ctx, []cache.EntryKey{short}); err != nil || got[0] == nil {
		t.Fatalf("GetMany right after SetMany = %q, %v; want the value", got, err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		got, err := s.GetMany(ctx, []cache.EntryKey{short})
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
		if err := s.SetMany(ctx, []cache.Entry{entry(k("2", st.scope), []byte(st.scope), st.ttl)}); err != nil {
			t.Fatalf("SetMany: %v", err)
		}
		if got := ttl(); got <= st.atLeast {
			t.Errorf("after writing %s with TTL %v: hash TTL = %v, want > %v", st.scope, st.ttl, got, st.atLeast)
		}
	}
}

func TestStoreBoundsScopesPerContract(t *testing.T) {
	s := mustStore(t, patient(redistest.Start(t), redistest.Prefix(t)), config{maxScopes: 3})
	ctx := t.Context()
	for i := range 5 {
		e := entry(k("1", fmt.Sprintf("scope-%d", i)), []byte{byte(i)}, time.Minute)
		if err := s.SetMany(ctx, []cache.Entry{e}); err != nil {
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
	if err := s.SetMany(ctx, []cache.Entry{entry(k("1", "scope-4"), []byte("new"), time.Minute)}); err != nil {
		t.Fatalf("SetMany: %v", err)
	}
	if after, _ := s.rdb.HKeys(ctx, s.hashKey("1")).Result(); len(after) != 3 {
		t.Errorf("rewriting a present scope at the cap left fields %v, want %v", after, fields)
	}
}

func TestStoreReloadsScriptAfterFlush(t *testing.T) {
	url, _, _ := redistest.StartServer(t) // SCRIPT FLUSH must not touch a shared Redis
	s := mustStore(t, patient(url, redistest.Prefix(t)), config{})
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
		if err := s.SetMany(ctx, []cache.Entry{entry(k("1", "a"), v, time.Minute), entry(k("2", "a"), v, time.Minute)}); err != nil {
			t.Fatalf("SetMany #%d: %v", i, err)
		}
		if n := rt.n.Load(); n != wantTrips {
			t.Errorf("SetMany #%d made %d round trips, want %d", i, n, wantTrips)
		}
		got, err := s.GetMany(ctx, []cache.EntryKey{k("1", "a"), k("2", "a")})
		if err != nil || !bytes.Equal(got[0], v) || !bytes.Equal(got[1], v) {
			t.Errorf("GetMany after SetMany #%d = %q, %v; want %q twice", i, got, err, v)
		}
	}
}

func TestStoreDropContract(t *testing.T) {
	url, prefix := redistest.Start(t), redistest.Prefix(t)
	s := mustStore(t, patient(url, prefix), config{})
	replica := mustStore(t, patient(url, prefix), config{}) // another facade process
	ctx := t.Context()

	got := make(chan string, 10)
	subCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		replica.Invalidations(subCtx, dropFeed(func(id string) { got <- id }))
	}()
	defer func() { cancel(); <-done }()
	waitSubscribed(t, s)

	entries := []cache.Entry{
		entry(k("1", "a"), []byte("1a"), time.Minute),
		entry(k("1", "b"), []byte("1b"), time.Minute),
		entry(k("2", "a"), []byte("2a"), time.Minute),
		entry(k("10", "a"), []byte("10a"), time.Minute), // a prefix of another id must not matter
	}
	if err := s.SetMany(ctx, entries); err != nil {
		t.Fatalf("SetMany: %v", err)
	}
	if err := s.DropContract(ctx, "1"); err != nil {
		t.Fatalf("DropContract: %v", err)
	}
	vals, err := s.GetMany(ctx, []cache.EntryKey{k("1", "a"), k("1", "b"), k("2", "a"), k("10", "a")})
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

func TestStoreInvalidationsEndWithoutLeaks(t *testing.T) {
	url, prefix := redistest.Start(t), redistest.Prefix(t)
	noLeaks := redistest.NoLeakedGoroutines(t)
	s, err := newStore(Options{URL: url, Prefix: prefix}, config{})
	if err != nil {
		t.Fatal(err)
	}

	// Ended by its context.
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); s.Invalidations(ctx, dropFeed(func(string) {})) }()
	waitSubscribed(t, s)
	cancel()
	<-done

	// Ended by Close.
	done = make(chan struct{})
	go func() { defer close(done); s.Invalidations(t.Context(), dropFeed(func(string) {})) }()
	waitSubscribed(t, s)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Invalidations still running 10s after Close")
	}
	noLeaks()
}

func TestStoreHungRedis(t *testing.T) {
	var dials atomic.Int64
	logs := &syncBuffer{}
	url := redistest.Blackhole(t)
	noLeaks := redistest.NoLeakedGoroutines(t)
	// The store's own short timeouts: they are what this test is about.
	s := mustStore(t, Options{URL: url, Prefix: "efctest:hung:", Logger: logTo(logs)},
		config{coolDown: time.Hour, dialer: countingDialer(&dials)})
	ctx := t.Context()
	keys := []cache.EntryKey{k("1", "secret-scope")}
	entries := []cache.Entry{entry(keys[0], []byte("secret-value"), time.Minute)}

	// Each call gives up by itself (its timeouts) and fails; three open the breaker.
	vals, err := s.GetMany(ctx, keys)
	if err == nil || errors.Is(err, ErrUnavailable) || len(vals) != 1 || vals[0] != nil {
		t.Fatalf("GetMany on a hung Redis = %q, %v; want [nil] and a Redis error", vals, err)
	}
	if got := s.Status(); got != "degraded" {
		t.Errorf("Status() after a failure = %q, want degraded", got)
	}
	if err := s.SetMany(ctx, entries); err == nil || errors.Is(err, ErrUnavailable) {
		t.Fatalf("SetMany on a hung Redis = %v, want a Redis error", err)
	}
	if err := s.DropContract(ctx, "1"); err == nil || errors.Is(err, ErrUnavailable) {
		t.Fatalf("DropContract on a hung Redis = %v, want a Redis error", err)
	}
	dialed := dials.Load()
	if dialed == 0 {
		t.Fatal("no dial counted: the test dialer is not in use")
	}

	// Open: every call fails at once without touching the network.
	for range 5 {
		vals, err := s.GetMany(ctx, keys)
		if !errors.Is(err, ErrUnavailable) || len(vals) != 1 || vals[0] != nil {
			t.Errorf("GetMany with the breaker open = %q, %v; want [nil], ErrUnavailable", vals, err)
		}
		if err := s.SetMany(ctx, entries); !errors.Is(err, ErrUnavailable) {
			t.Errorf("SetMany with the breaker open = %v, want ErrUnavailable", err)
		}
		if err := s.DropContract(ctx, "1"); !errors.Is(err, ErrUnavailable) {
			t.Errorf("DropContract with the breaker open = %v, want ErrUnavailable", err)
		}
		if err := s.Ping(ctx); !errors.Is(err, ErrUnavailable) {
			t.Errorf("Ping with the breaker open = %v, want ErrUnavailable", err)
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
	noLeaks()
}

func TestStoreCallerCancelIsNoFailure(t *testing.T) {
	s := mustStore(t, Options{URL: redistest.Blackhole(t), Prefix: "efctest:cancel:"}, config{coolDown: time.Hour})
	keys := []cache.EntryKey{k("1", "a")}

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

func TestStoreRecoversAfterOutage(t *testing.T) {
	url, stop, restart := redistest.StartServer(t)
	prefix := redistest.Prefix(t)
	logs := &syncBuffer{}
	o := patient(url, prefix)
	o.Logger = logTo(logs)
	s := mustStore(t, o, config{coolDown: 200 * time.Millisecond})
	replica := mustStore(t, patient(url, prefix), config{})
	ctx := t.Context()
	key := k("1", "a")

	got := make(chan string, 100)
	subCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		replica.Invalidations(subCtx, dropFeed(func(id string) { got <- id }))
	}()
	defer func() { cancel(); <-done }()
	waitSubscribed(t, s)

	if err := s.SetMany(ctx, []cache.Entry{entry(key, []byte("v"), time.Minute)}); err != nil {
		t.Fatalf("SetMany: %v", err)
	}

	stop()
	for i := range 3 {
		if _, err := s.GetMany(ctx, []cache.EntryKey{key}); err == nil || errors.Is(err, ErrUnavailable) {
			t.Fatalf("GetMany #%d with Redis stopped = %v, want a Redis error", i, err)
		}
	}
	if _, err := s.GetMany(ctx, []cache.EntryKey{key}); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("GetMany after 3 failures = %v, want ErrUnavailable", err)
	}
	if got := s.Status(); got != "degraded" {
		t.Errorf("Status() with Redis stopped = %q, want degraded", got)
	}

	restart()
	// Past the cool-down one call probes. A probe whose caller gave up is no verdict: the
	// call after it probes again.
	cancelled, cancelNow := context.WithCancel(ctx)
	cancelNow()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := s.GetMany(cancelled, []cache.EntryKey{key}); !errors.Is(err, ErrUnavailable) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the breaker did not half-open within 10s of a 200ms cool-down")
		}
	}
	_, err := s.GetMany(ctx, []cache.EntryKey{key})
	if errors.Is(err, ErrUnavailable) {
		t.Fatal("the call after an abandoned probe was refused: the probe's turn did not pass on")
	}
	// The first probe may still meet a connection of the old server; the breaker then
	// waits another cool-down, so try a few.
	for deadline := time.Now().Add(10 * time.Second); err != nil && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
		_, err = s.GetMany(ctx, []cache.EntryKey{key})
	}
	if err != nil {
		t.Fatalf("GetMany after Redis came back: %v", err)
	}
	if got := s.Status(); got != "ok" {
		t.Errorf("Status() after recovery = %q, want ok", got)
	}
	if err := s.SetMany(ctx, []cache.Entry{entry(key, []byte("after"), time.Minute)}); err != nil {
		t.Fatalf("SetMany after recovery: %v", err)
	}
	if vals, err := s.GetMany(ctx, []cache.EntryKey{key}); err != nil || string(vals[0]) != "after" {
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

func TestNewURL(t *testing.T) {
	bad := []struct{ url, want string }{
		{"", "empty"},
		{"  ", "empty"},
		{"http://127.0.0.1:6379", "redis://"},
		{"127.0.0.1:6379", "redis://"},
		{"redis://user:hunter2@127.0.0.1:notaport/0", "invalid port"},
		{"redis://user:hunter2@127.0.0.1:6379/zero", "database number"},
		{"redis://user:hunter2@127.0.0.1:6379/0?colour=blue", "colour"},
		{"redis://127.0.0.1:6379?cluster=maybe", "cluster"},
		{"redis://127.0.0.1:26379?master_name=mymaster&cluster=true", "pick one"},
	}
	for _, tt := range bad {
		s, err := New(Options{URL: tt.url})
		if err == nil {
			s.Close()
			t.Errorf("New(%q) = nil error, want one about %s", tt.url, tt.want)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("New(%q) error = %q, want it to name %q and not show the password", tt.url, err, tt.want)
		}
	}

	// None of these connects: a store is made while Redis is down, and works once it is up.
	good := []struct{ url, kind string }{
		{"redis://127.0.0.1:1/0", "node"},
		{"REDIS://127.0.0.1:1", "node"},
		{"redis://user:pw@127.0.0.1:1/2?pool_size=4", "node"},
		{"rediss://127.0.0.1:1", "node"},
		{"redis://127.0.0.1:1?addr=127.0.0.1:2&addr=127.0.0.1:3", "cluster"},
		{"rediss://127.0.0.1:1?cluster=true", "cluster"},
		{"redis://127.0.0.1:1?cluster=false", "node"},
		{"redis://127.0.0.1:1?master_name=mymaster", "sentinel"},
		{"redis://:pw@127.0.0.1:1/3?master_name=mymaster&addr=127.0.0.1:2", "sentinel"},
	}
	for _, tt := range good {
		s, err := New(Options{URL: tt.url})
		if err != nil {
			t.Errorf("New(%q): %v", tt.url, err)
			continue
		}
		kind := "cluster"
		if c, ok := s.rdb.(*redis.Client); ok {
			kind = map[bool]string{true: "sentinel", false: "node"}[c.Options().Addr == "FailoverClient"]
		}
		if kind != tt.kind {
			t.Errorf("New(%q) made a %T (%s), want %s", tt.url, s.rdb, kind, tt.kind)
		}
		if got := s.Status(); got != "ok" {
			t.Errorf("New(%q).Status() = %q before any call, want ok", tt.url, got)
		}
		s.Close()
	}
}

// Through a Sentinel the store finds the master by name, and works as on a single node.
func TestStoreThroughSentinel(t *testing.T) {
	s, err := New(Options{URL: redistest.StartSentinel(t), Prefix: redistest.Prefix(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	key := cache.EntryKey{ContractID: "746839", Scope: "scope-a"}
	if err := s.SetMany(ctx, []cache.Entry{{Key: key, Value: []byte("entry"), TTL: time.Minute}}); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetMany(ctx, []cache.EntryKey{key, {ContractID: "other", Scope: "scope-a"}})
	if err != nil || string(got[0]) != "entry" || got[1] != nil {
		t.Fatalf("GetMany = %q, %v; want the entry and a miss", got, err)
	}
	if err := s.DropContract(ctx, key.ContractID); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetMany(ctx, []cache.EntryKey{key}); err != nil || got[0] != nil {
		t.Fatalf("after DropContract: %q, %v; want a miss", got, err)
	}
}

// dropFeed is an InvalidationFeed that hears of drops only.
type dropFeed func(contractID string)

func (f dropFeed) Drop(id string) { f(id) }
func (dropFeed) Lost()            {}
func (dropFeed) Resumed()         {}

// feedEvents is an InvalidationFeed that records what it hears, in order.
type feedEvents chan string

func (f feedEvents) Drop(id string) { f <- "drop " + id }
func (f feedEvents) Lost()          { f <- "lost" }
func (f feedEvents) Resumed()       { f <- "resumed" }

// next returns the next event, or fails t after 10 seconds.
func (f feedEvents) next(t *testing.T) string {
	t.Helper()
	select {
	case e := <-f:
		return e
	case <-time.After(10 * time.Second):
		t.Fatal("no invalidation feed event within 10s")
		return ""
	}
}

// A subscription that breaks or goes silent is reported lost, and resumed once it is made
// anew; invalidations flow again after it.
func TestInvalidationsReportLostAndResumed(t *testing.T) {
	url, _, _ := redistest.StartServer(t) // of its own: CLIENT KILL and PAUSE reach every client
	prefix := redistest.Prefix(t)
	s := mustStore(t, patient(url, prefix), config{})
	replica := mustStore(t, patient(url, prefix), config{heartbeat: 100 * time.Millisecond})
	events := make(feedEvents, 100)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); replica.Invalidations(ctx, events) }()
	defer func() { cancel(); <-done }()
	expect := func(want string) {
		t.Helper()
		if got := events.next(t); got != want {
			t.Fatalf("feed heard %q, want %q", got, want)
		}
	}
	expect("lost") // until the first subscription is confirmed
	expect("resumed")

	// Broken: the connection is killed.
	if err := s.rdb.ClientKillByFilter(ctx, "TYPE", "pubsub").Err(); err != nil {
		t.Fatal(err)
	}
	expect("lost")
	expect("resumed")
	if err := s.DropContract(ctx, "1"); err != nil {
		t.Fatal(err)
	}
	expect("drop 1")

	// Silent: Redis answers nothing, not even the heartbeat's ping, for longer than two
	// heartbeats.
	if err := s.rdb.Do(ctx, "CLIENT", "PAUSE", 800, "ALL").Err(); err != nil {
		t.Fatal(err)
	}
	expect("lost")
	expect("resumed")
	if err := s.DropContract(ctx, "2"); err != nil {
		t.Fatal(err)
	}
	expect("drop 2")
}

// slowFeed drops after a while, as a replica busy with other work would.
type slowFeed struct {
	dropped chan string
}

func (f slowFeed) Drop(id string) {
	time.Sleep(50 * time.Millisecond) // the work a busy replica does before it gets to it
	f.dropped <- id
}
func (slowFeed) Lost()    {}
func (slowFeed) Resumed() {}

// DropContract returns only once every replica that heard the invalidation has dropped the
// contract: a caller told "invalidated" never finds it in another replica's memory.
func TestDropContractWaitsForEveryReplica(t *testing.T) {
	url, prefix := redistest.Start(t), redistest.Prefix(t)
	s := mustStore(t, patient(url, prefix), config{})
	ctx, cancel := context.WithCancel(t.Context())
	var done sync.WaitGroup
	defer func() { cancel(); done.Wait() }()
	feeds := make([]slowFeed, 3)
	for i := range feeds {
		feeds[i] = slowFeed{dropped: make(chan string, 1)}
		replica := mustStore(t, patient(url, prefix), config{})
		done.Go(func() { replica.Invalidations(ctx, feeds[i]) })
	}
	for deadline := time.Now().Add(10 * time.Second); s.rdb.PubSubNumSub(ctx, s.channel).Val()[s.channel] != 3; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("3 replicas not subscribed within 10s")
		}
	}
	if err := s.DropContract(ctx, "746839"); err != nil {
		t.Fatal(err)
	}
	for i, f := range feeds {
		select {
		case id := <-f.dropped:
			if id != "746839" {
				t.Errorf("replica %d dropped %q", i, id)
			}
		default:
			t.Errorf("replica %d had not dropped the contract when DropContract returned", i)
		}
	}
}

// gatedFeed's Drop waits for the test's gate, as a replica busy with a message would.
type gatedFeed struct {
	dropping chan string // told of each Drop as it begins
	gate     chan struct{}
	lost     atomic.Bool
}

func (f *gatedFeed) Drop(id string) { f.dropping <- id; <-f.gate }
func (f *gatedFeed) Lost()          { f.lost.Store(true) }
func (f *gatedFeed) Resumed()       { f.lost.Store(false) }

// A replica whose subscription broke while it was busy has not noticed yet, and serves from
// memory meanwhile; no invalidation is answered until it has noticed.
func TestDropContractWaitsForAListenerThatHasNotNoticed(t *testing.T) {
	url, _, _ := redistest.StartServer(t) // of its own: CLIENT KILL reaches every client
	prefix := redistest.Prefix(t)
	s := mustStore(t, patient(url, prefix), config{})
	replica := mustStore(t, patient(url, prefix), config{heartbeat: 100 * time.Millisecond})
	feed := &gatedFeed{dropping: make(chan string, 10), gate: make(chan struct{})}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); replica.Invalidations(ctx, feed) }()
	defer func() { cancel(); <-done }()
	var opened sync.Once
	open := func() { opened.Do(func() { close(feed.gate) }) }
	defer open() // before the replica is waited for, should the test fail with the gate shut
	for deadline := time.Now().Add(10 * time.Second); s.rdb.SIsMember(ctx, s.listenersKey(), replica.id).Val() == false; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the replica did not say it listens within 10s")
		}
	}

	first := make(chan error, 1)
	go func() { first <- s.DropContract(ctx, "1") }()
	<-feed.dropping // the replica is busy with 1
	if err := s.rdb.ClientKillByFilter(ctx, "TYPE", "pubsub").Err(); err != nil {
		t.Fatal(err)
	}
	second := make(chan error, 1)
	go func() { second <- s.DropContract(ctx, "2") }()
	select {
	case err := <-second:
		t.Fatalf("DropContract(2) returned (%v) while a listener that missed it had not noticed", err)
	case <-time.After(100 * time.Millisecond):
	}
	open()
	if err := <-first; err != nil {
		t.Errorf("DropContract(1): %v", err)
	}
	if err := <-second; err != nil || !feed.lost.Load() {
		t.Errorf("DropContract(2) = %v, replica lost %v; want nil once the replica knows it may miss some", err, feed.lost.Load())
	}
}

// TestApplyPolicy: the policy is set, whole, on the options of every topology a URL makes (a
// Sentinel's have no maintenance notifications, which go-redis turns off itself), so that a
// field renamed in go-redis cannot drop out of it unseen.
func TestApplyPolicy(t *testing.T) {
	want := policy(time.Second, 2*time.Second)
	for _, o := range []any{&redis.Options{}, &redis.FailoverOptions{}, &redis.ClusterOptions{}} {
		ApplyPolicy(o, time.Second, 2*time.Second)
		v := reflect.ValueOf(o).Elem()
		for name, value := range want {
			f := v.FieldByName(name)
			if !f.IsValid() {
				if _, sentinel := o.(*redis.FailoverOptions); !sentinel || name != "MaintNotificationsConfig" {
					t.Errorf("%T has no field %s", o, name)
				}
				continue
			}
			if !reflect.DeepEqual(f.Interface(), value) {
				t.Errorf("%T.%s = %v, want %v", o, name, f.Interface(), value)
			}
		}
	}
}
