package redisstore

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/enneo-facade/facade/upstream"
	"github.com/enneo-facade/facade/upstream/redisstore/redistest"
)

// The tests of this file run against a real Redis Cluster of three masters with a replica
// each: redistest's shared one where they only read and write, one of their own where they
// kill a node.

func TestMain(m *testing.M) {
	code := m.Run()
	redistest.StopSharedCluster()
	os.Exit(code)
}

// contractIDs returns n contract ids; tests check where their keys land.
func contractIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprint("c", i)
	}
	return ids
}

// mastersOf returns, for each master of cl, the ids whose keys in s it serves.
func mastersOf(t *testing.T, cl *redistest.Cluster, s *Store, ids []string) map[string][]string {
	t.Helper()
	by := map[string][]string{}
	for _, id := range ids {
		m := cl.MasterOf(t, s.hashKey(id))
		by[m] = append(by[m], id)
	}
	return by
}

// TestClusterHitsAcrossReplicas: two replicas of the facade, each with its own store and cache
// on one cluster URL and nothing kept in process: what one fetched is a hit on the other, on
// every master, and an invalidation through one is a miss on the other.
func TestClusterHitsAcrossReplicas(t *testing.T) {
	cl := redistest.SharedCluster(t)
	t.Cleanup(redistest.NoLeakedGoroutines(t))
	prefix := redistest.Prefix(t)
	u := newStubUpstream(t)
	var stores [2]*Store
	var caches [2]*upstream.Cache
	for i := range caches {
		stores[i] = mustStore(t, patient(cl.URL, prefix), config{})
		if _, ok := stores[i].rdb.(*redis.ClusterClient); !ok {
			t.Fatalf("the store on %s uses a %T, want a cluster client", cl.URL, stores[i].rdb)
		}
		caches[i] = mustCache(t, u, stores[i], upstream.CacheOptions{HotBytes: 1}) // every read goes to Redis
	}
	ids := contractIDs(30)
	if by := mastersOf(t, cl, stores[0], ids); len(by) != 3 {
		t.Fatalf("the keys of %d contracts are on %d masters, want 3", len(ids), len(by))
	}

	for i, r := range caches[0].Histories(t.Context(), alice, ids, nil) {
		if r.Err != nil || r.Cache != upstream.CacheMiss || subject(r) != "ticket of alice-token" {
			t.Fatalf("replica 0, first load of %s = %s, %v; want a miss with alice's history", ids[i], r.Cache, r.Err)
		}
	}
	caches[0].Flush()
	calls := u.calls.Load()
	for i, r := range caches[1].Histories(t.Context(), alice, ids, nil) {
		if r.Err != nil || r.Cache != upstream.CacheHit || subject(r) != "ticket of alice-token" ||
			*r.History.Tickets[0].ContractID != upstream.ID(ids[i]) {
			t.Errorf("replica 1, load of %s = %s, %v; want a hit with its own history", ids[i], r.Cache, r.Err)
		}
	}
	if n := u.calls.Load() - calls; n != 0 {
		t.Errorf("replica 1 made %d upstream calls for what replica 0 had fetched, want 0", n)
	}

	if err := caches[0].Invalidate(t.Context(), ids[0]); err != nil {
		t.Fatalf("Invalidate: %v", err)
	}
	if r := one(t, caches[1], alice, ids[0]); r.Cache != upstream.CacheMiss {
		t.Errorf("replica 1, load of %s after replica 0 invalidated it = %s, want a miss", ids[0], r.Cache)
	}
}

// nodePipelines is a hook on a cluster client's node clients that counts the pipelines each
// node was sent.
type nodePipelines struct {
	mu sync.Mutex
	n  map[string]int // node address -> pipelines
}

// countNodePipelines installs a nodePipelines on s's cluster client, before s has made any
// node client (go-redis calls OnNewNode only for nodes it makes afterwards).
func countNodePipelines(t *testing.T, s *Store) *nodePipelines {
	t.Helper()
	cc, ok := s.rdb.(*redis.ClusterClient)
	if !ok {
		t.Fatalf("store client is a %T, want a cluster client", s.rdb)
	}
	np := &nodePipelines{n: map[string]int{}}
	cc.OnNewNode(func(rdb *redis.Client) {
		addr := rdb.Options().Addr
		rdb.AddHook(hookFuncs{pipeline: func(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
			return func(ctx context.Context, cmds []redis.Cmder) error {
				np.mu.Lock()
				np.n[addr]++
				np.mu.Unlock()
				return next(ctx, cmds)
			}
		}})
	})
	return np
}

// take returns the counts so far and starts afresh.
func (np *nodePipelines) take() map[string]int {
	np.mu.Lock()
	defer np.mu.Unlock()
	n := np.n
	np.n = map[string]int{}
	return n
}

// hookFuncs is a go-redis hook of the given pipeline hook alone.
type hookFuncs struct {
	pipeline func(redis.ProcessPipelineHook) redis.ProcessPipelineHook
}

func (h hookFuncs) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (h hookFuncs) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (h hookFuncs) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return h.pipeline(next)
}

// TestClusterBatchAcrossSlots: one SetMany and one GetMany over contracts whose keys land on all
// three masters write and read every value, in order, as one pipeline per master.
func TestClusterBatchAcrossSlots(t *testing.T) {
	cl := redistest.SharedCluster(t)
	s := mustStore(t, patient(cl.URL, redistest.Prefix(t)), config{})
	np := countNodePipelines(t, s)
	ctx := t.Context()

	ids := contractIDs(60)
	masters := cl.Masters(t)
	by := mastersOf(t, cl, s, ids)
	if len(by) != 3 {
		t.Fatalf("the keys of %d contracts are on %d masters, want all 3 of %v", len(ids), len(by), masters)
	}
	for m, on := range by {
		t.Logf("%s serves %d of the %d contracts", m, len(on), len(ids))
	}

	var entries []upstream.Entry
	for i, id := range ids {
		entries = append(entries, entry(k(id, "scope-a"), []byte("a of "+id), time.Minute))
		if i%2 == 0 {
			entries = append(entries, entry(k(id, "scope-b"), bytes.Repeat([]byte(id), 1000), time.Minute))
		}
	}
	if err := s.SetMany(ctx, entries); err != nil {
		t.Fatalf("SetMany of %d entries: %v", len(entries), err)
	}
	np.take() // the first SetMany on a node may also load the script (see SetMany)
	for i := range entries {
		entries[i].Value = append([]byte("new "), entries[i].Value...)
	}
	if err := s.SetMany(ctx, entries); err != nil {
		t.Fatalf("SetMany of %d entries: %v", len(entries), err)
	}
	wantOnePerMaster := func(op string) {
		t.Helper()
		got := np.take()
		for _, m := range masters {
			if got[m] != 1 {
				t.Errorf("%s sent %d pipelines to master %s, want 1 (all: %v)", op, got[m], m, got)
			}
		}
		if len(got) != len(masters) {
			t.Errorf("%s sent pipelines to %v, want one to each of the masters %v", op, got, masters)
		}
	}
	wantOnePerMaster("SetMany")

	// Every entry, an absent scope of each contract and absent contracts, shuffled.
	var keys []upstream.EntryKey
	want := map[upstream.EntryKey][]byte{}
	for _, e := range entries {
		keys = append(keys, e.Key)
		want[e.Key] = e.Value
	}
	for _, id := range append(ids, "absent-1", "absent-2") {
		keys = append(keys, k(id, "scope-c"))
	}
	rand.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
	got, err := s.GetMany(ctx, keys)
	if err != nil {
		t.Fatalf("GetMany of %d keys: %v", len(keys), err)
	}
	wantOnePerMaster("GetMany")
	if len(got) != len(keys) {
		t.Fatalf("GetMany returned %d values for %d keys", len(got), len(keys))
	}
	for i, key := range keys {
		if !bytes.Equal(got[i], want[key]) || (got[i] == nil) != (want[key] == nil) {
			t.Errorf("GetMany: value %d, of %v = %.20q, want %.20q", i, key, got[i], want[key])
		}
	}
}

// TestClusterInvalidationsAcrossReplicas: a DropContract through one replica reaches another's
// Invalidations over pub/sub on the cluster, also after every pub/sub connection was killed:
// go-redis subscribes again by itself.
func TestClusterInvalidationsAcrossReplicas(t *testing.T) {
	cl := redistest.SharedCluster(t)
	t.Cleanup(redistest.NoLeakedGoroutines(t)) // runs last: clean-ups run in reverse order
	prefix := redistest.Prefix(t)
	a := mustStore(t, patient(cl.URL, prefix), config{})
	b := mustStore(t, patient(cl.URL, prefix), config{})
	ctx := t.Context()

	sub := subscribe(t, b)
	// expect waits for one DropContract's message: once subscribed, nothing is lost.
	expect := func(id string) {
		t.Helper()
		if !sub.arrives(id, 10*time.Second) {
			t.Fatalf("DropContract(%s) did not reach the other replica within 10s", id)
		}
	}

	sub.probe(t, a, "subscribed", 15*time.Second)
	entries := []upstream.Entry{
		entry(k("42", "scope-a"), []byte("42a"), time.Minute),
		entry(k("42", "scope-b"), []byte("42b"), time.Minute),
	}
	if err := a.SetMany(ctx, entries); err != nil {
		t.Fatalf("SetMany: %v", err)
	}
	if err := a.DropContract(ctx, "42"); err != nil {
		t.Fatalf("DropContract: %v", err)
	}
	expect("42")
	if vals, err := b.GetMany(ctx, []upstream.EntryKey{k("42", "scope-a"), k("42", "scope-b")}); err != nil || vals[0] != nil || vals[1] != nil {
		t.Errorf("other replica's GetMany after DropContract = %q, %v; want nothing", vals, err)
	}

	if n := cl.ClientKillPubSub(t); n < 1 {
		t.Fatalf("ClientKillPubSub() = %d, want at least the other replica's subscription", n)
	}
	sub.probe(t, a, "resubscribed", 15*time.Second)
	if err := a.DropContract(ctx, "43"); err != nil {
		t.Fatalf("DropContract after the subscription came back: %v", err)
	}
	expect("43")
}

// subscriber is a replica's Invalidations, running until the test ends.
type subscriber struct{ got chan string }

func subscribe(t *testing.T, s *Store) *subscriber {
	t.Helper()
	sub := &subscriber{got: make(chan string, 1000)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Invalidations(ctx, func(id string) { sub.got <- id })
	}()
	t.Cleanup(func() { cancel(); <-done })
	return sub
}

// arrives waits up to d for id, skipping others (probes of before, arrived late).
func (sub *subscriber) arrives(id string, d time.Duration) bool {
	timeout := time.NewTimer(d)
	defer timeout.Stop()
	for {
		select {
		case m := <-sub.got:
			if m == id {
				return true
			}
		case <-timeout.C:
			return false
		}
	}
}

// probe drops contracts named after name through from, one every 100 ms, until sub is told of
// one, and returns how many it dropped; it fails t after within. A message published while sub
// is not subscribed is lost, so this is how a test waits for a subscription, first or renewed.
func (sub *subscriber) probe(t *testing.T, from *Store, name string, within time.Duration) int {
	t.Helper()
	deadline := time.Now().Add(within)
	var err error
	for i := 1; ; i++ {
		id := fmt.Sprintf("%s-%d", name, i)
		if err = from.DropContract(t.Context(), id); err == nil && sub.arrives(id, 100*time.Millisecond) {
			return i
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: none of %d probes arrived within %v (last DropContract error: %v)", name, i, within, err)
		}
		if err != nil {
			time.Sleep(100 * time.Millisecond) // the pace of probes
		}
	}
}
