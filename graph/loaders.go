package graph

import (
	"context"
	"net/http"
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

// Options tunes the GraphQL handler.
type Options struct {
	// Wait is how long a batch collects keys before it runs (default 1ms). gqlgen starts the
	// resolvers of one level within microseconds of each other, so a short wait gathers them all
	// without adding noticeable latency.
	Wait time.Duration
	// Zone is where DateTime arguments without a zone are read (default Europe/Berlin).
	Zone *time.Location
	// Invalidator drops cached histories for the invalidateContractHistory mutation; nil when
	// nothing is cached.
	Invalidator Invalidator
	// AdminToken is the bearer token the mutation requires; empty turns the mutation off.
	AdminToken string
	// Changes tells which contracts were invalidated, for the response cache; nil turns the
	// response cache off (as when nothing is cached).
	Changes ChangeTracker
	// ResponseCacheBytes bounds the response cache (default 8 MiB).
	ResponseCacheBytes int64
}

// loaders are the request-scoped loaders; one set per HTTP request, never shared.
type loaders struct {
	cred    Credential
	history *dataloader.Loader[historyKey, *upstream.History]
	zone    *time.Location

	mu   sync.Mutex
	used map[string]historyUse // contract id -> the history the operation used
}

// historyUse is where a history the operation used came from, and how long it is fresh.
type historyUse struct {
	cache      string
	fetched    time.Time
	freshUntil time.Time
}

type loadersKey struct{}

// withLoaders gives every request its own loaders, bound to the request's credential.
func withLoaders(fetch HistoryFetcher, auth *Authenticator, o Options, next http.Handler) http.Handler {
	if o.Wait <= 0 {
		o.Wait = time.Millisecond
	}
	if o.Zone == nil {
		o.Zone = defaultZone
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l := newLoaders(fetch, auth.Credential(r), o)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), loadersKey{}, l)))
	})
}

func newLoaders(fetch HistoryFetcher, cred Credential, o Options) *loaders {
	l := &loaders{cred: cred, zone: o.Zone, used: map[string]historyUse{}}
	batch := func(ctx context.Context, keys []historyKey) []*dataloader.Result[*upstream.History] {
		results := make([]*dataloader.Result[*upstream.History], len(keys))
		if cred.Err != nil {
			for i := range results {
				results[i] = &dataloader.Result[*upstream.History]{Error: cred.Err}
			}
			return results
		}
		// The loader's cache keeps a key out of later batches and out of a second place in this
		// one; results come back in the order of ids, never by arrival.
		ids := make([]string, len(keys))
		for i, k := range keys {
			ids[i] = k.contractID
		}
		fetched := fetch.Histories(ctx, cred.Upstream, ids)
		now := time.Now()
		l.mu.Lock()
		defer l.mu.Unlock()
		for i, r := range fetched {
			results[i] = &dataloader.Result[*upstream.History]{Data: r.History, Error: r.Err}
			if r.History != nil {
				l.used[ids[i]] = historyUse{cache: r.Cache, fetched: now.Add(-r.Age), freshUntil: r.FreshUntil}
			}
		}
		return results
	}
	l.history = dataloader.NewBatchedLoader(batch,
		dataloader.WithWait[historyKey, *upstream.History](o.Wait),
		dataloader.WithBatchCapacity[historyKey, *upstream.History](1000))
	return l
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
	thunks := make([]dataloader.Thunk[*upstream.History], len(ids))
	for i, id := range ids {
		if !upstream.ValidID(id) {
			continue
		}
		thunks[i] = l.history.Load(ctx, historyKey{scope: l.cred.Upstream.Scope, contractID: id})
	}
	for i, thunk := range thunks {
		if thunk == nil {
			errs[i] = upstream.ErrInvalidID
			continue
		}
		hs[i], errs[i] = thunk()
	}
	return hs, errs
}

func loadHistory(ctx context.Context, id string) (*upstream.History, error) {
	hs, errs := loadHistories(ctx, []string{id})
	return hs[0], errs[0]
}

// zoneFrom returns the zone of the request's loaders.
func zoneFrom(ctx context.Context) *time.Location {
	if l := loadersFrom(ctx); l != nil {
		return l.zone
	}
	return defaultZone
}

var defaultZone = func() *time.Location {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		panic(err) // time/tzdata is linked in by package upstream
	}
	return loc
}()
