package redisstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/enneo-facade/facade/upstream"
	"github.com/enneo-facade/facade/upstream/cache"
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
	var caches [2]*cache.Cache
	for i := range caches {
		stores[i] = mustStore(t, patient(cl.URL, prefix), config{})
		if _, ok := stores[i].rdb.(*redis.ClusterClient); !ok {
			t.Fatalf("the store on %s uses a %T, want a cluster client", cl.URL, stores[i].rdb)
		}
		caches[i] = mustCache(t, u, stores[i], cache.Options{HotBytes: 1}) // every read goes to Redis
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

	var entries []cache.Entry
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
	var keys []cache.EntryKey
	want := map[cache.EntryKey][]byte{}
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
// the store subscribes again by itself (see Invalidations).
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
	entries := []cache.Entry{
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
	if vals, err := b.GetMany(ctx, []cache.EntryKey{k("42", "scope-a"), k("42", "scope-b")}); err != nil || vals[0] != nil || vals[1] != nil {
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
		s.Invalidations(ctx, dropFeed(func(id string) { sub.got <- id }))
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

// TestClusterHungBreakerOpens: on a cluster whose nodes all hang, the breaker opens after a few
// failures as on a single node, and then no call waits or dials.
func TestClusterHungBreakerOpens(t *testing.T) {
	var dials atomic.Int64
	seeds := []string{redistest.Blackhole(t), redistest.Blackhole(t)}
	for i, u := range seeds {
		seeds[i] = strings.TrimSuffix(strings.TrimPrefix(u, "redis://"), "/0")
	}
	url := "redis://" + seeds[0] + "?addr=" + seeds[1]
	s := mustStore(t, Options{URL: url, Prefix: "efctest:hung:"}, config{coolDown: time.Hour, dialer: countingDialer(&dials)})
	if _, ok := s.rdb.(*redis.ClusterClient); !ok {
		t.Fatalf("the store on %s uses a %T, want a cluster client", url, s.rdb)
	}
	keys := []cache.EntryKey{k("1", "a")}
	for i := range 3 {
		if _, err := s.GetMany(t.Context(), keys); err == nil || errors.Is(err, ErrUnavailable) {
			t.Fatalf("GetMany #%d on a hung cluster = %v, want a Redis error", i, err)
		}
	}
	dialed := dials.Load()
	for range 5 {
		start := time.Now()
		if _, err := s.GetMany(t.Context(), keys); !errors.Is(err, ErrUnavailable) {
			t.Errorf("GetMany after 3 failures = %v, want ErrUnavailable", err)
		}
		if d := time.Since(start); d > s.callTimeout {
			t.Errorf("GetMany with the breaker open took %v, want it at once", d)
		}
	}
	if n := dials.Load() - dialed; n != 0 {
		t.Errorf("%d dials with the breaker open, want none", n)
	}
}

// failoverWindow is the width of the hit ratio's windows in TestClusterMasterFailover.
const failoverWindow = 500 * time.Millisecond

// failoverGrace is how long after a master's replica is promoted the store may still fail
// calls and miss: issue 11 asks that hits resume "within a few seconds of the promotion".
const failoverGrace = 5 * time.Second // measured: under 0.5 s; the margin is for a loaded CI machine

// timeline counts lookups, hits and store calls per window of time.
type timeline struct {
	start time.Time

	mu      sync.Mutex
	windows []counts
	lastErr time.Time // of the latest store call that failed, or was skipped by the breaker
}

type counts struct {
	lookups, hits, errs, skipped int
	getTook                      time.Duration // of the store's reads in the window, summed
	gets                         int
}

func (tl *timeline) add(at time.Time, f func(*counts)) {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	i := int(at.Sub(tl.start) / failoverWindow)
	for len(tl.windows) <= i {
		tl.windows = append(tl.windows, counts{})
	}
	f(&tl.windows[i])
}

func (tl *timeline) storeCall(err error) {
	if err == nil {
		return
	}
	now := time.Now()
	tl.add(now, func(c *counts) {
		if errors.Is(err, ErrUnavailable) {
			c.skipped++
		} else {
			c.errs++
		}
	})
	tl.mu.Lock()
	tl.lastErr = now
	tl.mu.Unlock()
}

// recordingStore is a replica's store, with its failed calls on a timeline.
type recordingStore struct {
	cache.Store
	tl *timeline
}

func (s recordingStore) GetMany(ctx context.Context, keys []cache.EntryKey) ([][]byte, error) {
	start := time.Now()
	v, err := s.Store.GetMany(ctx, keys)
	s.tl.add(start, func(c *counts) { c.gets, c.getTook = c.gets+1, c.getTook+time.Since(start) })
	s.tl.storeCall(err)
	return v, err
}

func (s recordingStore) SetMany(ctx context.Context, entries []cache.Entry) error {
	err := s.Store.SetMany(ctx, entries)
	s.tl.storeCall(err)
	return err
}

// TestClusterMasterFailover (issue 11, point 1): two replicas with nothing kept in process read
// batches of contracts through the cluster without pause while one master is killed. No query
// fails; the breaker never skips Redis, since the other masters answer; their contracts are
// still hits until the promotion (a batch loses only what it had on the dead master); within failoverGrace of
// the replica's promotion the store fails no more calls and hits are back; and a third, idle
// replica's subscription, which was on the dead master, is back as soon. The hit ratio per
// window is logged.
func TestClusterMasterFailover(t *testing.T) {
	t.Cleanup(redistest.NoLeakedGoroutines(t))
	cl := redistest.StartCluster(t)
	u := newStubUpstream(t)
	tl := &timeline{start: time.Now()}
	logs := &syncBuffer{}
	dials := &dialLog{}
	var (
		stores [2]*Store
		caches [2]*cache.Cache
	)
	for i := range caches {
		// The store's own timeouts and breaker: they are part of what is tested.
		stores[i] = mustStore(t, Options{URL: cl.URL, Prefix: "efctest:failover:", Logger: logTo(logs)}, config{dialer: dials.dial})
		caches[i] = mustCache(t, u, recordingStore{stores[i], tl}, cache.Options{HotBytes: 1})
	}
	// A third replica, idle but for its subscription: it has no calls failing to tell it of
	// the new slot map.
	idle := mustStore(t, Options{URL: cl.URL, Prefix: "efctest:failover:"}, config{})
	sub := subscribe(t, idle)
	sub.probe(t, stores[0], "subscribed", 15*time.Second)

	ids := contractIDs(90)
	by := mastersOf(t, cl, stores[0], ids)
	// The victim serves the invalidation channel's slot, where go-redis subscribes.
	victim := cl.MasterOf(t, stores[0].channel)
	if len(by) != 3 {
		t.Fatalf("the keys of %d contracts are on %d masters, want 3", len(ids), len(by))
	}
	for _, c := range caches {
		c.Histories(t.Context(), alice, ids, nil)
		c.Flush()
	}

	// The load: two readers per replica, each reading batches of 10 random contracts, one every
	// 10 ms at most, as a dashboard's queries would.
	var (
		failed  atomic.Int64
		stop    = make(chan struct{})
		readers sync.WaitGroup
	)
	for r := range 4 {
		c := caches[r%2]
		readers.Go(func() {
			tick := time.NewTicker(10 * time.Millisecond)
			defer tick.Stop()
			batch := make([]string, 10)
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
				}
				for i := range batch {
					batch[i] = ids[rand.IntN(len(ids))]
				}
				res := c.Histories(context.Background(), alice, batch, nil)
				now := time.Now()
				tl.add(now, func(w *counts) {
					for _, r := range res {
						w.lookups++
						if r.Cache == upstream.CacheHit {
							w.hits++
						}
					}
				})
				for _, r := range res {
					if r.Err != nil || subject(r) != "ticket of alice-token" {
						if failed.Add(1) == 1 {
							t.Errorf("a query failed: %v", r.Err)
						}
					}
				}
			}
		})
	}
	stopReaders := sync.OnceFunc(func() {
		close(stop)
		readers.Wait()
		for _, c := range caches {
			c.Flush()
		}
	})
	defer stopReaders()

	// Two seconds of load, to show the hit ratio before; then the crash. (The sleeps set how
	// long the load runs, for the timeline; nothing waits on them for anything to happen.)
	time.Sleep(2 * time.Second)
	killed := time.Now()
	cl.KillMaster(t, victim)
	promoted := cl.WaitFailover(t, victim)
	promotedAt := time.Now()
	probes := sub.probe(t, stores[1], "after the failover", 15*time.Second)
	resubscribed := time.Since(promotedAt)
	// The grace, and two seconds more to show the hit ratio after.
	time.Sleep(failoverGrace + 2*time.Second)
	stopReaders()
	stoppedAt := time.Now()

	t.Logf("killed master %s (%d of %d contracts) at +0.0s; %s promoted at %+.1fs; failed queries: %d",
		victim, len(by[victim]), len(ids), promoted, promotedAt.Sub(killed).Seconds(), failed.Load())
	t.Logf("%8s %8s %6s %7s %8s %9s", "window", "lookups", "hits", "errors", "skipped", "read ms")
	tl.mu.Lock()
	defer tl.mu.Unlock()
	for i, w := range tl.windows {
		at := tl.start.Add(time.Duration(i) * failoverWindow)
		if at.Before(killed.Add(-2 * time.Second)) {
			continue // the warm-up
		}
		ratio := 0.0
		if w.lookups > 0 {
			ratio = float64(w.hits) / float64(w.lookups)
		}
		mean := 0.0
		if w.gets > 0 {
			mean = w.getTook.Seconds() * 1000 / float64(w.gets)
		}
		t.Logf("%+7.1fs %8d %5.0f%% %7d %8d %9.1f", at.Sub(killed).Seconds(), w.lookups, 100*ratio, w.errs, w.skipped, mean)
		if at.After(promotedAt.Add(failoverGrace)) && at.Add(failoverWindow).Before(stoppedAt) &&
			(w.lookups == 0 || ratio < 0.9) {
			t.Errorf("window at %+.1fs, %.1fs after the promotion: %d of %d lookups hit, want at least 90%%",
				at.Sub(killed).Seconds(), at.Sub(promotedAt).Seconds(), w.hits, w.lookups)
		}
	}
	// While the dead master's slots have none, the other masters' contracts are still hits:
	// a batch that touches the dead one loses only its contracts there.
	var during counts
	for i, w := range tl.windows {
		at := tl.start.Add(time.Duration(i) * failoverWindow)
		if !at.Before(killed) && at.Add(failoverWindow).Before(promotedAt) {
			during.lookups, during.hits = during.lookups+w.lookups, during.hits+w.hits
		}
	}
	live := 1 - float64(len(by[victim]))/float64(len(ids))
	if during.lookups == 0 || float64(during.hits) < 0.8*live*float64(during.lookups) {
		t.Errorf("between the crash and the promotion %d of %d lookups hit, want at least 80%% of the %.0f%% on the other masters",
			during.hits, during.lookups, 100*live)
	}
	t.Logf("the idle replica's subscription was back %.1fs after the promotion (%d probes)", resubscribed.Seconds(), probes)
	if resubscribed > failoverGrace {
		t.Errorf("the idle replica's subscription was back %.1fs after the promotion, want within %v", resubscribed.Seconds(), failoverGrace)
	}
	skipped := 0
	for _, w := range tl.windows {
		skipped += w.skipped
	}
	if skipped > 0 {
		t.Errorf("the breaker skipped Redis %d times while the other masters answered, want never", skipped)
	}
	if since := tl.lastErr.Sub(promotedAt); since > failoverGrace {
		t.Errorf("the store failed or skipped a call %.1fs after the promotion, want none after %v", since.Seconds(), failoverGrace)
	}
	t.Logf("log lines: %d degraded, %d recovered; dials of the dead master: %d before the promotion, %d after",
		strings.Count(logs.String(), "redis cache degraded"), strings.Count(logs.String(), "redis cache recovered"),
		dials.count(victim, killed, promotedAt), dials.count(victim, promotedAt, stoppedAt))
}

// dialLog is a dialer that notes when it dialed which address.
type dialLog struct {
	mu    sync.Mutex
	dials map[string][]time.Time
}

func (d *dialLog) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	d.mu.Lock()
	if d.dials == nil {
		d.dials = map[string][]time.Time{}
	}
	d.dials[addr] = append(d.dials[addr], time.Now())
	d.mu.Unlock()
	var nd net.Dialer
	return nd.DialContext(ctx, network, addr)
}

// count returns the dials of addr from since until before until.
func (d *dialLog) count(addr string, since, until time.Time) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for _, at := range d.dials[addr] {
		if !at.Before(since) && at.Before(until) {
			n++
		}
	}
	return n
}
