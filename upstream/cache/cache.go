// Package cache is a decorator over the upstream client: the contract histories it fetches,
// kept in process and in a Store (Redis, or memory) under the caller's credential scope, served
// fresh without an upstream call and stale when the upstream fails. It depends only on Upstream,
// a small interface of its own that *upstream.Client satisfies, as go-redis/cache depends only on
// its own rediser; the Redis store (upstream/redisstore) implements its Store.
package cache

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"resenje.org/singleflight"

	"github.com/enneo-facade/facade/upstream"
	"github.com/enneo-facade/facade/upstream/lru"
)

// Upstream is what the cache needs of the REST client (*upstream.Client): a history's raw body,
// which is what the cache stores, and the decoder that reads it, fresh or stored.
type Upstream interface {
	// HistoryBody fetches the raw body of contractID's history with token (or the client's
	// service token): JSON, not yet decoded, and the caller's to keep.
	HistoryBody(ctx context.Context, token, contractID string) ([]byte, error)
	// DecodeHistory decodes what p keeps of a history body (all of it for a nil p); it fails
	// exactly when decoding the whole body would.
	DecodeHistory(body []byte, contractID string, p *upstream.Projection) (*upstream.History, error)
	// ContractBody and DecodeContract are the same for the contract's own record
	// (GET /contract/{id}), which the cache keeps beside its history (see Contracts).
	ContractBody(ctx context.Context, token, contractID string) ([]byte, error)
	DecodeContract(body []byte, contractID string) (*upstream.Contract, error)
	// NeedsCallerToken reports whether calls need the caller's own token (no service token is
	// set): a caller without one is refused before anything cached is looked at.
	NeedsCallerToken() bool
	// Bounds are the upstream's: how many calls one batch makes at once, which bounds the
	// cache's batches too, and the largest body it accepts, which bounds a stored body once
	// decompressed (a larger bound would store what is never read back).
	Bounds() (concurrency int, maxBodyBytes int64)
}

// Observer is told of every lookup, for metrics. It runs on the lookup's path: it must be cheap
// and safe for concurrent use.
type Observer interface {
	// CacheLookup is one contract looked up in a layer ("hot", "store") with its result
	// ("hit", "miss", "stale", "revalidating", "error").
	CacheLookup(layer, result string)
}

// Options configures a Cache. Zero values take the defaults noted beside each field.
type Options struct {
	// TTL is how long a history is fresh (default 60s); each entry gets up to 10% more, so
	// that entries written together do not all expire together.
	TTL time.Duration
	// StaleTTL is how long an entry is kept after it is no longer fresh, to be served only when
	// the upstream fails (default 10m).
	StaleTTL time.Duration
	// Revalidate is a window after TTL (at most StaleTTL; default 0, off) in which an expired
	// history is served at once, marked upstream.CacheRevalidating, while one refresh per
	// contract and scope runs in the background (RFC 5861's stale-while-revalidate).
	Revalidate time.Duration
	// NotFoundTTL is how long a 404 is remembered for its scope (default, and at most, 30s).
	NotFoundTTL time.Duration
	// HotBytes bounds the decoded histories kept in process in front of the store, so that a hit
	// does not pay for decoding (default 64 MiB).
	HotBytes int64
	// EncryptionKey, 32 bytes, seals stored values with AES-256-GCM; nil stores them plain.
	EncryptionKey []byte
	// Logger receives warnings about the store; nil discards them.
	Logger *slog.Logger
	// Observer is told of every lookup, by layer and result (nil: none).
	Observer Observer
	// Changed is told of every invalidation, made here or heard from another replica, once the
	// contract's entries are gone from the store, so that what it reads next is new (live
	// updates, graph/live). It runs on the invalidation's path: it must return at once.
	Changed func(contractID string)
	// Hearing is told when the cache stops hearing other replicas' invalidations (false) and
	// hears them again (true), for live updates to poll meanwhile. It must return at once.
	Hearing func(ok bool)
}

// Cache is the client's Histories with a cache in front: fresh entries are served without an
// upstream call, concurrent fetches of one (scope, contract) in this process become one call,
// and an expired entry is served, marked stale, when the upstream fails. Entries live in a Store
// (Redis or memory) under the caller's credential scope, so no caller ever receives what was
// fetched with another caller's token.
type Cache struct {
	up          Upstream
	concurrency int // the upstream's: calls (and decodes) one batch runs at once
	store       Store
	codec       *codec
	o           Options
	hot         *lru.Map[EntryKey, *hotEntry]
	flight      singleflight.Group[string, *fetched]
	log         *slog.Logger

	mu          sync.Mutex
	invalidated map[string]time.Time // contract -> when it was last invalidated, for a minute
	resumed     time.Time            // when the invalidation feed last came back: older is suspect
	closed      bool                 // no more background refreshes start
	// deaf is set while the store's invalidation feed may be missing invalidations (see
	// InvalidationFeed): nothing kept in process is served then, and nothing fetched is kept.
	deaf atomic.Bool

	refreshing sync.Map // EntryKey -> struct{}: a background refresh is under way
	background context.Context
	stop       context.CancelFunc // ends background refreshes, at Close
	refreshes  sync.WaitGroup

	// Writes to the store happen after a batch has answered (see writeBehind). Each holds
	// writing for reading; Invalidate takes it for writing, so that no write started before an
	// invalidation lands after it.
	writing    sync.RWMutex
	writeSlots chan struct{} // one per write under way
	flushing   sync.Mutex
}

// hotEntry is a cache entry in process. An entry just fetched for a projecting caller keeps its body and is decoded whole on its first hit, so that a contract
// asked for once, as in a cold batch, is never decoded whole.
type hotEntry struct {
	notFound bool // the upstream answered 404
	size     int  // of the upstream's body, to estimate the decoded size
	fetched  time.Time
	// current is when the entry was last known to be the latest: its fetch, or its read from
	// the store, which invalidations empty. An entry read from the store after a restart
	// dates from its fetch, before the feed began, yet it is as good as one fetched then.
	current    time.Time
	freshUntil time.Time
	staleUntil time.Time
	rs         *resource // what it holds

	decode  sync.Once
	body    []byte            // until decoded
	history *upstream.History // once decoded
	err     error
}

// whole returns the entry's history, decoding its body on first use.
func (e *hotEntry) whole(up Upstream, id string) (*upstream.History, error) {
	e.decode.Do(func() {
		if e.body != nil {
			e.history, e.err = e.rs.decode(up, e.body, id, nil)
			e.body = nil
		}
	})
	return e.history, e.err
}

func (e *hotEntry) result(up Upstream, id, cache string, now time.Time) upstream.Result {
	r := upstream.Result{Cache: cache, Age: now.Sub(e.fetched), FreshUntil: e.freshUntil, Current: e.current}
	if e.notFound {
		r.Err = &upstream.StatusError{Method: http.MethodGet, Path: "(cached)", Status: http.StatusNotFound}
	} else {
		r.History, r.Err = e.whole(up, id)
	}
	return r
}

// New returns a Cache over up, keeping entries in store.
func New(up Upstream, store Store, o Options) (*Cache, error) {
	if o.TTL <= 0 {
		o.TTL = 60 * time.Second
	}
	if o.StaleTTL <= 0 {
		o.StaleTTL = 10 * time.Minute
	}
	o.Revalidate = min(max(o.Revalidate, 0), o.StaleTTL) // an entry is kept no longer
	if o.NotFoundTTL <= 0 || o.NotFoundTTL > 30*time.Second {
		o.NotFoundTTL = 30 * time.Second
	}
	if o.HotBytes <= 0 {
		o.HotBytes = 64 << 20
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Observer == nil {
		o.Observer = nop{}
	}
	concurrency, maxBody := up.Bounds()
	codec, err := newCodec(o.EncryptionKey, maxBody)
	if err != nil {
		return nil, err
	}
	background, stop := context.WithCancel(context.Background())
	return &Cache{
		up: up, store: store, codec: codec, o: o, log: o.Logger, concurrency: concurrency,
		hot:         lru.New[EntryKey, *hotEntry](o.HotBytes),
		invalidated: map[string]time.Time{},
		writeSlots:  make(chan struct{}, 64),
		background:  background, stop: stop,
	}, nil
}

// nop is the Observer of those who set none.
type nop struct{}

func (nop) CacheLookup(string, string) {}

// Status reports the store's state for /readyz: "memory", "ok" or "degraded".
func (c *Cache) Status() string { return c.store.Status() }

// Peek returns id's history for cred if a fresh one is at hand in process, without waiting for
// anything: loaders use it to answer hot contracts without collecting a batch first.
func (c *Cache) Peek(cred upstream.Credential, id string) (upstream.Result, bool) {
	now := time.Now()
	e, ok := c.hotEntry(EntryKey{id, cred.Scope}, now)
	if !ok || e.notFound || !now.Before(e.freshUntil) || cred.Token == "" && c.up.NeedsCallerToken() {
		return upstream.Result{}, false // a remembered 404 is the loader's to report
	}
	r := e.result(c.up, id, upstream.CacheHit, now)
	return r, r.Err == nil
}

// Histories returns the histories of ids for cred, in order: from the process's hot layer,
// then from the store in one round trip, then from the upstream for the rest, whose new entries
// are written back in one more round trip, behind the answer (see writeBehind).
//
// Histories fetched from the upstream are decoded for the caller through p (everything for a
// nil p; the entries cached stay whole), so those results may lack what p leaves out. Hits are
// whole.
func (c *Cache) Histories(ctx context.Context, cred upstream.Credential, ids []string, p *upstream.Projection) []upstream.Result {
	return c.lookup(ctx, histories, cred, ids, p)
}

// lookup is Histories for what rs says the cache keeps of a contract.
func (c *Cache) lookup(ctx context.Context, rs *resource, cred upstream.Credential, ids []string, p *upstream.Projection) []upstream.Result {
	cred.Scope += rs.scope // every key below is rs's
	now := time.Now()
	res := make([]upstream.Result, len(ids))
	stale := make([]*hotEntry, len(ids)) // the newest expired entry of each id, for a failing upstream
	staleLayer := make([]string, len(ids))
	obs := c.o.Observer
	var cold []int
	for i, id := range ids {
		switch {
		case !upstream.ValidID(id):
			res[i].Err = upstream.ErrInvalidID
			continue
		case cred.Token == "" && c.up.NeedsCallerToken():
			res[i].Err = upstream.ErrNoCredential
			continue
		}
		if e, ok := c.hotEntry(EntryKey{id, cred.Scope}, now); ok {
			if now.Before(e.freshUntil) {
				obs.CacheLookup("hot", "hit")
				res[i] = e.result(c.up, id, upstream.CacheHit, now)
				continue
			}
			stale[i], staleLayer[i] = e, "hot"
		}
		obs.CacheLookup("hot", "miss")
		cold = append(cold, i)
	}
	if len(cold) == 0 {
		return res
	}

	keys := make([]EntryKey, len(cold))
	for j, i := range cold {
		keys[j] = EntryKey{ids[i], cred.Scope}
	}
	values, readErr := c.store.GetMany(ctx, keys)
	if readErr != nil && ctx.Err() != nil {
		// The caller left (a client that hung up, a deadline) while Redis was being read: not a
		// Redis failure to count, and nothing to fetch for nobody.
		for _, i := range cold {
			res[i].Err = ctx.Err()
		}
		return res
	}
	// Redis trouble never fails a query: what could not be read is treated as missing, and what
	// could (the other masters of a cluster) is used. Decoding is the costly part of a store
	// hit (the JSON, not the zstd), so fresh entries are decoded in parallel; expired ones only
	// if they are served, stale.
	found := make([]*hotEntry, len(cold))
	c.each(len(cold), func(j int) {
		if j < len(values) && values[j] != nil {
			found[j], _ = c.decodeEntry(rs, keys[j], values[j], now)
		}
	})
	var missing []int
	for j, i := range cold {
		if e := found[j]; e != nil {
			if now.Before(e.freshUntil) {
				obs.CacheLookup("store", "hit")
				if !c.invalidatedSince(ids[i], now) { // read before an invalidation heard since
					c.keepHot(keys[j], e)
				}
				res[i] = e.result(c.up, ids[i], upstream.CacheHit, now)
				continue
			}
			if now.Before(e.staleUntil) && (stale[i] == nil || e.fetched.After(stale[i].fetched)) {
				stale[i], staleLayer[i] = e, "store"
			}
		}
		if readErr != nil {
			obs.CacheLookup("store", "error") // unread, or absent beside a part that failed
		} else {
			obs.CacheLookup("store", "miss")
		}
		if e := stale[i]; e != nil && c.revalidates(e, ids[i], now) {
			// Neither this process nor the store has it fresh: serve what there is at once.
			obs.CacheLookup(staleLayer[i], upstream.CacheRevalidating)
			res[i] = e.result(c.up, ids[i], upstream.CacheRevalidating, now)
			c.refresh(rs, cred, ids[i])
			continue
		}
		missing = append(missing, i)
	}

	var (
		mu      sync.Mutex
		writes  []pendingWrite
		staleBy error // why the last stale history was served
		stales  int
	)
	c.each(len(missing), func(j int) {
		i := missing[j]
		f, err := c.fetch(ctx, rs, cred, ids[i], p)
		switch {
		case err == nil && f.hit:
			res[i] = f.entry.result(c.up, ids[i], upstream.CacheHit, time.Now())
		case err == nil && f.entry.notFound:
			res[i] = f.entry.result(c.up, ids[i], upstream.CacheMiss, time.Now())
		case err == nil:
			// Its age counts from when the upstream was asked: whatever is built from it (the
			// response cache) dates from then, and an invalidation while the call was in flight
			// makes it out of date.
			res[i] = upstream.Result{Cache: upstream.CacheMiss, Age: time.Since(f.entry.fetched), FreshUntil: f.entry.freshUntil, Current: f.entry.fetched}
			res[i].History, res[i].Err = c.historyOf(f, ids[i], p)
		case stale[i] != nil && servesStale(err):
			obs.CacheLookup(staleLayer[i], upstream.CacheStale)
			res[i] = stale[i].result(c.up, ids[i], upstream.CacheStale, time.Now())
			mu.Lock()
			stales, staleBy = stales+1, err
			mu.Unlock()
			return
		default:
			res[i] = upstream.Result{Err: err}
			return
		}
		if f.stored != nil && f.queued.CompareAndSwap(false, true) { // once, whoever waited on it
			mu.Lock()
			writes = append(writes, pendingWrite{key: ids[i], s: f.stored})
			mu.Unlock()
		}
	})
	if stales > 0 {
		// One line per batch, naming no contract: its id came from the caller.
		c.log.WarnContext(ctx, "upstream failed: serving stale histories", "stale", stales, "err", upstream.Kind(staleBy))
	}
	if len(writes) > 0 && readErr == nil { // when the store just failed to read, writing is futile
		c.writeBehind(ctx, cred.Scope, writes, now)
	}
	return res
}

// revalidates reports whether e, expired, may still be served while it is refreshed: within the
// revalidation window, and not invalidated since it was fetched (an invalidation means it is
// wrong, not old).
func (c *Cache) revalidates(e *hotEntry, id string, now time.Time) bool {
	return c.o.Revalidate > 0 && !e.notFound && now.Before(e.freshUntil.Add(c.o.Revalidate)) && !c.invalidatedSince(id, e.current)
}

// refresh fetches id's history for cred in the background, unless a refresh of it is under
// way, and writes it to the store: the next caller finds it fresh.
func (c *Cache) refresh(rs *resource, cred upstream.Credential, id string) {
	key := EntryKey{id, cred.Scope}
	if _, busy := c.refreshing.LoadOrStore(key, struct{}{}); busy {
		return
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		c.refreshing.Delete(key)
		return
	}
	c.refreshes.Add(1) // under mu, so never after Close's Wait has begun
	c.mu.Unlock()
	go func() {
		defer c.refreshes.Done()
		defer c.refreshing.Delete(key)
		// Nobody waits for it, so nobody's deadline bounds it: the client's retries and
		// timeouts do, this, and Close.
		ctx, cancel := context.WithTimeout(c.background, refreshTimeout)
		defer cancel()
		started := time.Now()
		f, err := c.fetch(ctx, rs, cred, id, nil)
		if err != nil {
			c.log.Debug("background refresh failed", "err", upstream.Kind(err))
			return
		}
		if f.stored != nil && f.queued.CompareAndSwap(false, true) {
			c.writeBehind(ctx, cred.Scope, []pendingWrite{{key: id, s: f.stored}}, started)
		}
	}()
}

// refreshTimeout bounds a background refresh.
const refreshTimeout = 30 * time.Second

// pendingWrite is a fetched entry on its way to the store.
type pendingWrite struct {
	key string // the contract id
	s   *stored
}

// writeBehind encodes a batch's new entries and writes them to the store, in one round trip,
// once the caller is done: after the upstream itself, compressing and writing are the slowest
// part of a cold batch, and no caller needs to wait for them. It starts when ctx ends (a
// request's context ends when its answer is written; on a single core, compressing alongside
// the answer delayed it by milliseconds) or after writeDelay, whichever is first. Entries of
// contracts invalidated since the batch started are dropped. With too many writes under way,
// the batch writes before it answers instead.
func (c *Cache) writeBehind(ctx context.Context, scope string, writes []pendingWrite, started time.Time) {
	write := func() {
		c.writing.RLock()
		defer c.writing.RUnlock()
		var kept []Entry
		for _, w := range writes {
			if !c.invalidatedSince(w.key, started) {
				key := EntryKey{w.key, scope}
				kept = append(kept, Entry{Key: key, Value: c.codec.encode(key, *w.s), TTL: time.Until(w.s.staleUntil)})
			}
		}
		if len(kept) == 0 {
			return
		}
		// Not bound to the caller, who is gone by now, but in its trace.
		if err := c.store.SetMany(context.WithoutCancel(ctx), kept); err != nil {
			c.log.Debug("cache write failed", "err", err)
		}
	}
	select {
	case c.writeSlots <- struct{}{}:
		go func() {
			defer func() { <-c.writeSlots }()
			wait := time.NewTimer(writeDelay)
			select {
			case <-ctx.Done():
			case <-wait.C:
			}
			wait.Stop()
			write()
		}()
	default:
		write()
	}
}

// writeDelay is the longest a write waits for its caller to be done (see writeBehind).
const writeDelay = 20 * time.Millisecond

// Close ends the background refreshes under way and waits for them and for the writes under
// way (at shutdown, before the store closes). The cache answers on after it, without
// refreshing in the background.
func (c *Cache) Close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.stop()
	c.refreshes.Wait()
	c.Flush()
}

// Flush waits for the writes under way, by taking every write slot in turn (at Close, and in
// tests).
func (c *Cache) Flush() {
	c.flushing.Lock()
	defer c.flushing.Unlock()
	for range cap(c.writeSlots) {
		c.writeSlots <- struct{}{}
	}
	for range cap(c.writeSlots) {
		<-c.writeSlots
	}
}

// fetched is what one upstream fetch yields for every caller waiting on it.
type fetched struct {
	entry  *hotEntry
	stored *stored     // the entry for the store; nil when it must not be stored
	hit    bool        // another fetch had just stored a fresh entry
	queued atomic.Bool // stored is queued for writing: concurrent callers share one fetch
	// selected is the history decoded through the projection selectedFor (nil: decoded
	// whole, in entry), and body what it was decoded from.
	selected    *upstream.History
	selectedFor *upstream.Projection
	body        []byte
}

// historyOf returns the fetched history for a caller reading through p.
func (c *Cache) historyOf(f *fetched, id string, p *upstream.Projection) (*upstream.History, error) {
	switch {
	case f.selectedFor != nil && f.selectedFor == p:
		return f.selected, nil
	case f.selectedFor == nil || p == nil:
		return f.entry.whole(c.up, id)
	}
	return f.entry.rs.decode(c.up, f.body, id, p) // a concurrent caller's fetch, another query
}

// fetch calls the upstream for a caller (see fetchOnce). A caller that joined a call begun
// before an invalidation the caller itself came after would get what the invalidation
// replaced: it asks again, once.
func (c *Cache) fetch(ctx context.Context, rs *resource, cred upstream.Credential, id string, p *upstream.Projection) (*fetched, error) {
	asked := time.Now()
	f, err := c.fetchOnce(ctx, rs, cred, id, p)
	if err == nil && c.invalidatedBetween(id, f.entry.fetched, asked) {
		// The call that answered stays joinable until its last caller has left: a new one.
		c.flight.Forget(flightKey(cred, id))
		f, err = c.fetchOnce(ctx, rs, cred, id, p)
	}
	return f, err
}

func flightKey(cred upstream.Credential, id string) string { return cred.Scope + "\x00" + id }

// invalidatedBetween reports whether contractID was last invalidated at or after from and at
// or before to.
func (c *Cache) invalidatedBetween(contractID string, from, to time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	at, ok := c.invalidated[contractID]
	return ok && !at.Before(from) && !at.After(to)
}

// fetchOnce calls the upstream once for all concurrent callers of the same scope and contract.
// A caller that gives up stops waiting but does not cancel the call for the others; once every
// caller has given up, the call is cancelled (resenje.org/singleflight: x/sync's ran on for
// nobody). It runs within the first caller's deadline.
func (c *Cache) fetchOnce(ctx context.Context, rs *resource, cred upstream.Credential, id string, p *upstream.Projection) (*fetched, error) {
	if err := ctx.Err(); err != nil {
		// A caller out of time starts nothing: the fetch would run on, detached, for nobody,
		// once for each contract of a batch that fans out.
		return nil, err
	}
	deadline, hasDeadline := ctx.Deadline()
	f, _, err := c.flight.Do(ctx, flightKey(cred, id), func(ctx context.Context) (*fetched, error) {
		if hasDeadline {
			var cancel context.CancelFunc
			ctx, cancel = context.WithDeadline(ctx, deadline)
			defer cancel()
		}
		started := time.Now()
		key := EntryKey{id, cred.Scope}
		// A caller that missed while the previous fetch of this key was finishing arrives just
		// after it: that fetch's entry is hot by now.
		if e, ok := c.hotEntry(key, started); ok && started.Before(e.freshUntil) {
			return &fetched{entry: e, hit: true}, nil
		}
		body, err := rs.body(c.up, ctx, cred.Token, id)
		switch {
		case errors.Is(err, upstream.ErrNotFound):
			// Remembered briefly, for this scope only: a 404 may mean "not yours".
			fresh := started.Add(min(c.o.NotFoundTTL, c.o.TTL))
			return c.remember(rs, key, stored{kind: kindNotFound, fetched: started, freshUntil: fresh, staleUntil: fresh}, nil), nil
		case err != nil:
			return nil, err // 401, 403, 429, 5xx, timeouts: never stored
		}
		// Decoding through a projection fails exactly when decoding whole would (see
		// decodeSelected), so it also decides what is stored.
		h, err := rs.decode(c.up, body, id, p)
		if err != nil {
			return nil, err // undecodable bodies are never stored
		}
		fresh := started.Add(c.o.TTL + rand.N(c.o.TTL/10+1))
		s := stored{kind: kindHistory, fetched: started, freshUntil: fresh, staleUntil: fresh.Add(c.o.StaleTTL), body: body}
		if p == nil {
			return c.remember(rs, key, s, h), nil
		}
		f := c.remember(rs, key, s, nil)
		f.selected, f.selectedFor, f.body = h, p, body
		return f, nil
	})
	return f, err
}

// remember keeps a fetched entry hot and prepares it for the store, unless the contract was
// invalidated while it was being fetched: then the answer may predate the change that caused
// the invalidation, so it goes to the waiting callers but is not kept.
func (c *Cache) remember(rs *resource, key EntryKey, s stored, h *upstream.History) *fetched {
	e := &hotEntry{rs: rs, notFound: s.kind == kindNotFound, history: h, size: len(s.body), fetched: s.fetched, current: s.fetched, freshUntil: s.freshUntil, staleUntil: s.staleUntil}
	if h == nil && !e.notFound {
		e.body = s.body // decoded whole on its first hit
	}
	if c.invalidatedSince(key.ContractID, s.fetched) {
		return &fetched{entry: e}
	}
	c.keepHot(key, e)
	return &fetched{entry: e, stored: &s}
}

// keepHot keeps a decoded entry in process until it is no longer even stale, at the cost of
// its decoded size (see decodedCost).
func (c *Cache) keepHot(key EntryKey, e *hotEntry) {
	c.hot.Put(key, e, decodedCost(e.size), e.staleUntil)
}

// decodedCost estimates the heap a history decoded from a body of n bytes holds: 2.75 times the
// body (TestDecodedCostIsAnUpperBound measures it). The decoder's strings point into its own
// copy of the body, which therefore lives as long as the history.
func decodedCost(n int) int64 { return int64(n)*11/4 + 512 }

// decodeEntry reads a stored value back into an entry, decoding its history if it is fresh at
// now (an expired one is decoded only if it is served, stale).
func (c *Cache) decodeEntry(rs *resource, key EntryKey, v []byte, now time.Time) (*hotEntry, error) {
	s, err := c.codec.decode(key, v)
	if err != nil {
		return nil, err
	}
	e := &hotEntry{rs: rs, size: len(s.body), fetched: s.fetched, current: now, freshUntil: s.freshUntil, staleUntil: s.staleUntil}
	switch s.kind {
	case kindNotFound:
		e.notFound = true
	case kindHistory:
		if !now.Before(s.freshUntil) {
			e.body = s.body // decoded by whole if it is ever served, stale
			break
		}
		if e.history, err = rs.decode(c.up, s.body, key.ContractID, nil); err != nil {
			return nil, err
		}
	default:
		return nil, errEntry
	}
	return e, nil
}

// each runs fn(0) ... fn(n-1), at most the upstream's concurrency at a time, and waits for them.
func (c *Cache) each(n int, fn func(i int)) { upstream.Each(n, c.concurrency, fn) }

// servesStale reports whether err is the upstream failing (rather than answering): only then is
// a stale entry better than the error. A 401, 403 or 404 is an answer and must be heeded.
func servesStale(err error) bool {
	var se *upstream.StatusError
	if errors.As(err, &se) {
		return se.Status == http.StatusTooManyRequests || se.Status >= 500
	}
	return errors.Is(err, upstream.ErrTimeout) || errors.Is(err, upstream.ErrUnavailable) || errors.Is(err, upstream.ErrBadResponse) ||
		errors.Is(err, context.DeadlineExceeded)
}

// Invalidate drops contractID's history for every scope: in this process, in the store, and
// (through a Redis store) in every other replica's process.
func (c *Cache) Invalidate(ctx context.Context, contractID string) error {
	c.dropHot(contractID) // from now on, writes of entries fetched before skip the contract
	c.writing.Lock()      // and writes already past that check finish first
	c.writing.Unlock()
	err := c.store.DropContract(ctx, contractID)
	if !c.hearsItself() {
		// Once more, as the feed would once the store has dropped it: a read of the store
		// just before the drop got the old history, and reads date what they get from their
		// start (hotEntry.current). Then what reads it next finds it new.
		c.dropHot(contractID)
		c.changed(contractID)
	}
	return err
}

// hearsItself reports whether the store's feed tells this cache of its own invalidations, once
// the store has dropped the contract (a Redis store confirms each one to the replica that made
// it): not without a feed (the memory store), nor while the feed is lost.
func (c *Cache) hearsItself() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.resumed.IsZero() && !c.deaf.Load()
}

func (c *Cache) changed(contractID string) {
	if c.o.Changed != nil {
		c.o.Changed(contractID)
	}
}

func (c *Cache) dropHot(contractID string) {
	now := time.Now()
	c.mu.Lock()
	for id, at := range c.invalidated {
		// Kept longer than anything fetched before it can live (see ChangedSince).
		if now.Sub(at) > max(time.Minute, 2*(c.o.TTL+c.o.TTL/10)) {
			delete(c.invalidated, id)
		}
	}
	c.invalidated[contractID] = now
	c.mu.Unlock()
	c.hot.RemoveIf(func(k EntryKey) bool { return k.ContractID == contractID })
}

// ChangedSince reports whether contractID was invalidated at or after t, here or (through a
// Redis store) in another replica, for t within the last two TTLs: whatever was built from a
// history fetched at t must then be built afresh.
func (c *Cache) ChangedSince(contractID string, t time.Time) bool {
	return c.invalidatedSince(contractID, t)
}

func (c *Cache) invalidatedSince(contractID string, t time.Time) bool {
	if c.deaf.Load() {
		return true // any contract may have been invalidated unheard
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !t.After(c.resumed) {
		return true // it may have been invalidated while the feed was lost
	}
	at, ok := c.invalidated[contractID]
	return ok && !at.Before(t)
}

// hotEntry returns key's entry in process, unless the invalidation feed is lost.
func (c *Cache) hotEntry(key EntryKey, now time.Time) (*hotEntry, bool) {
	if c.deaf.Load() {
		return nil, false
	}
	return c.hot.Get(key, now)
}

// Watch drops hot entries that other replicas invalidate, until ctx ends. It returns at once
// for a store that has no other replicas.
func (c *Cache) Watch(ctx context.Context) { c.store.Invalidations(ctx, feed{c, ctx}) }

// feed is the cache's InvalidationFeed. While the store may be missing invalidations the
// cache is deaf: it serves nothing it keeps in process (the hot layer, and through
// ChangedSince the response cache) and keeps and writes nothing it fetches, so every query
// reads the store, which invalidations empty whether or not anyone hears of them. Once the
// feed is back, everything kept from before is dropped, since it may have been invalidated
// unheard.
type feed struct {
	c     *Cache
	watch context.Context // Watch's: once it ends, losing the feed is no news
}

func (f feed) Drop(contractID string) {
	f.c.dropHot(contractID)
	f.c.changed(contractID)
}

func (f feed) Lost() {
	c := f.c
	c.mu.Lock()
	begun := !c.resumed.IsZero() // before the feed has begun, nothing was lost
	c.mu.Unlock()
	if !c.deaf.Swap(true) && begun && f.watch.Err() == nil {
		c.log.Warn("invalidations may be missed: serving from the store, not from memory, until they are heard again")
		if c.o.Hearing != nil {
			c.o.Hearing(false)
		}
	}
}

func (f feed) Resumed() {
	c := f.c
	c.mu.Lock()
	again := !c.resumed.IsZero()
	c.resumed = time.Now()
	c.mu.Unlock()
	c.hot.RemoveIf(func(EntryKey) bool { return true })
	if c.deaf.Swap(false) && again {
		c.log.Info("invalidations heard again: what was kept in memory before is dropped")
		if c.o.Hearing != nil {
			c.o.Hearing(true)
		}
	}
}
