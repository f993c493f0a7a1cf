package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/enneo-facade/facade/graph/admission"
	"github.com/enneo-facade/facade/graph/queries"
	"github.com/enneo-facade/facade/upstream"
	"github.com/enneo-facade/facade/upstream/cache"
)

// TestLimitsRefuseBeforeAnyUpstreamCall: each limit refuses an operation over it with its own
// code, before anything is loaded, and admits the same operation at the limit.
func TestLimitsRefuseBeforeAnyUpstreamCall(t *testing.T) {
	up := newTestUpstream(t, func(w http.ResponseWriter, r *http.Request, id string) {
		w.Write(historyWithSibling(id, "x"))
	})
	aliases := func(n int) string {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, "a%d: contract(id: \"1\") { id } ", i)
		}
		return "{ " + b.String() + "}"
	}
	tests := []struct {
		name   string
		limits Limits
		query  string
		vars   map[string]any
		code   string // "" at the limit: answered
	}{
		{"tokens over", Limits{Tokens: 12}, `{ contract(id: "1") { id status productName } }`, nil, CodeTooManyTokens},
		{"tokens at", Limits{Tokens: 12}, `{ contract(id: "1") { id status } }`, nil, ""},
		{"depth over", Limits{Depth: 3}, `{ contract(id: "1") { history { tickets { id } } } }`, nil, CodeQueryTooDeep},
		{"depth at", Limits{Depth: 4}, `{ contract(id: "1") { history { tickets { id } } } }`, nil, ""},
		{"depth through fragments", Limits{Depth: 3}, `{ contract(id: "1") { ...H } } fragment H on Contract { history { ...T } } fragment T on ContractHistory { tickets { id } }`, nil, CodeQueryTooDeep},
		{"aliases over", Limits{Aliases: 2}, aliases(3), nil, CodeTooManyAliases},
		{"aliases at", Limits{Aliases: 3}, aliases(3), nil, ""},
		{"aliases of a fragment count once per spread", Limits{Aliases: 3}, `{ contract(id: "1") { ...F ... on Contract { ...F } } } fragment F on Contract { a: id b: status }`, nil, CodeTooManyAliases},
		{"root fields over", Limits{RootFields: 2}, aliases(3), nil, CodeTooManyRoot},
		{"root fields at", Limits{RootFields: 3}, aliases(3), nil, ""},
		{"directives over", Limits{Directives: 2}, `{ contract(id: "1") @include(if: true) { id @include(if: true) status @skip(if: false) } }`, nil, CodeTooManyDirects},
		{"directives at", Limits{Directives: 3}, `{ contract(id: "1") @include(if: true) { id @include(if: true) status @skip(if: false) } }`, nil, ""},
		{"directives of the operation", Limits{Directives: 1}, `query Q @include(if: true) { contract(id: "1") @include(if: true) { id } }`, nil, CodeTooManyDirects},
		{"repeated field", Limits{}, `{ contract(id: "1") { ` + strings.Repeat("id ", 11) + `} }`, nil, CodeTooManyRepeats},
		{"repeated field at the bound", Limits{}, `{ contract(id: "1") { ` + strings.Repeat("id ", 10) + `} }`, nil, ""},
		{"repeated through fragments", Limits{}, `{ contract(id: "1") { ...A } } fragment A on Contract { ...B ...B } fragment B on Contract { ...C ...C } fragment C on Contract { ...D ...D } fragment D on Contract { id id }`, nil, CodeTooManyRepeats},
		{"repeated in an unused fragment", Limits{}, `{ contract(id: "1") { id } } fragment F on Contract { ` + strings.Repeat("id ", 11) + `}`, nil, CodeTooManyRepeats},
		// 1 contract + 1 history + 50 tickets x (1 ticket + 1 customer) = 102.
		{"cost over", Limits{Cost: 101}, `{ contract(id: "1") { history { tickets { customer { id } } } } }`, nil, CodeQueryTooComplex},
		{"cost at", Limits{Cost: 102}, `{ contract(id: "1") { history { tickets { customer { id } } } } }`, nil, ""},
		// contracts(ids) multiplies by its ids: 3 x (1 + 1 + 50) = 156.
		{"cost by ids", Limits{Cost: 155}, `query($ids: [ID!]!) { contracts(ids: $ids) { history { tickets { id } } } }`, map[string]any{"ids": []string{"1", "2", "3"}}, CodeQueryTooComplex},
		{"cost by ids at", Limits{Cost: 156}, `query($ids: [ID!]!) { contracts(ids: $ids) { history { tickets { id } } } }`, map[string]any{"ids": []string{"1", "2", "3"}}, ""},
		{"cost of a fragment counts once per spread", Limits{Cost: 103}, `{ a: contract(id: "1") { ...F } b: contract(id: "2") { ...F } } fragment F on Contract { history { tickets { id } } }`, nil, CodeQueryTooComplex},
		{"contracts over", Limits{Contracts: 2}, `query($ids: [ID!]!) { contracts(ids: $ids) { id } c: contract(id: "4") { id } }`, map[string]any{"ids": []string{"1", "2", "1"}}, CodeTooManyContract},
		{"contracts at", Limits{Contracts: 3}, `query($ids: [ID!]!) { contracts(ids: $ids) { id } c: contract(id: "4") { id } }`, map[string]any{"ids": []string{"1", "2", "1"}}, ""},
	}
	for _, tt := range tests {
		api, _ := newTestAPIWith(t, up, 0, Options{Limits: tt.limits})
		before := up.total()
		resp := mustQuery(t, api, "token", tt.query, tt.vars)
		if tt.code == "" {
			if len(resp.Errors) > 0 || resp.Data == nil {
				t.Errorf("%s: %s, want data", tt.name, resp.raw)
			}
			continue
		}
		if len(resp.Errors) != 1 || resp.Errors[0].Extensions["code"] != tt.code || resp.Data != nil {
			t.Errorf("%s: %s, want one %s error and no data", tt.name, resp.raw, tt.code)
			continue
		}
		if ext := resp.Errors[0].Extensions; ext["counted"].(float64) <= ext["limit"].(float64) {
			t.Errorf("%s: counted %v of %v allowed", tt.name, ext["counted"], ext["limit"])
		}
		if n := up.total() - before; n != 0 {
			t.Errorf("%s: %d upstream calls, want none", tt.name, n)
		}
	}
}

// TestRefusalStatus: a refused operation is a request error: 400 for
// application/graphql-response+json, 200 for application/json (GraphQL over HTTP).
func TestRefusalStatus(t *testing.T) {
	up := newTestUpstream(t, func(w http.ResponseWriter, r *http.Request, id string) {})
	api, _ := newTestAPIWith(t, up, 0, Options{Limits: Limits{Depth: 1}})
	for accept, want := range map[string]int{"application/graphql-response+json": http.StatusBadRequest, "application/json": http.StatusOK} {
		req, _ := http.NewRequest(http.MethodPost, api.URL, strings.NewReader(`{"query":"{ contract(id: \"1\") { id } }"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", accept)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("Accept %s: status %d, want %d", accept, resp.StatusCode, want)
		}
	}
}

// TestContractsLimitCountsNestedHistories: the loader counts every distinct contract an
// operation loads, at any depth; those over the limit fail without an upstream call. (Which
// ones is up to the order gqlgen resolves them in.)
func TestContractsLimitCountsNestedHistories(t *testing.T) {
	up := newTestUpstream(t, func(w http.ResponseWriter, r *http.Request, id string) {
		contracts := []any{}
		for _, c := range []string{"1", "2", "3", "4", "5"} {
			contracts = append(contracts, map[string]any{"id": c})
		}
		b, _ := json.Marshal(map[string]any{"tickets": []any{map[string]any{"id": "t" + id, "customer": map[string]any{"contracts": contracts}}}})
		w.Write(b)
	})
	api, _ := newTestAPIWith(t, up, 0, Options{Limits: Limits{Contracts: 3}})
	resp := mustQuery(t, api, "token", `{ contract(id: "1") { history { tickets { customer { contracts { id history { tickets { id } } } } } } } }`, nil)
	refused := 0
	for i, id := range []string{"1", "2", "3", "4", "5"} {
		ext := resp.errorAt(fmt.Sprintf("contract.history.tickets.0.customer.contracts.%d.history", i))
		switch {
		case ext == nil && up.callsFor(id) == 1:
		case ext != nil && ext["code"] == CodeTooManyContract && up.callsFor(id) == 0:
			refused++
		default:
			t.Errorf("contract %s: error %v, %d upstream calls: %s", id, ext, up.callsFor(id), resp.raw)
		}
	}
	if refused != 2 || up.total() != 3 {
		t.Errorf("%d contracts refused and %d upstream calls, want 2 and 3", refused, up.total())
	}
}

// bigHistory is a history of n tickets, each with a body of bodyBytes.
func bigHistory(n, bodyBytes int) []byte {
	tickets := make([]any, n)
	body := strings.Repeat("x", bodyBytes)
	for i := range tickets {
		tickets[i] = map[string]any{"id": i, "subject": fmt.Sprint("subject ", i), "body": body, "status": "open"}
	}
	b, _ := json.Marshal(map[string]any{"tickets": tickets})
	return b
}

// TestRunTimeBoundsCutTheAnswer: an operation that passes the estimate but resolves more fields,
// or more bytes, than allowed stops growing: one RESPONSE_TOO_LARGE error, the rest null.
func TestRunTimeBoundsCutTheAnswer(t *testing.T) {
	up := newTestUpstream(t, func(w http.ResponseWriter, r *http.Request, id string) {
		w.Write(bigHistory(400, 1000))
	})
	const q = `{ contract(id: "1") { id history { tickets { id subject body } } } }`
	for name, tt := range map[string]struct {
		limits Limits
		holds  func(r gqlResponse) bool
	}{
		"fields": {Limits{Fields: 500}, func(r gqlResponse) bool {
			// Every resolved field counts, whichever ticket it belongs to.
			return strings.Count(r.raw, `"subject":"subject`)+strings.Count(r.raw, `"body":"x`)+strings.Count(r.raw, `"id":"`) <= 500
		}},
		"bytes": {Limits{Bytes: 50_000}, func(r gqlResponse) bool { return len(r.raw) < 50_000+400*50 }},
	} {
		api, logs := newTestAPIWith(t, up, 0, Options{Limits: tt.limits})
		resp := mustQuery(t, api, "token", q, nil)
		if len(resp.Errors) != 1 || resp.Errors[0].Extensions["code"] != CodeResponseTooBig {
			t.Errorf("%s: errors %.300s, want one RESPONSE_TOO_LARGE", name, resp.raw)
		}
		if !tt.holds(resp) || !strings.Contains(resp.raw, `"id":"1"`) {
			t.Errorf("%s: a %d-byte answer (of the history's 400 KB): %.300s", name, len(resp.raw), resp.raw)
		}
		if n := strings.Count(logs.String(), "operation errors"); n != 1 {
			t.Errorf("%s: %d log lines of the operation's errors, want 1:\n%s", name, n, logs)
		}
	}
}

// TestOperationTimeoutCutsExecution: an operation still executing at its deadline stops there,
// however much is left to resolve, and answers what it has. The hung contract holds its batch,
// and so every field of the big one, until the deadline has passed. (The big one answers only
// once the hung one is asked for, so that, were the two ever in batches of their own, the big
// one's would not answer before the deadline either.)
func TestOperationTimeoutCutsExecution(t *testing.T) {
	hangAsked := make(chan struct{})
	var once sync.Once
	up := newTestUpstream(t, func(w http.ResponseWriter, r *http.Request, id string) {
		if id == "hang" {
			once.Do(func() { close(hangAsked) })
			<-r.Context().Done()
			return
		}
		select {
		case <-hangAsked:
		case <-r.Context().Done():
			return
		}
		w.Write(bigHistory(2000, 10))
	})
	const timeout = time.Second
	api, _ := newTestAPIWith(t, up, time.Minute, Options{Timeout: timeout, Wait: 50 * time.Millisecond, Limits: Limits{Fields: 1 << 40, Bytes: 1 << 40, Cost: 1 << 40, Aliases: 100, RootFields: 100}})
	var q strings.Builder
	q.WriteString(`{ hung: contract(id: "hang") { id }`)
	for i := range 30 {
		fmt.Fprintf(&q, " c%d: contract(id: \"big\") { history { tickets { id subject status body } } }", i)
	}
	q.WriteString(" }")
	start := time.Now()
	resp := mustQuery(t, api, "token", q.String(), nil)
	took := time.Since(start)
	if !strings.Contains(resp.raw, CodeOperationTime) || strings.Contains(resp.raw, `"subject":"subject`) {
		t.Errorf("answer after %v, want OPERATION_TIMEOUT and no ticket: %.300s", took, resp.raw)
	}
	if took > timeout+2*time.Second {
		t.Errorf("answered after %v, want within the %v timeout plus a little", took, timeout)
	}
	up.srv.CloseClientConnections()
}

// TestOperationTimeoutHoldsForFanOut: a hung upstream behind many contracts costs the caller the
// operation's timeout, not a multiple of it, and no call starts after the deadline.
func TestOperationTimeoutHoldsForFanOut(t *testing.T) {
	up := newTestUpstream(t, func(w http.ResponseWriter, r *http.Request, id string) {
		<-r.Context().Done()
	})
	ids := make([]string, 60)
	for i := range ids {
		ids[i] = fmt.Sprint("h", i)
	}
	const timeout = 300 * time.Millisecond
	for name, cached := range map[string]bool{"client": false, "cache": true} {
		api := newConcurrencyAPI(t, up, 4, timeout, cached)
		before := up.total()
		start := time.Now()
		resp := mustQuery(t, api, "token", `query($ids: [ID!]!) { contracts(ids: $ids) { id } }`, map[string]any{"ids": ids})
		took := time.Since(start)
		if took > timeout+2*time.Second {
			t.Errorf("%s: answered after %v, want within the %v timeout plus a little", name, took, timeout)
		}
		for i := range ids {
			if ext := resp.errorAt(fmt.Sprint("contracts.", i)); ext == nil || ext["code"] != CodeUpstreamTimeout {
				t.Errorf("%s: contract %d: %v, want UPSTREAM_TIMEOUT", name, i, ext)
				break
			}
		}
		if n := up.total() - before; n > 4 {
			t.Errorf("%s: %d upstream calls, want at most the 4 in flight at the deadline", name, n)
		}
		// The calls in flight at the deadline run on for others (the cache's) or until the
		// client gives up: end them.
		up.srv.CloseClientConnections()
	}
}

// TestOperationErrorsAreOneLogLine: many failing fields of one operation log one line with
// their counts, not one each.
func TestOperationErrorsAreOneLogLine(t *testing.T) {
	// 403s: a 5xx would open the circuit breaker after a few.
	up := newTestUpstream(t, func(w http.ResponseWriter, r *http.Request, id string) {
		w.WriteHeader(http.StatusForbidden)
	})
	api, logs := newTestAPI(t, up, 0)
	ids := make([]string, 80)
	for i := range ids {
		ids[i] = fmt.Sprint(i)
	}
	resp := mustQuery(t, api, "token", `query($ids: [ID!]!) { contracts(ids: $ids) { id } }`, map[string]any{"ids": ids})
	if len(resp.Errors) != 80 {
		t.Fatalf("%d errors, want 80", len(resp.Errors))
	}
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], "operation errors") || !strings.Contains(lines[0], "FORBIDDEN:80") {
		t.Errorf("log:\n%s\nwant one line counting 80 FORBIDDENs", logs)
	}
}

// TestAnswersListAtMostAHundredErrors: the errors of one answer are bounded too.
func TestAnswersListAtMostAHundredErrors(t *testing.T) {
	up := newTestUpstream(t, func(w http.ResponseWriter, r *http.Request, id string) {
		w.WriteHeader(http.StatusBadGateway)
	})
	api, _ := newTestAPIWith(t, up, 0, Options{Limits: Limits{Contracts: 1000, Cost: 1 << 20}})
	var q strings.Builder
	q.WriteString("{")
	for i := range 3 {
		ids := make([]string, 50)
		for j := range ids {
			ids[j] = fmt.Sprintf("%q", fmt.Sprint(i, "-", j))
		}
		fmt.Fprintf(&q, " c%d: contracts(ids: [%s]) { id }", i, strings.Join(ids, ","))
	}
	q.WriteString(" }")
	resp := mustQuery(t, api, "token", q.String(), nil)
	if n := len(resp.Errors); n != maxAnswerErrors+1 || resp.Errors[n-1].Extensions["code"] != "TOO_MANY_ERRORS" ||
		!strings.Contains(resp.Errors[n-1].Message, "50 more errors") {
		t.Errorf("%d errors, the last %+v; want 100 and one saying 50 more", n, resp.Errors[n-1])
	}
}

// newConcurrencyAPI serves the handler over a client that makes at most concurrency calls at
// once, each allowed a minute, with (cached) or without the cache, bound alike, in front, and
// the operation timeout given.
func newConcurrencyAPI(t *testing.T, up *testUpstream, concurrency int, timeout time.Duration, cached bool) *httptest.Server {
	t.Helper()
	client, err := upstream.New(upstream.Options{BaseURL: up.srv.URL, Timeout: time.Minute, Concurrency: concurrency})
	if err != nil {
		t.Fatal(err)
	}
	var fetch HistoryFetcher = client
	o := Options{Timeout: timeout}
	if cached {
		histories, err := cache.New(client, cache.NewMemoryStore(1<<20), cache.Options{})
		if err != nil {
			t.Fatal(err)
		}
		fetch, o.Changes, o.Invalidator = histories, histories, histories
	}
	api := httptest.NewServer(NewHandler(fetch, NewAuthenticator("", []byte("k")), o, slog.New(slog.DiscardHandler)))
	t.Cleanup(api.Close)
	return api
}

// TestDisconnectCancelsTheUpstreamCall: a client that hangs up cancels the upstream call made
// for it alone, with the cache in front (which shares calls) and without.
func TestDisconnectCancelsTheUpstreamCall(t *testing.T) {
	for name, cached := range map[string]bool{"client": false, "cache": true} {
		started, cancelled := make(chan struct{}, 1), make(chan struct{}, 1)
		up := newTestUpstream(t, func(w http.ResponseWriter, r *http.Request, id string) {
			started <- struct{}{}
			<-r.Context().Done()
			cancelled <- struct{}{}
		})
		api := newConcurrencyAPI(t, up, 4, time.Minute, cached)
		ctx, hangUp := context.WithCancel(context.Background())
		body, _ := json.Marshal(map[string]any{"query": `{ contract(id: "1") { id } }`})
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, api.URL, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer token")
		go http.DefaultClient.Do(req)
		<-started
		hangUp()
		select {
		case <-cancelled:
		case <-time.After(10 * time.Second):
			t.Errorf("%s: the upstream call went on for 10 s after the client hung up", name)
		}
	}
}

// answerCost is the cost an answer reports in extensions.cost.requestedQueryCost.
func answerCost(t *testing.T, resp gqlResponse) int64 {
	t.Helper()
	var out struct {
		Extensions struct {
			Cost struct{ RequestedQueryCost int64 }
		}
	}
	if err := json.Unmarshal([]byte(resp.raw), &out); err != nil || out.Extensions.Cost.RequestedQueryCost == 0 {
		t.Fatalf("no cost in %.300s: %v", resp.raw, err)
	}
	return out.Extensions.Cost.RequestedQueryCost
}

// TestHistoryStatsBIQueryPassesTheDefaultLimits: the BI tools' query of graph/queries (that of
// docs/bi.md), every aggregate with rows and totals over 100 contracts, is answered under the
// default limits, at the cost worked out here.
func TestHistoryStatsBIQueryPassesTheDefaultLimits(t *testing.T) {
	api, _ := newTestAPI(t, newStatsUpstream(t), 0)
	ids := make([]string, 100)
	for i := range ids {
		ids[i] = fmt.Sprint(100001 + i)
	}
	resp := mustQuery(t, api, "token", queries.HistoryStats, map[string]any{"ids": ids})
	if len(resp.Errors) > 0 || !strings.Contains(string(resp.Data["historyStats"]), `"contracts":100,"failed":0,"totals":{"count":1400,`) {
		t.Fatalf("%.500s", resp.raw)
	}
	// Scanning 100 histories of an assumed 50 tickets: 5,000; HistoryStats 1; totals: TicketStats
	// 1, 7 bucket lists of an assumed 10, timeToClose 1, dueBreaches 1: 73; rows: 100 x (1 + 73).
	const want = 100*50 + 1 + 73 + 100*(1+73) // 12,474
	if c := answerCost(t, resp); c != want || c > DefaultLimits.Cost {
		t.Errorf("cost %d, want %d (the default limit is %d)", c, want, DefaultLimits.Cost)
	}
}

// TestCostFollowsListArguments: historyStats costs more with more ids, tickets and
// ticketsConnection cost less with smaller pages, as a variable as much as inline, and a
// fragment costs what its fields cost written out where it is spread, whatever list it is in.
func TestCostFollowsListArguments(t *testing.T) {
	up := newTestUpstream(t, func(w http.ResponseWriter, r *http.Request, id string) { w.Write([]byte(`{"tickets":[]}`)) })
	api, _ := newTestAPIWith(t, up, 0, Options{Limits: Limits{Cost: 1 << 40}})
	ids := func(n int) string {
		s := make([]string, n)
		for i := range s {
			s[i] = fmt.Sprintf(`"c%d"`, i)
		}
		return "[" + strings.Join(s, ",") + "]"
	}
	stats := func(n int) string {
		return `{ historyStats(contractIds: ` + ids(n) + `) { totals { byStatus { key count } } rows { stats { byStatus { key count } } } } }`
	}
	page := func(args string) string {
		return `{ contract(id: "1") { history { ` + args + ` } } }`
	}
	const edges = `{ edges { node { id customer { id } } } }`
	tests := []struct {
		name              string
		less, equal, more string         // less costs less than more, equal as much
		vars              map[string]any // of less and equal
	}{
		{name: "historyStats: 1 id and 10", less: stats(1), more: stats(10)},
		{name: "historyStats: 10 ids and 100", less: stats(10), more: stats(100)},
		{name: "tickets: first 5 and all", less: page(`tickets(first: 5) { id }`), more: page(`tickets { id }`)},
		{name: "tickets: first 0 and 5", less: page(`tickets(first: 0) { id }`), more: page(`tickets(first: 5) { id }`)},
		{name: "tickets: first 5, inline and as a variable", equal: `query($n: Int) ` + page(`tickets(first: $n) { id }`), more: page(`tickets(first: 5) { id }`), vars: map[string]any{"n": 5}},
		{name: "ticketsConnection: first 5 and all", less: page(`ticketsConnection(first: 5) ` + edges), more: page(`ticketsConnection ` + edges)},
		{name: "ticketsConnection: last 5 and all", less: page(`ticketsConnection(last: 5) ` + edges), more: page(`ticketsConnection ` + edges)},
		{name: "ticketsConnection: first 5 and 20", less: page(`ticketsConnection(first: 5) ` + edges), more: page(`ticketsConnection(first: 20) ` + edges)},
		{
			name:  "a fragment spread in ticketsConnections of different pages",
			equal: page(`a: ticketsConnection(first: 1) { ...E } b: ticketsConnection { ...E }`) + ` fragment E on TicketConnection ` + edges,
			more:  page(`a: ticketsConnection(first: 1) ` + edges + ` b: ticketsConnection ` + edges),
		},
		{
			name:  "a fragment spread in historyStats of different ids",
			equal: `{ a: historyStats(contractIds: ["1"]) { ...H } b: historyStats(contractIds: ` + ids(10) + `) { ...H } } fragment H on HistoryStats { rows { stats { count } } }`,
			more:  `{ a: historyStats(contractIds: ["1"]) { rows { stats { count } } } b: historyStats(contractIds: ` + ids(10) + `) { rows { stats { count } } } }`,
		},
	}
	for _, tt := range tests {
		more := answerCost(t, mustQuery(t, api, "token", tt.more, nil))
		if tt.less != "" {
			if less := answerCost(t, mustQuery(t, api, "token", tt.less, tt.vars)); less >= more {
				t.Errorf("%s: cost %d and %d, want the first less", tt.name, less, more)
			}
		}
		if tt.equal != "" {
			if equal := answerCost(t, mustQuery(t, api, "token", tt.equal, tt.vars)); equal != more {
				t.Errorf("%s: cost %d and %d, want them equal", tt.name, equal, more)
			}
		}
	}
}

// TestHeavyOperationsTakeTurns: while a heavy operation runs and another waits for its turn, a
// cheap one is answered at once, and one more heavy one is refused at once, before any upstream
// call: HTTP 503, Retry-After and OVERLOADED. Once the first ends, the waiting one runs.
func TestHeavyOperationsTakeTurns(t *testing.T) {
	release := make(chan struct{})
	up := newTestUpstream(t, func(w http.ResponseWriter, r *http.Request, id string) {
		if id == "slow" {
			<-release
		}
		w.Write(historyWithSibling(id, "x"))
	})
	// Each history query costs 52 (see TestLimitsRefuseBeforeAnyUpstreamCall): heavy, and two
	// of them do not fit at once.
	gate := admission.New(admission.Options{Heavy: 50, AtOnce: 100, Queue: 1})
	api, _ := newTestAPIWith(t, up, 0, Options{Admission: gate})
	heavy := func(id string) string { return `{ contract(id: "` + id + `") { history { tickets { id } } } }` }
	answers := make(chan reply, 2)
	go func() { answers <- httpPost(t, api.URL, "token", heavy("slow"), nil, nil) }()
	waitFor(t, "the first heavy operation calls the upstream", func() bool { return up.callsFor("slow") == 1 })
	go func() { answers <- httpPost(t, api.URL, "token", heavy("second"), nil, nil) }()
	waitFor(t, "the second heavy operation waits", func() bool { return gate.Waiting() == 1 })

	cheap := httpPost(t, api.URL, "token", `{ contract(id: "cheap") { id } }`, nil, nil)
	if cheap.status != http.StatusOK || !strings.Contains(cheap.body, `"id":"cheap"`) {
		t.Errorf("a cheap operation while heavy ones wait: %d %s, want its answer", cheap.status, cheap.body)
	}
	refused := httpPost(t, api.URL, "token", heavy("third"), nil, nil)
	var out struct {
		Data   any
		Errors []struct {
			Message    string
			Extensions map[string]any
		}
	}
	json.Unmarshal([]byte(refused.body), &out)
	if refused.status != http.StatusServiceUnavailable || refused.header.Get("Retry-After") != "1" || out.Data != nil ||
		len(out.Errors) != 1 || out.Errors[0].Extensions["code"] != CodeOverloaded ||
		out.Errors[0].Extensions["retryAfter"] != float64(1) || out.Errors[0].Extensions["cost"] != float64(52) {
		t.Errorf("a heavy operation past the queue: %d, Retry-After %q, %s; want 503, 1 and one OVERLOADED error",
			refused.status, refused.header.Get("Retry-After"), refused.body)
	}
	if up.callsFor("third") != 0 || up.callsFor("second") != 0 {
		t.Errorf("upstream calls for the refused or waiting operations: %d, %d", up.callsFor("third"), up.callsFor("second"))
	}

	close(release)
	for range 2 {
		if a := <-answers; a.status != http.StatusOK || strings.Contains(a.body, `"errors"`) {
			t.Errorf("a heavy operation that had its turn: %d %s", a.status, a.body)
		}
	}
	if gate.Waiting() != 0 || gate.Running() != 0 {
		t.Errorf("at the end: %d waiting, %d running; want none", gate.Waiting(), gate.Running())
	}
}

// waitFor returns once cond holds: tests wait for a state, never for a time.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("never: %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
