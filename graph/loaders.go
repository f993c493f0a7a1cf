package graph

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/graph-gophers/dataloader/v7"

	"github.com/enneo-facade/facade/upstream"
)

// historyKey identifies one history load. The scope is part of the key so that nothing fetched
// with one credential can ever answer a load made with another.
type historyKey struct {
	scope      string
	contractID string
}

// loaders are the request-scoped loaders; one set per HTTP request, never shared.
type loaders struct {
	info *RequestInfo // the access log's, if it keeps one
	// req is the request's context, ended by its deadline or by the client leaving. Batches
	// end with it whatever context their loads came with (see batch).
	req   context.Context
	cred  Credential
	fetch HistoryFetcher
	obs   Observer
	spans Spans // nil: no tracing
	wait  time.Duration
	// history is made on first use: answers from the response cache and hot histories
	// never need it.
	historyOnce sync.Once
	history     *dataloader.Loader[historyKey, *upstream.History]
	// projection is the operation's, from the first batch on: the fetcher decodes what it
	// fetches for this operation alone.
	projection *upstream.Projection
	projectOne sync.Once
	ps         *projections
	batching   sync.Mutex
	// lenient is set once a history with undecodable values is loaded; until then no field
	// needs fieldMiddleware's check.
	lenient atomic.Bool
	op      operation
	calls   atomic.Int64 // upstream calls the operation's batches made, failed ones too

	mu        sync.Mutex
	used      map[string]historyUse // contract id -> the history the operation used
	viaLoader map[string]struct{}   // contract ids loaded through history
}

// historyUse is where a history the operation used came from, and how long it is fresh.
type historyUse struct {
	cache      string
	fetched    time.Time
	freshUntil time.Time
}

type loadersKey struct{}

// withLoaders gives every request its own loaders, bound to the request's credential, and
// its deadline, o.Timeout.
func withLoaders(fetch HistoryFetcher, auth *Authenticator, o Options, next http.Handler) http.Handler {
	if o.Wait <= 0 {
		o.Wait = time.Millisecond
	}
	o.Limits = o.Limits.withDefaults() // NewHandler's already; tests call this alone
	ps := newProjections()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m, ok := r.Context().Value(missedCtx{}).(missed)
		if !ok {
			m.cred = auth.Credential(r) // no response cache in front to have read it
			if auth.refused(w, m.cred, o.Observer) {
				return
			}
		}
		l := newLoaders(fetch, m.cred, o, ps)
		l.info = requestInfoOf(w)
		ctx := r.Context()
		if o.Timeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, o.Timeout)
			defer cancel()
		}
		l.req = ctx
		defer l.op.stopAtDeadline(ctx)()
		next.ServeHTTP(w, r.WithContext(context.WithValue(ctx, loadersKey{}, l)))
	})
}

func newLoaders(fetch HistoryFetcher, cred Credential, o Options, ps *projections) *loaders {
	l := &loaders{cred: cred, fetch: fetch, wait: o.Wait, ps: ps, obs: o.Observer, spans: o.Spans}
	if l.obs == nil {
		l.obs = nopObserver{} // tests build loaders without NewHandler
	}
	l.op.start, l.op.limits = time.Now(), o.Limits
	return l
}

func (l *loaders) historyLoader() *dataloader.Loader[historyKey, *upstream.History] {
	l.historyOnce.Do(func() {
		l.history = dataloader.NewBatchedLoader(l.batch,
			dataloader.WithWait[historyKey, *upstream.History](l.wait),
			dataloader.WithBatchCapacity[historyKey, *upstream.History](1000))
	})
	return l.history
}

// batch loads one batch of histories. The loader's cache keeps a key out of later batches and
// out of a second place in this one; results come back in the order of keys, never by arrival.
func (l *loaders) batch(ctx context.Context, keys []historyKey) []*dataloader.Result[*upstream.History] {
	l.obs.LoaderBatch(len(keys))
	results := make([]*dataloader.Result[*upstream.History], len(keys))
	if l.cred.Err != nil {
		for i := range results {
			results[i] = &dataloader.Result[*upstream.History]{Error: l.cred.Err}
		}
		return results
	}
	ids := make([]string, len(keys))
	for i, k := range keys {
		ids[i] = k.contractID
	}
	if l.spans != nil {
		var end func()
		ctx, end = l.spans.Batch(ctx, ids)
		defer end()
	}
	// The parts of an incremental answer resolve on a context that nothing ends
	// (streamIncremental): their upstream calls must end with the request all the same.
	if ctx.Done() == nil && l.req != nil {
		if deadline, ok := l.req.Deadline(); ok {
			var cancel context.CancelFunc
			ctx, cancel = context.WithDeadline(ctx, deadline)
			defer cancel()
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(ctx)
		defer cancel()
		defer context.AfterFunc(l.req, func() {
			if errors.Is(l.req.Err(), context.Canceled) { // a deadline is the timer's above
				cancel()
			}
		})()
	}
	ctx = upstream.WithCallCount(ctx, &l.calls)
	// A request's batches run one at a time: its calls in flight stay within the client's
	// bound even when a starved CPU splits one resolver's loads into two batches.
	l.batching.Lock()
	defer l.batching.Unlock()
	// The projection only matters to what the batch fetches: a hot contract never needs it.
	l.projectOne.Do(func() { l.projection = l.ps.of(ctx) })
	for i, r := range l.fetch.Histories(ctx, l.cred.Upstream, ids, l.projection) {
		results[i] = &dataloader.Result[*upstream.History]{Data: r.History, Error: r.Err}
		l.record(ids[i], r)
	}
	l.op.stopIfEnded(ctx)
	return results
}

// loaded reports whether the operation has loaded id through its loader.
func (l *loaders) loaded(id string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, ok := l.viaLoader[id]
	return ok
}

// markLoaded notes the ids of ids that are neither invalid nor hot (errs and hs nil) as
// loaded through the loader, all at once: the loop of loads that follows stays short, so that
// its loads land in one batch.
func (l *loaders) markLoaded(ids []string, hs []*upstream.History, errs []error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.viaLoader == nil {
		l.viaLoader = map[string]struct{}{}
	}
	for i, id := range ids {
		if hs[i] == nil && errs[i] == nil {
			l.viaLoader[id] = struct{}{}
		}
	}
}

// record notes a history the operation used, and reports whether it is the contract's first
// use. The first use of a contract says where its history came from: a later one
// (Contract.history after Query.contract) finds it hot.
func (l *loaders) record(id string, r upstream.Result) bool {
	if r.History == nil {
		return false
	}
	if r.History.Lenient {
		l.lenient.Store(true)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.used == nil {
		l.used = map[string]historyUse{}
	}
	if _, ok := l.used[id]; ok {
		return false
	}
	l.used[id] = historyUse{cache: r.Cache, fetched: time.Now().Add(-r.Age), freshUntil: r.FreshUntil}
	return true
}

func loadersFrom(ctx context.Context) *loaders {
	l, _ := ctx.Value(loadersKey{}).(*loaders)
	return l
}

// loadHistories starts one load per id before waiting for any, so they share a batch.
func loadHistories(ctx context.Context, ids []string) ([]*upstream.History, []error) {
	l := loadersFrom(ctx)
	hs, errs := make([]*upstream.History, len(ids)), make([]error, len(ids))
	if l == nil {
		for i := range errs {
			errs[i] = errNoLoaders
		}
		return hs, errs
	}
	// Hot histories need no batch: answering them now saves the batch's wait. The rest are
	// loaded in a loop of their own, so that they land in one batch. A contract this
	// operation loaded before is the loader's to answer: what it holds may be decoded for this
	// operation only, and a hot entry of it is not yet decoded whole (see cache.Cache).
	for i, id := range ids {
		if !upstream.ValidID(id) {
			errs[i] = upstream.ErrInvalidID
		}
	}
	l.op.admit(ids, errs)
	for i, id := range ids {
		if errs[i] != nil {
			continue
		}
		if l.cred.Err == nil && !l.loaded(id) {
			if r, ok := l.fetch.Peek(l.cred.Upstream, id); ok {
				hs[i], errs[i] = r.History, r.Err
				if l.record(id, r) {
					// Counted here, once per operation: the fetcher counts the lookups of
					// its batches, not those of Peek.
					l.obs.CacheLookup("hot", "hit")
				}
			}
		}
	}
	l.markLoaded(ids, hs, errs)
	loader := l.historyLoader()
	thunks := make([]dataloader.Thunk[*upstream.History], len(ids))
	for i, id := range ids {
		if hs[i] == nil && errs[i] == nil { // neither invalid nor hot
			thunks[i] = loader.Load(ctx, historyKey{scope: l.cred.Upstream.Scope, contractID: id})
		}
	}
	for i, thunk := range thunks {
		if thunk != nil {
			hs[i], errs[i] = thunk()
		}
	}
	return hs, errs
}

func loadHistory(ctx context.Context, id string) (*upstream.History, error) {
	hs, errs := loadHistories(ctx, []string{id})
	return hs[0], errs[0]
}
