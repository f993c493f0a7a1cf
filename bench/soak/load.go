package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/enneo-facade/facade/bench/canary"
	"github.com/enneo-facade/facade/graph/queries"
)

// The kinds of query the load sends.
const (
	kindList   = "list"   // q1-like: id status subject of one contract's tickets
	kindFull   = "full"   // q2-like: every field of one contract's tickets
	kindStats  = "stats"  // historyStats over 100 contracts, every aggregate, per contract and in total
	kindVerify = "verify" // a list view of a contract just invalidated, sent once the webhook said 200
)

var kinds = []string{kindList, kindFull, kindStats, kindVerify}

const listQuery = `query ListView($id: ID!) { contract(id: $id) { id history { tickets { id status subject } } } }`

// fullQuery is the load benchmark's q2 with the contract as a variable.
var fullQuery = func() string {
	q := strings.Replace(queries.Q2, `query Q2 {
  contract(id: "100001") {`, `query FullTickets($id: ID!) {
  contract(id: $id) {`, 1)
	if q == queries.Q2 {
		panic("graph/queries/q2.graphql no longer starts as fullQuery expects")
	}
	return q
}()

// statsNow is the fixed now of the historyStats questions: an aggregate taken at a given time
// may come from the response cache, which the soak means to exercise.
const statsNow = "2025-09-30T12:00:00Z"

// token is one of the two callers.
type token struct {
	name   string // alpha, bravo
	bearer string
	tag    string // canary.Tag(bearer)
}

// query is one request the load sent, and what its answer showed.
type query struct {
	id        string // its X-Request-Id
	kind      string
	token     int
	contracts []string
	sent      time.Time
	took      time.Duration

	status    int
	transport string   // the client's error, when there was no answer
	codes     []string // the distinct extensions.code of its errors, in order ("NO_CODE" for none)
	message   string   // the first error's message
	data      bool     // data for what was asked, and no error
	stale     int      // histories served stale (extensions.histories)
	shown     map[string]int64
	foreign   []canary.Mark // marks of another token: leaks
	unmarked  []string      // contracts answered with data but without a mark of their own
}

// failed reports whether the query did not get its data without errors.
func (q *query) failed() bool { return !q.data }

// primary is the code a failed query is counted under.
func (q *query) primary() string {
	switch {
	case q.transport != "":
		return "TRANSPORT"
	case len(q.codes) > 0:
		return q.codes[0]
	case q.status != http.StatusOK:
		return "HTTP " + strconv.Itoa(q.status)
	}
	return "NO_DATA"
}

// invalidation is one contract bumped at the upstream and invalidated through the webhook.
type invalidation struct {
	contract string
	version  int64 // what the stub serves from the bump on
	bumped   time.Time
	acked    time.Time // when the webhook's 200 arrived; zero: never
	attempts int
	refused  map[string]int // webhook answers other than 200, by status ("HTTP 503", "TRANSPORT")
	ackID    string         // the request id of the webhook call that was answered 200
}

// skip is a query the load did not send: maxInFlight were in flight (or, for an invalidation,
// no hot contract was free).
type skip struct {
	at   time.Time
	kind string
}

// load sends the soak's mixed load through the balancer, open loop: each kind at its rate,
// whatever the answers take, up to maxInFlight of its queries at once (a tick that finds no room
// is counted as skipped, never queued, so a slow phase does not shift the load into the next).
// Verification queries and invalidations' calls take no slot: they are not capped.
type load struct {
	c      *config
	http   *http.Client
	tokens []token
	run    string // in request ids, so that a run's lines can be found in the replicas' logs
	slots  chan struct{}
	seq    atomic.Int64
	wg     sync.WaitGroup

	mu            sync.Mutex
	queries       []*query
	invalidations []*invalidation
	skips         []skip
	busy          map[string]bool // contracts being invalidated
}

func newLoad(c *config) *load {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = c.maxInFlight
	t.DisableCompression = true
	run := strconv.FormatUint(rand.Uint64()%1e8, 36)
	l := &load{
		c: c, http: &http.Client{Transport: t, Timeout: 30 * time.Second}, run: run,
		slots: make(chan struct{}, c.maxInFlight), busy: map[string]bool{},
	}
	for _, name := range []string{"alpha", "bravo"} {
		bearer := "soak-" + name + "-" + run
		l.tokens = append(l.tokens, token{name: name, bearer: bearer, tag: canary.Tag(bearer)})
	}
	return l
}

// contract is the id of contract number i (from 0).
func (l *load) contract(i int) string { return strconv.Itoa(l.c.first + i) }

// pick draws a contract: half the time from the hot ones, which are also the ones invalidated,
// so that what is invalidated is also what every replica holds.
func (l *load) pick() string {
	if rand.IntN(2) == 0 {
		return l.contract(rand.IntN(l.c.hot))
	}
	return l.contract(rand.IntN(l.c.contracts))
}

// window draws 100 consecutive contracts, starting at a multiple of 100: the BI questions
// repeat, so their answers can come from the response cache.
func (l *load) window() []string {
	n := max(l.c.contracts/100, 1)
	first := 100 * rand.IntN(n)
	ids := make([]string, 0, 100)
	for i := range 100 {
		ids = append(ids, l.contract((first+i)%l.c.contracts))
	}
	return ids
}

// runUntil sends the load until ctx ends, then waits for the answers in flight.
func (l *load) runUntil(ctx context.Context) {
	every := func(rate float64, f func()) {
		if rate <= 0 {
			return
		}
		l.wg.Go(func() {
			t := time.NewTicker(time.Duration(float64(time.Second) / rate))
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					f()
				}
			}
		})
	}
	every(l.c.rates.list, func() { l.try(kindList, []string{l.pick()}) })
	every(l.c.rates.full, func() { l.try(kindFull, []string{l.pick()}) })
	every(l.c.rates.stats, func() { l.try(kindStats, l.window()) })
	every(l.c.rates.invalidations, func() { l.invalidateOne() })
	<-ctx.Done()
	l.wg.Wait()
}

// try sends one query if there is room.
func (l *load) try(kind string, contracts []string) {
	select {
	case l.slots <- struct{}{}:
	default:
		l.mu.Lock()
		l.skips = append(l.skips, skip{time.Now(), kind})
		l.mu.Unlock()
		return
	}
	tok := rand.IntN(len(l.tokens))
	l.wg.Go(func() {
		defer func() { <-l.slots }()
		l.send(kind, tok, contracts)
	})
}

func (l *load) body(kind string, contracts []string) []byte {
	var v map[string]any
	switch kind {
	case kindList, kindVerify:
		v = map[string]any{"query": listQuery, "variables": map[string]any{"id": contracts[0]}}
	case kindFull:
		v = map[string]any{"query": fullQuery, "variables": map[string]any{"id": contracts[0]}}
	case kindStats:
		v = map[string]any{"query": queries.HistoryStats, "variables": map[string]any{"ids": contracts, "now": statsNow}}
	}
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// send sends one query and records it with what its answer showed.
func (l *load) send(kind string, tok int, contracts []string) *query {
	q := &query{id: fmt.Sprintf("soak-%s-%d", l.run, l.seq.Add(1)), kind: kind, token: tok, contracts: contracts}
	req, err := http.NewRequest(http.MethodPost, l.c.url, bytes.NewReader(l.body(kind, contracts)))
	if err != nil {
		panic(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+l.tokens[tok].bearer)
	req.Header.Set("X-Request-Id", q.id)
	q.sent = time.Now()
	resp, err := l.http.Do(req)
	var body []byte
	if err == nil {
		body, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		q.status = resp.StatusCode
	}
	q.took = time.Since(q.sent)
	if err != nil {
		q.transport = err.Error()
	} else {
		q.read(body, l.tokens[tok].tag)
	}
	l.mu.Lock()
	l.queries = append(l.queries, q)
	l.mu.Unlock()
	return q
}

// answer is what the soak reads of a GraphQL answer.
type answer struct {
	Data   map[string]json.RawMessage
	Errors []struct {
		Message    string
		Extensions struct{ Code string }
	}
	Extensions struct {
		Histories map[string]struct{ Cache string }
	}
}

// read notes what body, the answer to q, shows: its errors' codes, whether it has data for
// what was asked, the histories served stale, and its canary marks: the oldest version shown
// of each contract, marks of another token than own, and contracts without a mark.
func (q *query) read(body []byte, own string) {
	var a answer
	if err := json.Unmarshal(body, &a); err != nil {
		if q.status == http.StatusOK {
			q.codes = []string{"NOT_JSON"}
		}
		q.message = fmt.Sprintf("%.200s", body)
		return
	}
	for _, e := range a.Errors {
		code := e.Extensions.Code
		if code == "" {
			code = "NO_CODE"
		}
		if !slices.Contains(q.codes, code) {
			q.codes = append(q.codes, code)
		}
		if q.message == "" {
			q.message = e.Message
		}
	}
	field := "contract"
	if q.kind == kindStats {
		field = "historyStats"
	}
	got := a.Data[field]
	q.data = q.status == http.StatusOK && len(a.Errors) == 0 && len(got) > 0 && string(got) != "null"
	for _, h := range a.Extensions.Histories {
		if h.Cache == "stale" {
			q.stale++
		}
	}
	q.shown = map[string]int64{}
	for _, m := range canary.Find(body) {
		if m.Tag != own {
			q.foreign = append(q.foreign, m)
			continue
		}
		if v, ok := q.shown[m.Contract]; !ok || m.Version < v {
			q.shown[m.Contract] = m.Version
		}
	}
	if q.data {
		for _, id := range q.contracts {
			if _, ok := q.shown[id]; !ok && !slices.Contains(q.unmarked, id) {
				q.unmarked = append(q.unmarked, id)
			}
		}
	}
}

// invalidateOne changes a hot contract that is not being changed already: bumps its version at
// the stub, calls the webhook until it answers 200, and then sends verification queries for it.
func (l *load) invalidateOne() {
	l.mu.Lock()
	var id string
	for range 10 {
		if c := l.contract(rand.IntN(l.c.hot)); !l.busy[c] {
			id = c
			break
		}
	}
	if id == "" {
		l.skips = append(l.skips, skip{time.Now(), "invalidation"})
		l.mu.Unlock()
		return
	}
	l.busy[id] = true
	l.mu.Unlock()
	l.wg.Go(func() {
		defer func() {
			l.mu.Lock()
			delete(l.busy, id)
			l.mu.Unlock()
		}()
		inv := l.invalidate(id)
		if inv == nil || inv.acked.IsZero() {
			return
		}
		for tok := range l.tokens {
			for range l.c.rates.verify {
				l.wg.Go(func() { l.send(kindVerify, tok, []string{id}) })
			}
		}
	})
}

// webhookGiveUp is how long the load keeps calling the webhook for one invalidation.
const webhookGiveUp = 30 * time.Second

func (l *load) invalidate(id string) *invalidation {
	inv := &invalidation{contract: id, refused: map[string]int{}}
	resp, err := l.http.Post(l.c.stub+"/bump?id="+id, "application/json", nil)
	if err != nil {
		l.record(inv, fmt.Errorf("bump: %w", err))
		return nil
	}
	var b struct{ Version int64 }
	err = json.NewDecoder(resp.Body).Decode(&b)
	resp.Body.Close()
	if err != nil || b.Version == 0 {
		l.record(inv, fmt.Errorf("bump: %s: %v", resp.Status, err))
		return nil
	}
	inv.version, inv.bumped = b.Version, time.Now()
	body := fmt.Appendf(nil, `{"event":"TicketUpdated","contractId":%q}`, id)
	for time.Since(inv.bumped) < webhookGiveUp {
		inv.attempts++
		req, _ := http.NewRequest(http.MethodPost, l.c.webhook, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+l.c.webhookSecret)
		id := fmt.Sprintf("soak-%s-w%d", l.run, l.seq.Add(1))
		req.Header.Set("X-Request-Id", id)
		resp, err := l.http.Do(req)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				inv.acked, inv.ackID = time.Now(), id
				break
			}
			inv.refused["HTTP "+strconv.Itoa(resp.StatusCode)]++
		} else {
			inv.refused["TRANSPORT"]++
		}
		time.Sleep(100 * time.Millisecond)
	}
	l.record(inv, nil)
	return inv
}

func (l *load) record(inv *invalidation, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		inv.refused["bump failed: "+err.Error()]++
	}
	l.invalidations = append(l.invalidations, inv)
}
