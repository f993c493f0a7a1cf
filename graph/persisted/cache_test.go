package persisted

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/redis/go-redis/v9"

	"github.com/enneo-facade/facade/upstream/redisstore"
	"github.com/enneo-facade/facade/upstream/redisstore/redistest"
)

// newTestClient returns a go-redis client for url under the facade's policy
// (redisstore.ApplyPolicy: no retries, one dial, ContextTimeoutEnabled, no identity round
// trips), with the given I/O timeout; it is closed when t ends.
func newTestClient(t *testing.T, url string, ioTimeout time.Duration) *redis.Client {
	t.Helper()
	o, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("ParseURL(%q): %v", url, err)
	}
	redisstore.ApplyPolicy(o, 5*time.Second, ioTimeout)
	c := redis.NewClient(o)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// sent is a go-redis hook that records the commands a client sends and how each ended.
type sent struct {
	mu   sync.Mutex
	cmds []sentCmd
}

type sentCmd struct {
	name string
	err  error
}

// record installs a sent hook on c.
func record(c *redis.Client) *sent {
	s := &sent{}
	c.AddHook(s)
	return s
}

func (s *sent) DialHook(next redis.DialHook) redis.DialHook { return next }

func (s *sent) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		s.mu.Lock()
		defer s.mu.Unlock()
		s.cmds = append(s.cmds, sentCmd{cmd.Name(), err})
		return err
	}
}

func (s *sent) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, cmd := range cmds {
			s.cmds = append(s.cmds, sentCmd{"pipeline " + cmd.Name(), err})
		}
		return err
	}
}

// take returns the commands recorded since the last take, other than the HELLO of a new
// connection's handshake, which passes the hooks too (the test clients send no other: no
// AUTH, SELECT 0, CLIENT SETINFO or maintenance notifications).
func (s *sent) take() []sentCmd {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []sentCmd
	for _, c := range s.cmds {
		if c.name != "hello" {
			out = append(out, c)
		}
	}
	s.cmds = nil
	return out
}

// names returns the names of cmds.
func names(cmds []sentCmd) []string {
	out := make([]string, len(cmds))
	for i, c := range cmds {
		out[i] = c.name
	}
	return out
}

func TestRedisCacheSharedByReplicas(t *testing.T) {
	url, prefix := redistest.Start(t), redistest.Prefix(t)
	const ttl = time.Hour
	rdbA, rdbB := newTestClient(t, url, 5*time.Second), newTestClient(t, url, 5*time.Second)
	a, b := NewRedisCache(rdbA, prefix, ttl, 1<<20), NewRedisCache(rdbB, prefix, ttl, 1<<20)
	ctx := t.Context()
	query := "query ContractTickets { contract(id: 1) { id } }"
	hash := sha256Hex(query)
	key := prefix + "apq:" + hash

	if got, ok := b.Get(ctx, hash); ok {
		t.Fatalf("Get(%q) before Add = %q, true; want a miss", hash, got)
	}
	a.Add(ctx, hash, query)
	if got, ok := b.Get(ctx, hash); !ok || got != query {
		t.Errorf("Get(%q) on another replica = %q, %v; want %q, true", hash, got, ok, query)
	}
	if got, err := rdbB.TTL(ctx, key).Result(); err != nil || got <= 0 || got > ttl {
		t.Errorf("TTL %s = %v, %v; want in (0, %v]", key, got, err, ttl)
	}

	// Get is one GET and leaves the TTL alone; Add is one SET and sets the TTL afresh.
	const short = 30 * time.Second
	if err := rdbB.Expire(ctx, key, short).Err(); err != nil {
		t.Fatalf("EXPIRE: %v", err)
	}
	cmds := record(rdbB)
	if got, ok := b.Get(ctx, hash); !ok || got != query {
		t.Errorf("Get(%q) = %q, %v; want %q, true", hash, got, ok, query)
	}
	if got := names(cmds.take()); strings.Join(got, " ") != "get" {
		t.Errorf("Get sent %q, want one get", got)
	}
	if got, err := rdbA.TTL(ctx, key).Result(); err != nil || got <= 0 || got > short {
		t.Errorf("TTL %s after Get = %v, %v; want in (0, %v]: Get must not refresh it", key, got, err, short)
	}
	b.Add(ctx, hash, query)
	if got := names(cmds.take()); strings.Join(got, " ") != "set" {
		t.Errorf("Add sent %q, want one set", got)
	}
	if got, err := rdbA.TTL(ctx, key).Result(); err != nil || got <= short || got > ttl {
		t.Errorf("TTL %s after a second Add = %v, %v; want in (%v, %v]", key, got, err, short, ttl)
	}
}

func TestRedisCacheSkips(t *testing.T) {
	rdb := newTestClient(t, redistest.Start(t), 5*time.Second)
	prefix := redistest.Prefix(t)
	const maxBytes = 32
	c := NewRedisCache(rdb, prefix, time.Hour, maxBytes)
	ctx := t.Context()
	fits := strings.Repeat("q", maxBytes)
	hash := sha256Hex(fits)
	cmds := record(rdb)

	for _, tc := range []struct {
		name, key, value string
	}{
		{"empty key", "", fits},
		{"short key", hash[:63], fits},
		{"long key", hash + "0", fits},
		{"upper-case key", strings.ToUpper(hash), fits},
		{"non-hex key", strings.Repeat("g", 64), fits},
		{"prefixed key", "sha256:" + hash, fits},
		{"key with a pattern", strings.Repeat("*", 64), fits},
		{"value over maxBytes", hash, fits + "q"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c.Add(ctx, tc.key, tc.value)
			if got := cmds.take(); len(got) != 0 {
				t.Errorf("Add(%q, %d bytes) sent %q, want nothing", tc.key, len(tc.value), names(got))
			}
			if n, err := rdb.Exists(ctx, prefix+"apq:"+tc.key).Result(); err != nil || n != 0 {
				t.Errorf("EXISTS after Add(%q, %d bytes) = %d, %v; want 0", tc.key, len(tc.value), n, err)
			}
			cmds.take() // the EXISTS
			if tc.key == hash {
				return // a well-formed key: Get asks Redis, as it must
			}
			if got, ok := c.Get(ctx, tc.key); ok {
				t.Errorf("Get(%q) = %q, true; want a miss", tc.key, got)
			}
			if got := cmds.take(); len(got) != 0 {
				t.Errorf("Get(%q) sent %q, want nothing", tc.key, names(got))
			}
		})
	}

	// A value of exactly maxBytes is stored.
	c.Add(ctx, hash, fits)
	if got, ok := c.Get(ctx, hash); !ok || got != fits {
		t.Errorf("Get(%q) after Add of %d bytes = %q, %v; want %q, true", hash, maxBytes, got, ok, fits)
	}
}

// isTimeout reports whether err is a network timeout, as a read deadline gives.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func TestRedisCacheHungRedis(t *testing.T) {
	// A short I/O timeout, as in production: it is what ends each call.
	rdb := newTestClient(t, redistest.Blackhole(t), 100*time.Millisecond)
	c := NewRedisCache(rdb, "efctest:hung:", time.Hour, 1<<20)
	cmds := record(rdb)
	query := "query { secret }"
	hash := sha256Hex(query)

	if got, ok := c.Get(t.Context(), hash); ok {
		t.Errorf("Get(%q) on a hung Redis = %q, true; want a miss", hash, got)
	}
	c.Add(t.Context(), hash, query)
	// One try each (no retries), each ended by the client's read timeout.
	got := cmds.take()
	if strings.Join(names(got), " ") != "get set" {
		t.Fatalf("Get and Add on a hung Redis sent %q, want one get and one set", names(got))
	}
	for _, cmd := range got {
		if !isTimeout(cmd.err) {
			t.Errorf("%s on a hung Redis ended with %v, want a timeout", cmd.name, cmd.err)
		}
	}
}

func TestRedisCacheCallerContext(t *testing.T) {
	// Timeouts long enough that only the caller's context can end a call in a test's time.
	rdb := newTestClient(t, redistest.Blackhole(t), time.Minute)
	c := NewRedisCache(rdb, "efctest:hung:", time.Hour, 1<<20)
	cmds := record(rdb)
	query := "query { secret }"
	hash := sha256Hex(query)

	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	if got, ok := c.Get(cancelled, hash); ok {
		t.Errorf("Get(%q) with a cancelled context = %q, true; want a miss", hash, got)
	}
	c.Add(cancelled, hash, query)

	short, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if got, ok := c.Get(short, hash); ok {
		t.Errorf("Get(%q) past the caller's deadline = %q, true; want a miss", hash, got)
	}
	c.Add(short, hash, query)

	got := cmds.take()
	if strings.Join(names(got), " ") != "get set get set" {
		t.Fatalf("Get and Add sent %q, want one get and one set per context", names(got))
	}
	for i, cmd := range got {
		if i < 2 && !errors.Is(cmd.err, context.Canceled) {
			t.Errorf("%s with a cancelled context ended with %v, want context.Canceled", cmd.name, cmd.err)
		}
		if i >= 2 && !errors.Is(cmd.err, context.DeadlineExceeded) && !isTimeout(cmd.err) {
			t.Errorf("%s past the caller's deadline ended with %v, want its deadline", cmd.name, cmd.err)
		}
	}
}

func TestChain(t *testing.T) {
	m := mustReadManifest(t, "apollo.json")
	ops := testdataOps(t, "apollo.json")
	id := firstKey(ops)
	body := ops[id]
	hash := sha256Hex(body)
	learnt := "query Learnt { contract(id: 2) { id } }"
	learntHash := sha256Hex(learnt)
	ctx := t.Context()

	c := graphql.MapCache[string]{
		hash:       "stale text under a manifest hash", // the manifest must win
		learntHash: learnt,
	}
	ch := Chain(m, c)
	for _, tc := range []struct {
		key, want string
		ok        bool
	}{
		{id, body, true},
		{hash, body, true},
		{"sha256:" + hash, body, true},
		{learntHash, learnt, true},
		{sha256Hex("query Unknown { x }"), "", false},
	} {
		if got, ok := ch.Get(ctx, tc.key); ok != tc.ok || got != tc.want {
			t.Errorf("Chain Get(%q) = %.30q, %v; want %.30q, %v", tc.key, got, ok, tc.want, tc.ok)
		}
	}

	// Add goes to the cache, except for what the manifest answers.
	added := "query Added { contract(id: 3) { id } }"
	ch.Add(ctx, sha256Hex(added), added)
	if got, ok := c[sha256Hex(added)]; !ok || got != added {
		t.Errorf("after Chain Add: cache has %q, %v; want %q, true", got, ok, added)
	}
	if got, ok := ch.Get(ctx, sha256Hex(added)); !ok || got != added {
		t.Errorf("Chain Get(%q) after Add = %q, %v; want %q, true", sha256Hex(added), got, ok, added)
	}
	if _, ok := m.Lookup(sha256Hex(added)); ok || m.Len() != len(ops) {
		t.Errorf("Chain Add changed the manifest: Lookup found the added query or Len() = %d, want %d", m.Len(), len(ops))
	}
	delete(c, hash)
	ch.Add(ctx, hash, body)
	if _, ok := c[hash]; ok {
		t.Errorf("Chain Add(%q) of a manifest operation wrote to the cache, want nothing", hash)
	}

	// Without a cache: a pure safelist that learns nothing.
	safelist := Chain(m, nil)
	safelist.Add(ctx, learntHash, learnt)
	if got, ok := safelist.Get(ctx, learntHash); ok {
		t.Errorf("Chain(m, nil) Get(%q) after Add = %q, true; want a miss", learntHash, got)
	}
	if got, ok := safelist.Get(ctx, id); !ok || got != body {
		t.Errorf("Chain(m, nil) Get(%q) = %.30q, %v; want %.30q, true", id, got, ok, body)
	}

	// Without a manifest: just the cache.
	if got, ok := Chain(nil, c).Get(ctx, learntHash); !ok || got != learnt {
		t.Errorf("Chain(nil, c) Get(%q) = %q, %v; want %q, true", learntHash, got, ok, learnt)
	}
}

func TestNewRedisCacheRefusesNoTTL(t *testing.T) {
	for _, ttl := range []time.Duration{0, -time.Second, time.Microsecond} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("NewRedisCache with TTL %v did not panic", ttl)
				}
			}()
			NewRedisCache(nil, "p:", ttl, 0)
		}()
	}
}
