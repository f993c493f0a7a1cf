// Package graph is the GraphQL layer: gqlgen's generated executor, the resolvers, the
// request-scoped history loaders, the scalars and the one error presenter.
package graph

import (
	"context"
	"time"

	"github.com/enneo-facade/facade/graph/ratelimit"
	"github.com/enneo-facade/facade/upstream"
)

// HistoryFetcher is what the GraphQL layer needs from the upstream: many contracts' histories
// at once, in order, each with where it came from. The client and its cache (upstream/cache)
// both provide it.
type HistoryFetcher interface {
	// Histories fetches the histories of ids; those it decodes from an upstream body it may
	// decode only as far as p keeps (whole for a nil p).
	Histories(ctx context.Context, cred upstream.Credential, ids []string, p *upstream.Projection) []upstream.Result
	// Peek returns id's history if a fresh one is at hand without waiting for anything, so
	// that hot contracts need not wait for a batch to be collected.
	Peek(cred upstream.Credential, id string) (upstream.Result, bool)
}

// Invalidator drops one contract's cached history for every credential scope.
type Invalidator interface {
	Invalidate(ctx context.Context, contractID string) error
}

// RateLimiter takes what an operation costs from its caller's budget (see graph/ratelimit).
type RateLimiter interface {
	Take(ctx context.Context, key string, cost int64) ratelimit.Decision
	Limit() ratelimit.Limit
}

// ChangeTracker tells whether a contract was invalidated since a point in time.
type ChangeTracker interface {
	ChangedSince(contractID string, t time.Time) bool
}

var (
	_ HistoryFetcher = (*upstream.Client)(nil)
	_ RateLimiter    = (*ratelimit.Limiter)(nil)
	// The cache satisfies HistoryFetcher, Invalidator and ChangeTracker too (cache_test.go):
	// graph needs nothing of it but these interfaces.
)

// MaxContracts bounds Query.contracts: a list view of 100 contracts is the largest legitimate
// request, and the bound keeps one request from fanning out without limit.
const MaxContracts = 100

// Resolver is the root resolver. The history loaders arrive per request (see NewHandler).
type Resolver struct {
	invalidator Invalidator
	adminToken  string
	zone        *time.Location // of zoneless DateTime arguments and of byMonth
}

// contractIn returns the contract id as embedded in its own history: the copy in the newest
// ticket's customer, which is the most recent the upstream has. A contract without tickets has
// nothing embedded, so it is known by its id alone.
func contractIn(h *upstream.History, id string) *upstream.Contract {
	for i := len(h.Tickets) - 1; i >= 0; i-- {
		t := h.Tickets[i]
		if t == nil || t.Customer == nil {
			continue
		}
		for _, c := range t.Customer.Contracts {
			if c != nil && c.ID != nil && string(*c.ID) == id {
				return c
			}
		}
	}
	uid := upstream.ID(id)
	return &upstream.Contract{ID: &uid}
}
