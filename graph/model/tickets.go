package model

import (
	"slices"
	"strings"
	"time"

	"golang.org/x/text/cases"

	"github.com/enneo-facade/facade/upstream"
)

// Tickets returns the tickets that match filter, in the order of orderBy, from offset on and at
// most first of them. Without arguments it is the upstream's list itself, unless that holds a
// null, which is no ticket: every path skips it, and the list's elements are non-null.
func (h *ContractHistory) Tickets(filter *TicketFilter, orderBy []*TicketOrder, first, offset *int) ([]*upstream.Ticket, error) {
	if filter == nil && len(orderBy) == 0 && first == nil && (offset == nil || *offset == 0) && !slices.Contains(h.All, nil) {
		return h.All, nil
	}
	list, err := h.selected(filter, orderBy)
	if err != nil {
		return nil, err
	}
	start, end := 0, len(list)
	if offset != nil {
		if *offset < 0 {
			return nil, &InputError{"offset must not be negative"}
		}
		start = min(*offset, end)
	}
	if first != nil {
		if *first < 0 {
			return nil, &InputError{"first must not be negative"}
		}
		end = min(end, start+*first)
	}
	out := make([]*upstream.Ticket, end-start)
	for i, p := range list[start:end] {
		out[i] = h.All[p]
	}
	return out, nil
}

// selected returns the positions in h.All of the tickets that match filter, sorted by orderBy
// and then by upstream order.
func (h *ContractHistory) selected(filter *TicketFilter, orderBy []*TicketOrder) ([]int, error) {
	m, err := NewMatcher(filter, h.Zone)
	if err != nil {
		return nil, err
	}
	list := make([]int, 0, len(h.All))
	for i, t := range h.All {
		if t != nil && m.Match(t) {
			list = append(list, i)
		}
	}
	if len(orderBy) > 0 {
		slices.SortStableFunc(list, func(a, b int) int { return compareTickets(h.All[a], h.All[b], orderBy) })
	}
	return list, nil
}

// Matcher tells whether a ticket meets a TicketFilter; the zero Matcher matches every ticket.
type Matcher struct {
	f    TicketFilter
	on   bool
	text string      // folded
	fold cases.Caser // not safe for concurrent use: one per Matcher
}

// NewMatcher prepares f (nil: no condition); zoneless times are read in zone.
func NewMatcher(f *TicketFilter, zone *time.Location) (*Matcher, error) {
	if f == nil {
		return &Matcher{}, nil
	}
	m := &Matcher{f: *f, on: true}
	for _, t := range []**upstream.Time{&m.f.CreatedFrom, &m.f.CreatedTo, &m.f.ClosedFrom, &m.f.ClosedTo} {
		if *t == nil {
			continue
		}
		if (*t).IsZero() {
			return nil, &InputError{"a filter's times must not be empty"}
		}
		placed := (*t).In(zone)
		*t = &placed
	}
	if f.Text != nil {
		m.fold = cases.Fold()
		m.text = m.fold.String(*f.Text)
	}
	return m, nil
}

// Match reports whether t meets every condition.
func (m *Matcher) Match(t *upstream.Ticket) bool {
	if !m.on {
		return true
	}
	f := &m.f
	switch {
	case f.Status != nil && !oneOf(f.Status, t.Status),
		f.Channel != nil && !oneOf(f.Channel, t.Channel),
		f.Direction != nil && !oneOf(f.Direction, t.Direction),
		f.Priority != nil && !oneOf(f.Priority, t.Priority),
		f.IntentCode != nil && !hasIntent(f.IntentCode, t.Intents),
		f.Tag != nil && !hasTag(f.Tag, t.Tags),
		!inRange(t.CreatedAt, f.CreatedFrom, f.CreatedTo),
		!inRange(t.ClosedAt, f.ClosedFrom, f.ClosedTo),
		f.Open != nil && *f.Open != !isSet(t.ClosedAt),
		f.Escalated != nil && *f.Escalated != (t.IsEscalated != nil && bool(*t.IsEscalated)):
		return false
	case f.Text != nil && m.text != "":
		return m.contains(t.Subject) || m.contains(t.BodyPlain)
	}
	return true
}

func (m *Matcher) contains(s *string) bool {
	return s != nil && strings.Contains(m.fold.String(*s), m.text)
}

func oneOf(values []string, v *string) bool { return v != nil && slices.Contains(values, *v) }

func hasIntent(codes []string, intents []*upstream.Intent) bool {
	for _, in := range intents {
		if in != nil && oneOf(codes, in.Code) {
			return true
		}
	}
	return false
}

func hasTag(names []string, tags []*upstream.Tag) bool {
	for _, t := range tags {
		if t != nil && (oneOf(names, t.Name) || oneOf(names, t.FullName)) {
			return true
		}
	}
	return false
}

// isSet reports whether an upstream time has a value: the zero Time stands for null.
func isSet(t *upstream.Time) bool { return t != nil && !t.IsZero() }

// inRange reports whether t lies in [from, to); a bound that is nil is none, and a ticket
// without t is in no range.
func inRange(t, from, to *upstream.Time) bool {
	if from == nil && to == nil {
		return true
	}
	if !isSet(t) {
		return false
	}
	return (from == nil || !t.Before(from.Time)) && (to == nil || t.Before(to.Time))
}

// priorityRank orders the known priorities before any other value.
var priorityRank = map[string]int{"low": 0, "medium": 1, "high": 2, "urgent": 3}

// compareTickets compares a and b by each order in turn; tickets without the value come last
// in either direction.
func compareTickets(a, b *upstream.Ticket, orderBy []*TicketOrder) int {
	for _, o := range orderBy {
		if o == nil {
			continue
		}
		c, decided := 0, false
		switch o.Field {
		case TicketOrderFieldCreatedAt:
			c, decided = compareTimes(a.CreatedAt, b.CreatedAt)
		case TicketOrderFieldModifiedAt:
			c, decided = compareTimes(a.ModifiedAt, b.ModifiedAt)
		case TicketOrderFieldDueBy:
			c, decided = compareTimes(a.DueBy, b.DueBy)
		case TicketOrderFieldClosedAt:
			c, decided = compareTimes(a.ClosedAt, b.ClosedAt)
		case TicketOrderFieldPriority:
			c, decided = comparePriorities(a.Priority, b.Priority)
		case TicketOrderFieldID:
			c, decided = compareIDs(a.ID, b.ID)
		}
		if decided {
			if c != 0 {
				return c // a null: last either way
			}
			continue
		}
		if o.Direction != nil && *o.Direction == OrderDirectionDesc {
			c = -c
		}
		if c != 0 {
			return c
		}
	}
	return 0
}

// nullsLast compares presence: decided is true when either value is missing, with c putting
// the missing one last (0 when both are).
func nullsLast(aSet, bSet bool) (c int, decided bool) {
	switch {
	case aSet && bSet:
		return 0, false
	case aSet:
		return -1, true
	case bSet:
		return 1, true
	}
	return 0, true
}

func compareTimes(a, b *upstream.Time) (int, bool) {
	if c, decided := nullsLast(isSet(a), isSet(b)); decided {
		return c, true
	}
	return a.Compare(b.Time), false
}

func comparePriorities(a, b *string) (int, bool) {
	if c, decided := nullsLast(a != nil, b != nil); decided {
		return c, true
	}
	rank := func(p string) int {
		if r, ok := priorityRank[p]; ok {
			return r
		}
		return len(priorityRank)
	}
	return rank(*a) - rank(*b), false
}

// compareIDs puts numeric ids first, by value, and the others after them as text.
func compareIDs(a, b *upstream.ID) (int, bool) {
	if c, decided := nullsLast(a != nil && *a != "", b != nil && *b != ""); decided {
		return c, true
	}
	x, y := string(*a), string(*b)
	nx, ny := numeric(x), numeric(y)
	switch {
	case nx && ny:
		x, y = strings.TrimLeft(x, "0"), strings.TrimLeft(y, "0")
		if len(x) != len(y) {
			return len(x) - len(y), false
		}
	case nx:
		return -1, false
	case ny:
		return 1, false
	}
	return strings.Compare(x, y), false
}

func numeric(s string) bool {
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}
