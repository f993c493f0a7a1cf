package graph

import (
	"context"
	"fmt"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/enneo-facade/facade/graph/model"
	"github.com/enneo-facade/facade/upstream"
)

// historyStats aggregates many contracts' histories: a row per contract that loaded, in the
// order given and each once, and the totals over the same tickets. A contract that fails costs
// its row only: its error is at the field's path, with its id and index.
func (r *Resolver) historyStats(ctx context.Context, ids []string, filter *model.TicketFilter, now *upstream.Time) (*model.HistoryStats, error) {
	if len(ids) > MaxContracts {
		return nil, &codedError{CodeBadUserInput, fmt.Sprintf("historyStats takes at most %d contract ids, got %d", MaxContracts, len(ids))}
	}
	m, err := model.NewMatcher(filter, r.zone)
	if err != nil {
		return nil, err
	}
	at := model.StatsTime(now, requestTime(ctx), r.zone)
	unique := make([]string, 0, len(ids))
	index := make(map[string]int, len(ids)) // first position of each id
	for i, id := range ids {
		if _, ok := index[id]; !ok {
			index[id] = i
			unique = append(unique, id)
		}
	}
	hs, errs := loadHistories(ctx, unique)
	out := &model.HistoryStats{Rows: make([]*model.ContractStats, 0, len(unique))}
	totals := model.NewStatsBuilder(at, r.zone)
	path := graphql.GetFieldContext(ctx).Path()
	for i, id := range unique {
		if errs[i] != nil {
			out.Failed++
			graphql.AddError(ctx, &gqlerror.Error{Err: &contractError{id: id, index: index[id], err: errs[i]}, Path: path})
			continue
		}
		row := model.NewStatsBuilder(at, r.zone)
		for _, t := range hs[i].Tickets {
			if t != nil && m.Match(t) {
				row.Add(t)
				totals.Add(t)
			}
		}
		out.Rows = append(out.Rows, &model.ContractStats{ContractID: id, Stats: row.Stats()})
	}
	out.Contracts, out.Totals = len(out.Rows), totals.Stats()
	return out, nil
}

// contractError is one contract's failure within a field over many: the error presenter adds
// which contract it was to the error's extensions.
type contractError struct {
	id    string
	index int
	err   error
}

func (e *contractError) Error() string { return e.err.Error() }
func (e *contractError) Unwrap() error { return e.err }

// requestTime is when the operation's request arrived.
func requestTime(ctx context.Context) time.Time {
	if q := requestFrom(ctx); q != nil {
		return q.op.start
	}
	return time.Now()
}
