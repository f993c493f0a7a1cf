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

// loaders are a request's loaders (histories, and contracts' own records), made with it by
// newRequest.
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
	// record loads contracts' own records, for the few contracts whose history embeds none.
	recordOnce sync.Once
	record     *dataloader.Loader[historyKey, *upstream.Contract]
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
	ctx, done := l.begin(ctx, ids)
	defer done()
	// The projection only matters to what the batch fetches: a hot contract never needs it.
	l.projectOne.Do(func() { l.projection = l.ps.of(ctx) })
	for i, r := range l.fetch.Histories(ctx, q.cred.Upstream, ids, l.projection) {
		results[i] = &dataloader.Result[*upstream.History]{Data: r.History, Error: r.Err}
		q.record(ids[i], r)
	}
	q.op.stopIfEnded(ctx)
	return results
}

// begin prepares a batch's context and waits for the request's other batches to end: a
// request's batches run one at a time, so that its calls in flight stay within the client's
// bound even when a starved CPU splits one resolver's loads into two batches. done ends it.
func (l *loaders) begin(ctx context.Context, ids []string) (_ context.Context, done func()) {
	q := l.q
	var ends []func()
	done = func() {
		for i := len(ends) - 1; i >= 0; i-- {
			ends[i]()
		}
	}
	if l.spans != nil {
		var end func()
		ctx, end = l.spans.Batch(ctx, ids)
		ends = append(ends, end)
	}
	// The parts of an incremental answer resolve on a context that nothing ends
	// (streamIncremental): their upstream calls must end with the request all the same.
	if ctx.Done() == nil && q.ctx != nil {
		if deadline, ok := q.ctx.Deadline(); ok {
			var cancel context.CancelFunc
			ctx, cancel = context.WithDeadline(ctx, deadline)
			ends = append(ends, cancel)
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(ctx)
		ends = append(ends, cancel)
		stop := context.AfterFunc(q.ctx, func() {
			if errors.Is(q.ctx.Err(), context.Canceled) { // a deadline is the timer's above
				cancel()
			}
		})
		ends = append(ends, func() { stop() })
	}
	ctx = upstream.WithCallCount(ctx, &q.calls)
	l.batching.Lock()
	ends = append(ends, l.batching.Unlock)
	return ctx, done
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

func (l *loaders) recordLoader() *dataloader.Loader[historyKey, *upstream.Contract] {
	l.recordOnce.Do(func() {
		l.record = dataloader.NewBatchedLoader(l.recordBatch,
			dataloader.WithWait[historyKey, *upstream.Contract](l.wait),
			dataloader.WithBatchCapacity[historyKey, *upstream.Contract](1000))
	})
	return l.record
}

// recordBatch loads one batch of contracts' own records, as batch loads histories.
func (l *loaders) recordBatch(ctx context.Context, keys []historyKey) []*dataloader.Result[*upstream.Contract] {
	l.obs.LoaderBatch(len(keys))
	results := make([]*dataloader.Result[*upstream.Contract], len(keys))
	q := l.q
	if q.cred.Err != nil {
		for i := range results {
			results[i] = &dataloader.Result[*upstream.Contract]{Error: q.cred.Err}
		}
		return results
	}
	ids := make([]string, len(keys))
	for i, k := range keys {
		ids[i] = k.contractID
	}
	ctx, done := l.begin(ctx, ids)
	defer done()
	for i, r := range l.fetch.Contracts(ctx, q.cred.Upstream, ids) {
		results[i] = &dataloader.Result[*upstream.Contract]{Data: r.Contract, Error: r.Err}
		if r.Err == nil {
			q.used.alsoBuiltFrom(ids[i], r)
		}
	}
	q.op.stopIfEnded(ctx)
	return results
}

// loadRecords loads the own records of contracts whose histories the operation has loaded,
// in one batch.
func loadRecords(ctx context.Context, ids []string) ([]*upstream.Contract, []error) {
	ks, errs := make([]*upstream.Contract, len(ids)), make([]error, len(ids))
	q := requestFrom(ctx)
	if q == nil {
		for i := range errs {
			errs[i] = errNoLoaders
		}
		return ks, errs
	}
	loader := q.loaders.recordLoader()
	thunks := make([]dataloader.Thunk[*upstream.Contract], len(ids))
	for i, id := range ids {
		thunks[i] = loader.Load(ctx, historyKey{scope: q.cred.Upstream.Scope, contractID: id})
	}
	for i, thunk := range thunks {
		ks[i], errs[i] = thunk()
	}
	return ks, errs
}
