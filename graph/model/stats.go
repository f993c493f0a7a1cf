package model

import (
	"cmp"
	"slices"
	"time"

	"github.com/enneo-facade/facade/upstream"
)

// Stats aggregates the tickets that match filter; open tickets are overdue at now (default: when
// the request arrived).
func (h *ContractHistory) Stats(filter *TicketFilter, now *upstream.Time) (*TicketStats, error) {
	m, err := NewMatcher(filter, h.Zone)
	if err != nil {
		return nil, err
	}
	s := NewStatsBuilder(StatsTime(now, h.Now, h.Zone), h.Zone)
	for _, t := range h.All {
		if t != nil && m.Match(t) {
			s.Add(t)
		}
	}
	return s.Stats(), nil
}

// StatsTime is the now of an aggregate: the argument, read in zone if it has none, or else def.
func StatsTime(now *upstream.Time, def time.Time, zone *time.Location) time.Time {
	if now == nil || now.IsZero() {
		return def
	}
	return now.In(zone).Time
}

// none is the bucket of tickets without the value.
const none = "none"

// StatsBuilder accumulates tickets into a TicketStats.
type StatsBuilder struct {
	now  time.Time
	zone *time.Location

	count, open                                              int
	status, channel, direction, priority, intent, tag, month map[string]int
	durations                                                []float64 // seconds, of closed tickets
	closedLate, openOverdue                                  int
	seen                                                     []string // a ticket's distinct intents or tags
}

// NewStatsBuilder starts an empty aggregate whose months are in zone and whose open tickets are
// overdue at now.
func NewStatsBuilder(now time.Time, zone *time.Location) *StatsBuilder {
	return &StatsBuilder{
		now: now, zone: zone,
		status: map[string]int{}, channel: map[string]int{}, direction: map[string]int{},
		priority: map[string]int{}, intent: map[string]int{}, tag: map[string]int{}, month: map[string]int{},
	}
}

// Add counts t.
func (s *StatsBuilder) Add(t *upstream.Ticket) {
	s.count++
	s.status[key(t.Status)]++
	s.channel[key(t.Channel)]++
	s.direction[key(t.Direction)]++
	s.priority[key(t.Priority)]++
	s.seen = s.seen[:0]
	for _, in := range t.Intents {
		if in != nil {
			s.seen = distinct(s.seen, in.Code)
		}
	}
	s.countSeen(s.intent)
	for _, tag := range t.Tags {
		if tag != nil {
			s.seen = distinct(s.seen, tag.Name)
		}
	}
	s.countSeen(s.tag)
	if isSet(t.CreatedAt) {
		s.month[month(t.CreatedAt, s.zone)]++
	} else {
		s.month[none]++
	}
	closed, due := isSet(t.ClosedAt), isSet(t.DueBy)
	switch {
	case closed:
		if isSet(t.CreatedAt) {
			s.durations = append(s.durations, t.ClosedAt.Sub(t.CreatedAt.Time).Seconds())
		}
		if due && t.ClosedAt.After(t.DueBy.Time) {
			s.closedLate++
		}
	default:
		s.open++
		if due && t.DueBy.Before(s.now) {
			s.openOverdue++
		}
	}
}

// month is the YYYY-MM of t in zone. Time.In places only a zoneless wall clock; a time with an
// offset of its own (ISO 8601 with Z, unix seconds) is moved into zone here, or 23:30 UTC on 31
// January would be January, not February as in Berlin.
func month(t *upstream.Time, zone *time.Location) string {
	return t.In(zone).Time.In(zone).Format("2006-01")
}

func key(v *string) string {
	if v == nil || *v == "" {
		return none
	}
	return *v
}

// distinct adds v's key to seen unless it is there already, or v is empty.
func distinct(seen []string, v *string) []string {
	if v == nil || *v == "" || slices.Contains(seen, *v) {
		return seen
	}
	return append(seen, *v)
}

// countSeen counts the ticket once under each distinct value it carries, or under none.
func (s *StatsBuilder) countSeen(into map[string]int) {
	if len(s.seen) == 0 {
		into[none]++
	}
	for _, v := range s.seen {
		into[v]++
	}
	s.seen = s.seen[:0]
}

// Stats returns the aggregate so far.
func (s *StatsBuilder) Stats() *TicketStats {
	return &TicketStats{
		Count:       s.count,
		Open:        s.open,
		ByStatus:    byCount(s.status),
		ByChannel:   byCount(s.channel),
		ByDirection: byCount(s.direction),
		ByPriority:  byCount(s.priority),
		ByIntent:    byCount(s.intent),
		ByTag:       byCount(s.tag),
		ByMonth:     byKey(s.month),
		TimeToClose: durationStats(s.durations),
		DueBreaches: &DueBreaches{ClosedLate: s.closedLate, OpenOverdue: s.openOverdue},
	}
}

func buckets(m map[string]int) []*Bucket {
	out := make([]*Bucket, 0, len(m))
	for k, n := range m {
		out = append(out, &Bucket{Key: k, Count: n})
	}
	return out
}

// byCount orders buckets by count, largest first, then by key.
func byCount(m map[string]int) []*Bucket {
	out := buckets(m)
	slices.SortFunc(out, func(a, b *Bucket) int { return cmp.Or(b.Count-a.Count, cmp.Compare(a.Key, b.Key)) })
	return out
}

func byKey(m map[string]int) []*Bucket {
	out := buckets(m)
	slices.SortFunc(out, func(a, b *Bucket) int { return cmp.Compare(a.Key, b.Key) })
	return out
}

// durationStats takes percentiles by the nearest-rank method: the value at rank ⌈p·n⌉ (from
// 1) of the ascending list, in integers, so that no rounding of p·n can move it a rank.
func durationStats(d []float64) *DurationStats {
	out := &DurationStats{Count: len(d)}
	if len(d) == 0 {
		return out
	}
	sorted := slices.Sorted(slices.Values(d))
	rank := func(num, den int) *float64 { return &sorted[(num*len(d)+den-1)/den-1] }
	out.MedianSeconds, out.P90Seconds = rank(1, 2), rank(9, 10)
	return out
}
