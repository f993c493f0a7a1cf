// Package graph is the GraphQL layer: gqlgen's generated executor, the resolvers, the
// request-scoped history loaders, the scalars and the one error presenter.
package graph

import (
	"context"
	"errors"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/enneo-facade/facade/graph/live"
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
	// Contracts fetches the contracts' own records (GET /contract/{id}), for contracts whose
	// history embeds none.
	Contracts(ctx context.Context, cred upstream.Credential, ids []string) []upstream.RecordResult
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
	live        *live.Hub // nil: no subscriptions
	invalidator Invalidator
	adminToken  string
	zone        *time.Location // of zoneless DateTime arguments and of byMonth
}

// contractsIn returns contracts ids as their histories hs embed them (nil where errs holds an
// error). A contract is the same object whichever path reaches it: where a history embeds
// none (a contract without tickets) and the operation selects the contract's own fields, its
// own record is read instead (GET /contract/{id}), all of them in one batch, so that
// contract(id: "100063") says what customer { contracts } of its partner says. A record the
// upstream does not have (404) leaves the contract known by its id; another failure is an error
// at pathOf(its index).
func contractsIn(ctx context.Context, ids []string, hs []*upstream.History, errs []error, pathOf func(i int) ast.Path) []*upstream.Contract {
	out := make([]*upstream.Contract, len(ids))
	var bare []int
	for i := range ids {
		if errs[i] != nil {
			continue
		}
		var embedded bool
		if out[i], embedded = contractIn(hs[i], ids[i]); !embedded {
			bare = append(bare, i)
		}
	}
	if len(bare) == 0 || !ownFieldsSelected(ctx) {
		return out
	}
	need := make([]string, len(bare))
	for j, i := range bare {
		need[j] = ids[i]
	}
	records, recordErrs := loadRecords(ctx, need)
	for j, i := range bare {
		switch err := recordErrs[j]; {
		case err == nil:
			out[i] = records[j]
		case !errors.Is(err, upstream.ErrNotFound):
			graphql.AddError(ctx, &gqlerror.Error{Err: err, Message: err.Error(), Path: pathOf(i)})
		}
	}
	return out
}

// ownFieldsSelected reports whether the operation selects, of the contract (or contracts) the
// field at ctx returns, anything but its id and history: the fields a history without tickets
// cannot supply.
func ownFieldsSelected(ctx context.Context) bool {
	fc := graphql.GetFieldContext(ctx)
	for _, f := range graphql.CollectFields(graphql.GetOperationContext(ctx), fc.Field.Selections, []string{"Contract"}) {
		switch f.Name {
		case "id", "history", "__typename":
		default:
			return true
		}
	}
	return false
}

// contractIn returns the contract id as embedded in its own history: the copy in the newest
// ticket's customer, which is the most recent the upstream has. A contract without tickets has
// nothing embedded: it is known by its id alone, and embedded is false (see withRecords).
func contractIn(h *upstream.History, id string) (k *upstream.Contract, embedded bool) {
	for i := len(h.Tickets) - 1; i >= 0; i-- {
		t := h.Tickets[i]
		if t == nil || t.Customer == nil {
			continue
		}
		for _, c := range t.Customer.Contracts {
			if c != nil && c.ID != nil && string(*c.ID) == id {
				return c, true
			}
		}
	}
	uid := upstream.ID(id)
	return &upstream.Contract{ID: &uid}, false
}
