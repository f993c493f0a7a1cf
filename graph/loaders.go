package graph

import (
	"context"
	"errors"
	"sync"
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

// loaders are a request's loaders (there is one: histories), made with it by newRequest.
type loaders struct {
	q     *request // whose loads they are
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
}

func (l *loaders) init(q *request, fetch HistoryFetcher, o Options, ps *projections) {
	l.q, l.fetch, l.wait, l.ps, l.obs, l.spans = q, fetch, o.Wait, ps, o.Observer, o.Spans
	if l.obs == nil {
		l.obs = nopObserver{} // tests build requests without NewHandler
	}
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
	q := l.q
	if q.cred.Err != nil {
		for i := range results {
			results[i] = &dataloader.Result[*upstream.History]{Error: q.cred.Err}
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
	if ctx.Done() == nil && q.ctx != nil {
		if deadline, ok := q.ctx.Deadline(); ok {
			var cancel context.CancelFunc
			ctx, cancel = context.WithDeadline(ctx, deadline)
			defer cancel()
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(ctx)
		defer cancel()
		defer context.AfterFunc(q.ctx, func() {
			if errors.Is(q.ctx.Err(), context.Canceled) { // a deadline is the timer's above
				cancel()
			}
		})()
	}
	ctx = upstream.WithCallCount(ctx, &q.calls)
	// A request's batches run one at a time: its calls in flight stay within the client's
	// bound even when a starved CPU splits one resolver's loads into two batches.
	l.batching.Lock()
	defer l.batching.Unlock()
	// The projection only matters to what the batch fetches: a hot contract never needs it.
	l.projectOne.Do(func() { l.projection = l.ps.of(ctx) })
	for i, r := range l.fetch.Histories(ctx, q.cred.Upstream, ids, l.projection) {
		results[i] = &dataloader.Result[*upstream.History]{Data: r.History, Error: r.Err}
		q.record(ids[i], r)
	}
	q.op.stopIfEnded(ctx)
	return results
}

// loadHistories starts one load per id before waiting for any, so they share a batch.
func loadHistories(ctx context.Context, ids []string) ([]*upstream.History, []error) {
	q := requestFrom(ctx)
	hs, errs := make([]*upstream.History, len(ids)), make([]error, len(ids))
	if q == nil {
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
	q.op.admit(ids, errs)
	l := &q.loaders
	for i, id := range ids {
		if errs[i] != nil {
			continue
		}
		if q.cred.Err == nil && !q.used.loaded(id) {
			if r, ok := l.fetch.Peek(q.cred.Upstream, id); ok {
				hs[i], errs[i] = r.History, r.Err
				if q.record(id, r) {
					// Counted here, once per operation: the fetcher counts the lookups of
					// its batches, not those of Peek.
					l.obs.CacheLookup("hot", "hit")
				}
			}
		}
	}
	q.used.markLoaded(ids, hs, errs)
	loader := l.historyLoader()
	thunks := make([]dataloader.Thunk[*upstream.History], len(ids))
	for i, id := range ids {
		if hs[i] == nil && errs[i] == nil { // neither invalid nor hot
			thunks[i] = loader.Load(ctx, historyKey{scope: q.cred.Upstream.Scope, contractID: id})
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
