package main

import (
	"maps"
	"slices"
	"sort"
	"time"

	"github.com/enneo-facade/facade/bench/canary"
)

// leak is an answer for one token that held another token's data.
type leak struct {
	q    *query
	mark canary.Mark
}

// staleAnswer is an answer that showed a contract at a version older than one whose
// invalidation was acknowledged before the query was sent.
type staleAnswer struct {
	q        *query
	contract string
	shown    int64
	inv      *invalidation // the newest acknowledged before the query was sent
	after    time.Duration // from its acknowledgement to the query's sending
}

// verdict is what the checks found.
type verdict struct {
	leaks      []leak
	stale      []staleAnswer
	unexpected []*query // failed with a code its phase does not allow
	unmarked   []*query // answered with data, but some contract without its mark: unchecked
	unacked    []*invalidation
	marks      int // own marks read, over every answer
}

// failed reports whether the soak fails.
func (v verdict) failed() bool {
	return len(v.leaks)+len(v.stale)+len(v.unexpected)+len(v.unmarked)+len(v.unacked) > 0
}

// check runs the soak's checks over every query and invalidation:
//   - a leak is any mark of another token than the query's own;
//   - a stale answer shows a contract at a version older than the newest version whose
//     invalidation the webhook acknowledged (its 200 arrived) before the query was sent;
//   - a query failed unexpectedly when one of its codes is not allowed in the phase it was sent
//     in (see expected); answers without any GraphQL answer count under TRANSPORT or HTTP <status>;
//   - an answer with data but without a mark for each contract it asked for cannot be checked,
//     and fails the soak too, as does an invalidation the webhook never acknowledged.
func check(p plan, start time.Time, qs []*query, invs []*invalidation) verdict {
	var v verdict
	acks := map[string][]*invalidation{} // contract -> its acknowledged invalidations, by ack time
	for _, inv := range invs {
		if inv.acked.IsZero() {
			v.unacked = append(v.unacked, inv)
			continue
		}
		acks[inv.contract] = append(acks[inv.contract], inv)
	}
	for _, list := range acks {
		sort.Slice(list, func(i, j int) bool { return list[i].acked.Before(list[j].acked) })
	}
	for _, q := range qs {
		for _, m := range q.foreign {
			v.leaks = append(v.leaks, leak{q, m})
		}
		v.marks += len(q.shown)
		for _, c := range slices.Sorted(maps.Keys(q.shown)) {
			shown := q.shown[c]
			if inv := newestAckedBefore(acks[c], q.sent); inv != nil && shown < inv.version {
				v.stale = append(v.stale, staleAnswer{q, c, shown, inv, q.sent.Sub(inv.acked)})
			}
		}
		if q.failed() {
			ph := p.phases[p.phaseAt(q.sent.Sub(start))].name
			codes := q.codes
			if len(codes) == 0 {
				codes = []string{q.primary()}
			}
			for _, code := range codes {
				if unexpected(ph, code) {
					v.unexpected = append(v.unexpected, q)
					break
				}
			}
		}
		if len(q.unmarked) > 0 {
			v.unmarked = append(v.unmarked, q)
		}
	}
	return v
}

// newestAckedBefore returns the invalidation of list (sorted by acknowledgement) with the
// highest version among those acknowledged strictly before t, or nil.
func newestAckedBefore(list []*invalidation, t time.Time) *invalidation {
	var best *invalidation
	for _, inv := range list {
		if !inv.acked.Before(t) {
			break
		}
		if best == nil || inv.version > best.version {
			best = inv
		}
	}
	return best
}
