package cache

import (
	"context"

	"github.com/enneo-facade/facade/upstream"
)

// A resource is what the cache keeps of a contract: its history, or its own record
// (GET /contract/{id}), which a contract without tickets has only there. A record goes through
// the history's layers, store, single flights, stale fallback and invalidations, carried as a
// history whose one ticket's customer holds it, under keys of its own: the credential's scope
// with the resource's scope appended. The two never share an entry, and an invalidation, which
// drops a contract's entries of every scope, drops both.
type resource struct {
	scope  string
	body   func(up Upstream, ctx context.Context, token, id string) ([]byte, error)
	decode func(up Upstream, body []byte, id string, p *upstream.Projection) (*upstream.History, error)
}

var (
	histories = &resource{body: Upstream.HistoryBody, decode: Upstream.DecodeHistory}
	records   = &resource{scope: "/record", body: Upstream.ContractBody, decode: decodeRecord}
)

func decodeRecord(up Upstream, body []byte, id string, _ *upstream.Projection) (*upstream.History, error) {
	k, err := up.DecodeContract(body, id)
	if err != nil {
		return nil, err
	}
	return &upstream.History{Tickets: []*upstream.Ticket{{Customer: &upstream.Customer{Contracts: []*upstream.Contract{k}}}}}, nil
}

// Contracts returns the records of ids for cred, in order, cached as Histories caches
// histories: per credential scope, fresh for the same TTL, dropped with the contract's
// invalidation.
func (c *Cache) Contracts(ctx context.Context, cred upstream.Credential, ids []string) []upstream.RecordResult {
	res := make([]upstream.RecordResult, len(ids))
	for i, r := range c.lookup(ctx, records, cred, ids, nil) {
		res[i] = upstream.RecordResult{Err: r.Err, Cache: r.Cache, Age: r.Age, FreshUntil: r.FreshUntil, Current: r.Current}
		if r.Err == nil {
			res[i].Contract = r.History.Tickets[0].Customer.Contracts[0]
		}
	}
	return res
}
