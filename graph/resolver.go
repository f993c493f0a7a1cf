// Package graph is the GraphQL layer: gqlgen's generated executor, the resolvers, the
// request-scoped history loaders, the scalars and the one error presenter.
package graph

import (
	"context"

	"github.com/enneo-facade/facade/upstream"
)

// HistoryFetcher is what the GraphQL layer needs from the upstream: one contract's history,
// fetched with a bearer token.
type HistoryFetcher interface {
	History(ctx context.Context, token, contractID string) (*upstream.History, error)
}

var _ HistoryFetcher = (*upstream.Client)(nil)

// MaxContracts bounds Query.contracts: a list view of 100 contracts is the largest legitimate
// request, and the bound keeps one request from fanning out without limit.
const MaxContracts = 100

// Resolver is the root resolver. Its dependencies arrive per request with the loaders
// (see NewHandler).
type Resolver struct{}

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
