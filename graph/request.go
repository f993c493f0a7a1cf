package graph

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/enneo-facade/facade/graph/live"
	"github.com/enneo-facade/facade/upstream"
)

// request is the state of one GraphQL request, made for it by withRequest and reached through
// requestFrom: who asks (its credential), what its operation may still spend and what it met
// (operation), where the histories it used came from (provenance), and its loaders. One per
// HTTP request, never shared.
type request struct {
	info *RequestInfo // the access log's, if it keeps one
	// ctx is the request's context, ended by its deadline or by the client leaving: batches end
	// with it whatever context their loads came with (see loaders.batch).
	ctx     context.Context
	untimed context.Context // ctx without the operation's deadline, for a subscription's stream
	rates   RateLimiter     // nil: none; what a subscription's events are charged to
	stop    <-chan struct{} // Options.Stopping: a subscription's stream ends
	live    *live.Hub       // Options.Live: whether changes may be missed, for subscribers
	cred    Credential
	// personal is the handler's masker and audit; read what the operation returned, for its
	// audit line; requestID the access log's id of the request.
	personal  personalOptions
	read      reads
	requestID string
	// delivered is a subscription's contracts as it hands them to its events; event, of an
	// event's request, its subscription's (both nil without an audit).
	delivered, event *contractQueue
	op               operation
	used             provenance
	loaders          loaders // in the request's one allocation
	// lenient is set once a history with undecodable values is loaded; until then no field
	// needs resolveField's check.
	lenient atomic.Bool
	calls   atomic.Int64 // upstream calls the operation made, failed ones too
}

type requestCtx struct{}

// requestFrom returns the state of the request ctx belongs to, or nil outside one.
func requestFrom(ctx context.Context) *request {
	q, _ := ctx.Value(requestCtx{}).(*request)
	return q
}

// withRequest gives every request its state, bound to its credential, and its deadline,
// o.Timeout.
func withRequest(fetch HistoryFetcher, auth *Authenticator, o Options, next http.Handler) http.Handler {
	if o.Wait <= 0 {
		o.Wait = time.Millisecond
	}
	o.Limits = o.Limits.withDefaults() // NewHandler's already; tests call this alone
	ps := newProjections()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m, ok := r.Context().Value(missedCtx{}).(missed)
		if !ok {
			// No response cache in front to have read it. A WebSocket's caller says who it is
			// in the protocol, not in the upgrade's headers.
			m.cred = auth.Credential(r)
			if !isWebSocket(r) && auth.refused(w, m.cred, o.Observer) {
				return
			}
		}
		q := newRequest(fetch, m.cred, o, ps)
		if q.personal.audit != nil {
			q.requestID = w.Header().Get("X-Request-Id")
		}
		q.info, q.untimed, q.rates, q.stop, q.live = requestInfoOf(w), r.Context(), o.RateLimiter, o.Stopping, o.Live
		ctx := r.Context()
		if o.Timeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, o.Timeout)
			defer cancel()
		}
		q.ctx = ctx
		defer q.op.stopAtDeadline(ctx)()
		next.ServeHTTP(w, r.WithContext(context.WithValue(ctx, requestCtx{}, q)))
		if q.op.done != nil {
			q.op.done() // its last part is written: the next heavy operation's turn
		}
	})
}

func newRequest(fetch HistoryFetcher, cred Credential, o Options, ps *projections) *request {
	q := &request{cred: cred, personal: o.personal}
	q.loaders.init(q, fetch, o, ps)
	q.op.start, q.op.limits = time.Now(), o.Limits
	return q
}

// record notes a history the operation used, and reports whether it is the contract's first
// use (see provenance.record).
func (q *request) record(id string, r upstream.Result) bool {
	if r.History == nil {
		return false
	}
	if r.History.Lenient {
		q.lenient.Store(true)
	}
	return q.used.record(id, r)
}

// provenance is where each history an operation used came from, for extensions.histories,
// the response cache, HTTP caching and the access log.
type provenance struct {
	mu        sync.Mutex
	used      map[string]historyUse // contract id -> the history the operation used
	viaLoader map[string]struct{}   // contract ids loaded through the loader
}

// historyUse is where a history the operation used came from, and how long it is fresh.
type historyUse struct {
	cache      string
	fetched    time.Time // for its age
	current    time.Time // for its validity (upstream.Result.Current)
	freshUntil time.Time
}

// record notes r, id's history, and reports whether it is the contract's first use. The first
// use of a contract says where its history came from: a later one (Contract.history after
// Query.contract) finds it hot.
func (p *provenance) record(id string, r upstream.Result) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.used == nil {
		p.used = map[string]historyUse{}
	}
	if _, ok := p.used[id]; ok {
		return false
	}
	u := historyUse{cache: r.Cache, fetched: time.Now().Add(-r.Age), current: r.Current, freshUntil: r.FreshUntil}
	if u.current.IsZero() {
		u.current = u.fetched
	}
	p.used[id] = u
	return true
}

// alsoBuiltFrom notes that what the operation built of contract id also rests on its own
// record r: the answer is as fresh as the less fresh of the two, dates from the older, and is
// stale if either is.
func (p *provenance) alsoBuiltFrom(id string, r upstream.RecordResult) {
	p.mu.Lock()
	defer p.mu.Unlock()
	u, ok := p.used[id]
	if !ok {
		return // the history is recorded first; without it there is nothing to build on
	}
	current := r.Current
	if current.IsZero() {
		current = time.Now().Add(-r.Age)
	}
	if current.Before(u.current) {
		u.current = current
	}
	if !r.FreshUntil.IsZero() && r.FreshUntil.Before(u.freshUntil) {
		u.freshUntil = r.FreshUntil
	}
	if r.Cache == upstream.CacheStale {
		u.cache = upstream.CacheStale
	}
	p.used[id] = u
}

// each calls f for every history the operation used, under the lock.
func (p *provenance) each(f func(id string, u historyUse)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for id, u := range p.used {
		f(id, u)
	}
}

// len is how many histories the operation used.
func (p *provenance) len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.used)
}

// loaded reports whether the operation has loaded id through its loader.
func (p *provenance) loaded(id string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.viaLoader[id]
	return ok
}

// markLoaded notes the ids of ids that are neither invalid nor hot (errs and hs nil) as
// loaded through the loader, all at once: the loop of loads that follows stays short, so that
// its loads land in one batch.
func (p *provenance) markLoaded(ids []string, hs []*upstream.History, errs []error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.viaLoader == nil {
		p.viaLoader = map[string]struct{}{}
	}
	for i, id := range ids {
		if hs[i] == nil && errs[i] == nil {
			p.viaLoader[id] = struct{}{}
		}
	}
}
