package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The REST way is written here from the upstream's JSON and the definitions, not with the
// facade's code (upstream's decoder, graph/model's StatsBuilder), so that the check compares
// two computations of the question rather than one with itself.

// answer is the question's answer, in the shape of the facade's HistoryStats, so that the
// facade's JSON decodes into it and the two compare with reflect.DeepEqual.
type answer struct {
	Contracts int         `json:"contracts"`
	Failed    int         `json:"failed"`
	Totals    ticketStats `json:"totals"`
	Rows      []row       `json:"rows"`
}

type row struct {
	ContractID string      `json:"contractId"`
	Stats      ticketStats `json:"stats"`
}

type ticketStats struct {
	Count       int           `json:"count"`
	Open        int           `json:"open"`
	ByStatus    []bucket      `json:"byStatus"`
	ByChannel   []bucket      `json:"byChannel"`
	ByPriority  []bucket      `json:"byPriority"`
	ByIntent    []bucket      `json:"byIntent"`
	ByMonth     []bucket      `json:"byMonth"`
	TimeToClose durationStats `json:"timeToClose"`
	DueBreaches dueBreaches   `json:"dueBreaches"`
}

type bucket struct {
	Key   string `json:"key"`
	Count int    `json:"count"`
}

type durationStats struct {
	Count         int      `json:"count"`
	MedianSeconds *float64 `json:"medianSeconds"`
	P90Seconds    *float64 `json:"p90Seconds"`
}

type dueBreaches struct {
	ClosedLate  int `json:"closedLate"`
	OpenOverdue int `json:"openOverdue"`
}

// ticket is what the REST way reads of an upstream ticket: what the question aggregates.
// encoding/json still scans every other field of the ticket's 6 KB.
type ticket struct {
	Status    *string `json:"status"`
	Channel   *string `json:"channel"`
	Priority  *string `json:"priority"`
	CreatedAt stamp   `json:"createdAt"`
	ClosedAt  stamp   `json:"closedAt"`
	DueBy     stamp   `json:"dueBy"`
	Intents   []*struct {
		Code *string `json:"code"`
	} `json:"intents"`
}

// stamp is an upstream timestamp as it came: the docs' "2006-01-02 15:04:05" in the tenant's
// zone, or RFC 3339, or unix seconds; null, "" and "0000-00-00 00:00:00" mean none.
type stamp string

func (s *stamp) UnmarshalJSON(b []byte) error {
	switch {
	case string(b) == "null":
		*s = ""
	case len(b) > 0 && b[0] == '"':
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = stamp(v)
	default:
		*s = stamp(b) // a number
	}
	return nil
}

// in reads s, a zoneless wall clock in zone; ok is false for none and for what it cannot read.
func (s stamp) in(zone *time.Location) (t time.Time, ok bool) {
	v := strings.TrimSpace(string(s))
	if v == "" || strings.HasPrefix(v, "0000-00-00") {
		return time.Time{}, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.Unix(n, 0), true
	}
	if t, err := time.ParseInLocation(time.DateTime, v, zone); err == nil {
		return t, true
	}
	t, err := time.Parse(time.RFC3339, v)
	return t, err == nil
}

// none is the key of tickets without the value.
const none = "none"

// tally counts the matching tickets of one contract, or of many once merged.
type tally struct {
	count, open                              int
	status, channel, priority, intent, month map[string]int
	closeSeconds                             []float64
	closedLate, openOverdue                  int
}

func newTally() *tally {
	return &tally{status: map[string]int{}, channel: map[string]int{}, priority: map[string]int{},
		intent: map[string]int{}, month: map[string]int{}}
}

// add counts t if it was created at or after from; open tickets are overdue at now.
func (a *tally) add(t *ticket, from, now time.Time, zone *time.Location) {
	created, ok := t.CreatedAt.in(zone)
	if !ok || created.Before(from) {
		return
	}
	a.count++
	a.status[keyOf(t.Status)]++
	a.channel[keyOf(t.Channel)]++
	a.priority[keyOf(t.Priority)]++
	codes := map[string]bool{}
	for _, in := range t.Intents {
		if in != nil && keyOf(in.Code) != none {
			codes[*in.Code] = true
		}
	}
	if len(codes) == 0 {
		codes[none] = true
	}
	for c := range codes {
		a.intent[c]++
	}
	a.month[created.In(zone).Format("2006-01")]++
	due, hasDue := t.DueBy.in(zone)
	if closed, ok := t.ClosedAt.in(zone); ok {
		a.closeSeconds = append(a.closeSeconds, closed.Sub(created).Seconds())
		if hasDue && closed.After(due) {
			a.closedLate++
		}
		return
	}
	a.open++
	if hasDue && due.Before(now) {
		a.openOverdue++
	}
}

func keyOf(v *string) string {
	if v == nil || *v == "" {
		return none
	}
	return *v
}

// merge adds o's counts to a.
func (a *tally) merge(o *tally) {
	a.count += o.count
	a.open += o.open
	for _, m := range [][2]map[string]int{{a.status, o.status}, {a.channel, o.channel}, {a.priority, o.priority}, {a.intent, o.intent}, {a.month, o.month}} {
		for k, n := range m[1] {
			m[0][k] += n
		}
	}
	a.closeSeconds = append(a.closeSeconds, o.closeSeconds...)
	a.closedLate += o.closedLate
	a.openOverdue += o.openOverdue
}

// stats is the tally as the facade writes a TicketStats: buckets by count, largest first, then
// by key; months by key; percentiles of the time to close by nearest rank.
func (a *tally) stats() ticketStats {
	byCount := func(m map[string]int) []bucket {
		out := make([]bucket, 0, len(m))
		for k, n := range m {
			out = append(out, bucket{k, n})
		}
		slices.SortFunc(out, func(x, y bucket) int { return cmp.Or(y.Count-x.Count, strings.Compare(x.Key, y.Key)) })
		return out
	}
	months := byCount(a.month)
	slices.SortFunc(months, func(x, y bucket) int { return strings.Compare(x.Key, y.Key) })
	s := ticketStats{
		Count: a.count, Open: a.open,
		ByStatus: byCount(a.status), ByChannel: byCount(a.channel), ByPriority: byCount(a.priority),
		ByIntent: byCount(a.intent), ByMonth: months,
		TimeToClose: durationStats{Count: len(a.closeSeconds)},
		DueBreaches: dueBreaches{ClosedLate: a.closedLate, OpenOverdue: a.openOverdue},
	}
	if len(a.closeSeconds) > 0 {
		sorted := slices.Sorted(slices.Values(a.closeSeconds))
		median, p90 := nearestRank(sorted, 1, 2), nearestRank(sorted, 9, 10)
		s.TimeToClose.MedianSeconds, s.TimeToClose.P90Seconds = &median, &p90
	}
	return s
}

// aggregate answers the question from the histories of ids, in their order.
func aggregate(ids []string, histories [][]*ticket, from, now time.Time, zone *time.Location) *answer {
	out := &answer{Contracts: len(ids), Rows: make([]row, len(ids))}
	totals := newTally()
	for i, id := range ids {
		a := newTally()
		for _, t := range histories[i] {
			if t != nil {
				a.add(t, from, now, zone)
			}
		}
		out.Rows[i] = row{ContractID: id, Stats: a.stats()}
		totals.merge(a)
	}
	out.Totals = totals.stats()
	return out
}

// restClient is the REST way's HTTP client of the upstream.
type restClient struct {
	base, token string
	http        *http.Client
}

// newRESTClient keeps up to idle connections open: Go's default of 2 per host would close and
// reopen most of the ones a question's concurrent GETs open.
func newRESTClient(base, token string, idle int) *restClient {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = idle
	return &restClient{base: strings.TrimSuffix(base, "/"), token: token, http: &http.Client{Transport: t, Timeout: 30 * time.Second}}
}

// fetched is what the REST way read for one question.
type fetched struct {
	bytes   int64 // of JSON
	tickets int
}

// answer asks the question the REST way: GET every history, at most bound at once, decode each
// as it arrives, then aggregate.
func (c *restClient) answer(ctx context.Context, ids []string, bound int, from, now time.Time, zone *time.Location) (*answer, fetched, error) {
	histories := make([][]*ticket, len(ids))
	sizes := make([]int64, len(ids))
	errs := make([]error, len(ids))
	sem := make(chan struct{}, max(bound, 1))
	var wg sync.WaitGroup
	for i, id := range ids {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			histories[i], sizes[i], errs[i] = c.history(ctx, id)
		})
	}
	wg.Wait()
	var f fetched
	for i := range ids {
		if errs[i] != nil {
			return nil, fetched{}, errs[i]
		}
		f.bytes += sizes[i]
		f.tickets += len(histories[i])
	}
	return aggregate(ids, histories, from, now, zone), f, nil
}

// history GETs and decodes one contract's history.
func (c *restClient) history(ctx context.Context, id string) ([]*ticket, int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/contract/"+url.PathEscape(id)+"/history", nil)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("get history %q: %w", id, err)
	}
	defer resp.Body.Close()
	body := &counter{r: resp.Body}
	if resp.StatusCode != http.StatusOK {
		return nil, 0, fmt.Errorf("get history %q: %s", id, resp.Status)
	}
	var doc struct {
		Tickets []*ticket `json:"tickets"`
	}
	if err := json.NewDecoder(body).Decode(&doc); err != nil {
		return nil, 0, fmt.Errorf("get history %q: %w", id, err)
	}
	_, err = io.Copy(io.Discard, body) // the rest, so that the connection is reused
	return doc.Tickets, body.n, err
}

// counter counts the bytes read through it.
type counter struct {
	r io.Reader
	n int64
}

func (c *counter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// diff describes the first difference between the facade's answer and the REST way's, or
// returns "" when they are equal.
func diff(facade, rest *answer) string {
	if reflect.DeepEqual(facade, rest) {
		return ""
	}
	show := func(v any) string { b, _ := json.Marshal(v); return string(b) }
	switch {
	case facade.Contracts != rest.Contracts || facade.Failed != rest.Failed || len(facade.Rows) != len(rest.Rows):
		return fmt.Sprintf("contracts %d, failed %d, %d rows; the REST way: %d, %d, %d",
			facade.Contracts, facade.Failed, len(facade.Rows), rest.Contracts, rest.Failed, len(rest.Rows))
	case !reflect.DeepEqual(facade.Totals, rest.Totals):
		return fmt.Sprintf("totals %s; the REST way: %s", show(facade.Totals), show(rest.Totals))
	}
	for i := range facade.Rows {
		if !reflect.DeepEqual(facade.Rows[i], rest.Rows[i]) {
			return fmt.Sprintf("row %d: %s; the REST way: %s", i, show(facade.Rows[i]), show(rest.Rows[i]))
		}
	}
	return "unknown"
}
