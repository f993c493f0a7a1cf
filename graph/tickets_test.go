package graph

// Tests of ContractHistory.tickets and ticketsConnection (issue 10, points 1 and 2): every
// filter, every order, paging and cursors, over real HTTP against the demo upstream and a
// hand-written fixture. The expected tickets come from the raw upstream JSON through the
// reference code at the end of this file, which shares nothing with graph/model.

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode"

	"github.com/enneo-facade/facade/upstream"
	"github.com/enneo-facade/facade/upstream/cache"
	"github.com/enneo-facade/facade/upstream/demo"
)

const demoToken = "demo-token"

// ticketContracts are the histories the tables run over: three demo contracts with 30 to 39
// tickets and a spread of every filtered value, the contract of the upstream's example ticket,
// and the fixture, which has what the demo lacks.
var ticketContracts = []string{"100022", "100185", "100002", demo.ExampleContractID, fixtureID}

// fixtureID serves fixtureHistory: ids that are numbers, strings, equal by value ("10" and 10,
// "007" and 7), beyond 64 bits or missing; unknown and missing priorities; timestamps in all
// three upstream formats that tie across formats (createdAt 1700000000 = "2023-11-14
// 23:13:20" in Berlin = "2023-11-14T22:13:20Z"); missing dueBy, modifiedAt, createdAt and
// closedAt, and PHP's "no date" values ("" and "0000-00-00 00:00:00"); isEscalated as 0/1,
// booleans and absent; and a null in the list, which is no ticket. Every id that starts with
// fixtureID serves it, for tests that need it cold more than once.
const fixtureID = "fixture"

const fixtureHistory = `{"tickets": [
 {"id": 9, "externalTicketId": "f0", "status": "closed", "channel": "email", "direction": "in", "priority": "medium",
  "isEscalated": 1, "createdAt": 1700000000, "modifiedAt": "2023-11-15 10:00:00", "dueBy": "2023-11-20 12:00:00",
  "closedAt": "2023-11-16 09:00:00", "subject": "Zählerstand", "bodyPlain": "Mein Zählerstand ist 1234.",
  "tags": [{"name": "Zählerstand", "fullName": "Abrechnung: Zählerstand"}], "intents": [{"code": "process_meter_reading"}]},
 {"id": "10", "externalTicketId": "f1", "status": "open", "channel": "phone", "direction": "in", "priority": "critical",
  "isEscalated": true, "createdAt": "2023-11-14 23:13:20", "modifiedAt": "2023-11-15 10:00:00", "dueBy": null,
  "closedAt": null, "subject": "Rückruf erbeten", "bodyPlain": "Bitte rufen Sie mich an.", "tags": [], "intents": []},
 {"id": "007", "externalTicketId": "f2", "status": "resolved", "channel": "letter", "direction": "out",
  "isEscalated": 0, "createdAt": "2023-11-14T22:13:20Z", "modifiedAt": null, "dueBy": "2023-11-18T12:00:00+01:00",
  "closedAt": "2023-11-15T09:00:00+01:00", "subject": "Umzug", "bodyPlain": "Neue Adresse: Hauptstraße 5",
  "tags": [{"name": "Umzug", "fullName": "Vertrag: Umzug"}],
  "intents": [{"code": "process_move"}, {"code": "process_meter_reading"}]},
 {"id": "abc", "externalTicketId": "f3", "status": "resolved", "channel": "email", "direction": "out", "priority": "Urgent",
  "isEscalated": false, "createdAt": "2023-11-13 08:00:00", "modifiedAt": "2023-11-15 10:00:00",
  "dueBy": "2023-11-20 12:00:00", "closedAt": 1700035200, "subject": "Abschlag", "bodyPlain": "Bitte Abschlag senken.",
  "tags": [{"name": "Abschlag", "fullName": "Abrechnung: Abschlag"}], "intents": [{"code": "change_deposit"}]},
 {"id": 7, "externalTicketId": "f4", "status": "open", "channel": "chat", "direction": "in", "priority": "urgent",
  "isEscalated": false, "createdAt": 1699999999, "modifiedAt": 1700100000, "closedAt": null,
  "subject": "Chat: Abschlag", "bodyPlain": "Zu hoch.", "tags": null, "intents": null},
 null,
 {"externalTicketId": "f5", "status": "pending", "channel": "email", "direction": "in", "priority": "low",
  "createdAt": null, "modifiedAt": "2023-11-16 10:00:00", "dueBy": "2023-11-19 00:00:00", "closedAt": null,
  "subject": null, "bodyPlain": "ZÄHLERSTAND folgt"},
 {"id": 12345678901234567890123, "externalTicketId": "f6", "status": "closed", "channel": "portal", "direction": "internal",
  "priority": "high", "isEscalated": 1, "createdAt": "2023-11-14 23:13:20", "modifiedAt": "2023-11-15 10:00:00",
  "dueBy": "2023-11-18 12:00:00", "closedAt": "2023-11-16 09:00:00", "subject": "Interne Notiz: Zählerstand",
  "tags": [{"name": "Second Level", "fullName": "Second Level"}], "intents": []},
 {"id": "Abc", "externalTicketId": "f7", "status": "closed", "channel": "email", "direction": "out", "priority": "low",
  "createdAt": "2023-11-20 10:00:00", "modifiedAt": null, "dueBy": null, "closedAt": "2023-11-21 10:00:00",
  "subject": "AW: Abschlag"},
 {"id": 10, "externalTicketId": "f8", "status": "open", "channel": "portal", "direction": "in", "priority": "critical",
  "createdAt": "2023-11-21T09:00:00+01:00", "modifiedAt": "2023-11-21 09:30:00", "dueBy": "2023-11-22 09:00:00",
  "closedAt": null, "subject": "Noch ein Zähler"},
 {"id": 11, "externalTicketId": "f9", "status": "closed", "channel": "email", "direction": "in", "priority": "medium",
  "createdAt": "2023-11-22 08:00:00", "modifiedAt": "", "dueBy": "0000-00-00 00:00:00", "closedAt": "0000-00-00 00:00:00",
  "subject": "Status unklar"}
]}`

// rawHistory is the body the test upstream serves for id.
func rawHistory(t *testing.T, id string) []byte {
	t.Helper()
	if strings.HasPrefix(id, fixtureID) {
		return []byte(fixtureHistory)
	}
	b, ok := demo.History(id)
	if !ok {
		t.Fatalf("demo.History(%q) has no body", id)
	}
	return b
}

// newTicketsAPI serves the facade, without a cache, over newTicketsAPIUpstream: every query
// fetches and decodes the history anew, through the query's projection.
func newTicketsAPI(t *testing.T) *httptest.Server {
	t.Helper()
	api, _ := newTestAPI(t, newTicketsAPIUpstream(t), 0)
	return api
}

// newTicketsAPIUpstream is the demo upstream with the fixture added.
func newTicketsAPIUpstream(t *testing.T) *testUpstream {
	t.Helper()
	demoUpstream := demo.NewHandler()
	return newTestUpstream(t, func(w http.ResponseWriter, r *http.Request, id string) {
		if strings.HasPrefix(id, fixtureID) {
			w.Write([]byte(fixtureHistory))
			return
		}
		demoUpstream.ServeHTTP(w, r)
	})
}

// The queries select id and externalTicketId, which tell apart tickets with equal ids.
const (
	ticketsQuery = `query($id: ID!, $filter: TicketFilter, $orderBy: [TicketOrder!], $first: Int, $offset: Int) {
  contract(id: $id) { history { tickets(filter: $filter, orderBy: $orderBy, first: $first, offset: $offset) { id externalTicketId } } }
}`
	connectionQuery = `query($id: ID!, $filter: TicketFilter, $orderBy: [TicketOrder!], $first: Int, $after: String, $last: Int, $before: String) {
  contract(id: $id) { history { ticketsConnection(filter: $filter, orderBy: $orderBy, first: $first, after: $after, last: $last, before: $before) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id externalTicketId } }
  } } }
}`
)

// ticketNode is a ticket of an answer.
type ticketNode struct {
	ID               *string `json:"id"`
	ExternalTicketID *string `json:"externalTicketId"`
}

func (n ticketNode) key() string { return deref(n.ID) + "/" + deref(n.ExternalTicketID) }

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// mustTickets runs ticketsQuery and returns the keys of the tickets it answered.
func mustTickets(t *testing.T, api *httptest.Server, vars map[string]any) []string {
	t.Helper()
	resp := mustQuery(t, api, demoToken, ticketsQuery, vars)
	if len(resp.Errors) > 0 {
		t.Fatalf("tickets %v: %s", vars, resp.raw)
	}
	var c struct {
		History struct{ Tickets []ticketNode }
	}
	if err := json.Unmarshal(resp.Data["contract"], &c); err != nil {
		t.Fatalf("tickets %v: %s: %v", vars, resp.raw, err)
	}
	keys := []string{}
	for _, n := range c.History.Tickets {
		keys = append(keys, n.key())
	}
	return keys
}

// connection is a ticketsConnection answer.
type connection struct {
	TotalCount int
	PageInfo   struct {
		HasNextPage, HasPreviousPage bool
		StartCursor, EndCursor       *string
	}
	Edges []struct {
		Cursor string
		Node   ticketNode
	}
}

func (c connection) keys() []string {
	keys := []string{}
	for _, e := range c.Edges {
		keys = append(keys, e.Node.key())
	}
	return keys
}

// mustConnection runs connectionQuery.
func mustConnection(t *testing.T, api *httptest.Server, vars map[string]any) connection {
	t.Helper()
	resp := mustQuery(t, api, demoToken, connectionQuery, vars)
	if len(resp.Errors) > 0 {
		t.Fatalf("ticketsConnection %v: %s", vars, resp.raw)
	}
	var c struct {
		History struct{ TicketsConnection connection }
	}
	if err := json.Unmarshal(resp.Data["contract"], &c); err != nil {
		t.Fatalf("ticketsConnection %v: %s: %v", vars, resp.raw, err)
	}
	return c.History.TicketsConnection
}

// checkBadInput asserts that resp is a BAD_USER_INPUT error at path and holds no data under
// the contract: a refused argument is never a page.
func checkBadInput(t *testing.T, resp gqlResponse, path, what string) {
	t.Helper()
	if ext := resp.errorAt(path); ext == nil || ext["code"] != CodeBadUserInput {
		t.Errorf("%s: %s, want BAD_USER_INPUT at %s", what, resp.raw, path)
	}
	if c := string(resp.Data["contract"]); c != "null" {
		t.Errorf("%s: contract = %s, want null", what, c)
	}
}

// orderVars turns orders into the orderBy variable; an order without a direction leaves it
// out, to use the schema's default.
func orderVars(orders []refOrder) []map[string]any {
	out := []map[string]any{}
	for _, o := range orders {
		v := map[string]any{"field": o.field}
		if o.dir != "" {
			v["direction"] = o.dir
		}
		out = append(out, v)
	}
	return out
}

// filterCase is a filter and what its result must be on the data, so that no case passes
// vacuously: "some" is neither empty nor every ticket on at least one contract, "none" and
// "all" are so on every contract.
type filterCase struct {
	name   string
	filter map[string]any
	expect string
	// boundary, when set, names the tickets whose timestamp equals a bound of filter, and
	// whether the half-open range keeps them.
	boundary *boundary
}

type boundary struct {
	contract string
	keys     []string
	kept     bool
}

func TestTicketsFilter(t *testing.T) {
	api := newTicketsAPI(t)
	histories := map[string][]refTicket{}
	for _, id := range ticketContracts {
		histories[id] = mustRefHistory(t, id)
	}

	cases := []filterCase{
		{"no condition", map[string]any{}, "all", nil},
		{"status", map[string]any{"status": []string{"resolved"}}, "some", nil},
		{"status any of", map[string]any{"status": []string{"open", "pending", "waitingOnCustomer"}}, "some", nil},
		{"status unknown value", map[string]any{"status": []string{"archived"}}, "none", nil},
		{"status empty list", map[string]any{"status": []string{}}, "none", nil},
		{"channel", map[string]any{"channel": []string{"email"}}, "some", nil},
		{"channel any of", map[string]any{"channel": []string{"phone", "letter", "walkIn"}}, "some", nil},
		{"channel empty list", map[string]any{"channel": []string{}}, "none", nil},
		{"direction", map[string]any{"direction": []string{"in"}}, "some", nil},
		{"direction any of", map[string]any{"direction": []string{"out", "internal"}}, "some", nil},
		{"direction empty list", map[string]any{"direction": []string{}}, "none", nil},
		{"priority", map[string]any{"priority": []string{"low"}}, "some", nil},
		{"priority any of", map[string]any{"priority": []string{"high", "urgent"}}, "some", nil},
		{"priority unknown value", map[string]any{"priority": []string{"critical"}}, "some", nil},
		{"priority empty list", map[string]any{"priority": []string{}}, "none", nil},
		{"intentCode", map[string]any{"intentCode": []string{"process_meter_reading"}}, "some", nil},
		{"intentCode any of", map[string]any{"intentCode": []string{"terminate_contract", "payment_plan"}}, "some", nil},
		{"intentCode empty list", map[string]any{"intentCode": []string{}}, "none", nil},
		{"tag by name", map[string]any{"tag": []string{"Zählerstand"}}, "some", nil},
		{"tag by fullName", map[string]any{"tag": []string{"Abrechnung: Zählerstand"}}, "some", nil},
		{"tag any of name and fullName", map[string]any{"tag": []string{"Vertrag: Kündigung", "Mahnung", "Second Level"}}, "some", nil},
		{"tag is matched whole, not as a prefix", map[string]any{"tag": []string{"Abrechnung"}}, "none", nil},
		{"tag empty list", map[string]any{"tag": []string{}}, "none", nil},
		{"open", map[string]any{"open": true}, "some", nil},
		{"closed", map[string]any{"open": false}, "some", nil},
		{"escalated", map[string]any{"escalated": true}, "some", nil},
		{"not escalated", map[string]any{"escalated": false}, "some", nil},
		{"text folds case", map[string]any{"text": "ZÄHLER"}, "some", nil},
		{"text lower case", map[string]any{"text": "zählerstand"}, "some", nil},
		{"text in subject and body", map[string]any{"text": "Ratenzahlung"}, "some", nil},
		{"text in body only", map[string]any{"text": "mustermann"}, "some", nil},
		{"text ß folds to ss", map[string]any{"text": "STRASSE"}, "some", nil},
		{"text ß in the query", map[string]any{"text": "grüße"}, "some", nil},
		{"text nowhere", map[string]any{"text": "Quittungsbeleg"}, "none", nil},
		{"all conditions hold", map[string]any{"status": []string{"closed", "resolved"}, "channel": []string{"email"}, "priority": []string{"low", "medium"}}, "some", nil},
		{"open and outbound", map[string]any{"open": true, "direction": []string{"out"}}, "some", nil},
		{"text, intent and not escalated", map[string]any{"text": "zähler", "intentCode": []string{"process_meter_reading"}, "escalated": false}, "some", nil},
		{"conditions no ticket meets together", map[string]any{"status": []string{"open"}, "open": false}, "none", nil},
	}
	cases = append(cases, demoBoundCases(t, histories["100022"])...)
	cases = append(cases, fixtureBoundCases(t, histories[fixtureID])...)

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			some := false
			for _, id := range ticketContracts {
				var want []refTicket
				for _, tk := range histories[id] {
					if refMatch(t, tc.filter, tk) {
						want = append(want, tk)
					}
				}
				got := mustTickets(t, api, map[string]any{"id": id, "filter": tc.filter})
				if !slices.Equal(got, keysOf(want)) {
					t.Errorf("contract %s: tickets(filter: %v) = %v, want %v", id, tc.filter, got, keysOf(want))
				}
				n, all := len(want), len(histories[id])
				switch {
				case tc.expect == "none" && n != 0, tc.expect == "all" && n != all:
					t.Errorf("contract %s: the reference finds %d of %d tickets, but the case expects %s", id, n, all, tc.expect)
				case 0 < n && n < all:
					some = true
				}
				if b := tc.boundary; b != nil && b.contract == id {
					for _, key := range b.keys {
						if slices.Contains(keysOf(want), key) != b.kept {
							t.Errorf("contract %s: ticket %s on the bound: kept = %v, want %v", id, key, !b.kept, b.kept)
						}
					}
				}
			}
			if tc.expect == "some" && !some {
				t.Errorf("no contract has some but not all tickets matching: the case tests nothing")
			}
		})
	}
}

// demoBoundCases are range filters whose bounds equal a ticket's createdAt or closedAt, given
// as RFC 3339 (with Berlin's offset and in UTC), unix seconds and zoneless Berlin time, so that
// the ticket on the bound shows from-inclusive and to-exclusive. In 100022 the createdAt bound
// falls in winter time and the closedAt one in summer time, so both offsets are read.
func demoBoundCases(t *testing.T, h []refTicket) []filterCase {
	t.Helper()
	created := h[len(h)/2]
	var closed refTicket
	for _, tk := range h[len(h)/3:] {
		if _, ok := tk.times["closedAt"]; ok {
			closed = tk
			break
		}
	}
	if closed.key == "" {
		t.Fatal("100022 has no closed ticket after its first third")
	}
	var cases []filterCase
	for _, bound := range []struct {
		field string
		tk    refTicket
	}{{"created", created}, {"closed", closed}} {
		at := bound.tk.times[bound.field+"At"]
		formats := []struct {
			name  string
			value any
		}{
			{"RFC 3339", at.Format(time.RFC3339)},
			{"RFC 3339 UTC", at.UTC().Format(time.RFC3339)},
			{"unix seconds", at.Unix()},
			{"zoneless", at.In(berlin).Format(time.DateTime)},
		}
		for _, f := range formats {
			cases = append(cases,
				filterCase{bound.field + "From " + f.name, map[string]any{bound.field + "From": f.value}, "some",
					&boundary{"100022", []string{bound.tk.key}, true}},
				filterCase{bound.field + "To " + f.name, map[string]any{bound.field + "To": f.value}, "some",
					&boundary{"100022", []string{bound.tk.key}, false}})
		}
		// A window that ends where it starts holds nothing; one a day wide around the ticket holds it.
		cases = append(cases,
			filterCase{bound.field + " empty window", map[string]any{bound.field + "From": at.Unix(), bound.field + "To": at.Unix()}, "none", nil},
			filterCase{bound.field + " window", map[string]any{
				bound.field + "From": at.Add(-24 * time.Hour).Format(time.RFC3339), bound.field + "To": at.Add(time.Second).Unix(),
			}, "some", &boundary{"100022", []string{bound.tk.key}, true}},
		)
	}
	cases = append(cases, filterCase{"range, tag and closed", map[string]any{
		"createdFrom": created.times["createdAt"].Add(-365 * 24 * time.Hour).Unix(),
		"createdTo":   created.times["createdAt"].Format(time.RFC3339),
		"tag":         []string{"Zählerstand", "Zahlung: Mahnung"},
		"open":        false,
	}, "some", nil})
	return cases
}

// fixtureBoundCases put a bound on the fixture's instant that four tickets share in three
// formats, with a ticket one second before it and one without createdAt.
func fixtureBoundCases(t *testing.T, h []refTicket) []filterCase {
	t.Helper()
	shared := time.Unix(1700000000, 0)
	n := 0
	for _, tk := range h {
		if at, ok := tk.times["createdAt"]; ok && at.Equal(shared) {
			n++
		}
	}
	if n != 4 {
		t.Fatalf("the fixture has %d tickets created at %v, want 4", n, shared)
	}
	created := []string{"9/f0", "10/f1", "007/f2", "12345678901234567890123/f6"}
	closed := []string{"007/f2", "abc/f3"} // ISO 8601 and unix seconds
	return []filterCase{
		{"createdFrom on tickets in three formats", map[string]any{"createdFrom": 1700000000}, "some", &boundary{fixtureID, created, true}},
		{"createdFrom zoneless on the fixture", map[string]any{"createdFrom": "2023-11-14 23:13:20"}, "some", &boundary{fixtureID, created, true}},
		{"createdTo on tickets in three formats", map[string]any{"createdTo": "2023-11-14T22:13:20Z"}, "some", &boundary{fixtureID, created, false}},
		{"closedFrom on tickets in two formats", map[string]any{"closedFrom": "2023-11-15 09:00:00"}, "some", &boundary{fixtureID, closed, true}},
		{"closedTo on tickets in two formats", map[string]any{"closedTo": "2023-11-15T09:00:00+01:00"}, "some", &boundary{fixtureID, closed, false}},
	}
}

func TestTicketsWithoutArguments(t *testing.T) {
	api := newTicketsAPI(t)
	queries := map[string]string{
		"no arguments": `query($id: ID!) { contract(id: $id) { history { tickets { id externalTicketId } } } }`,
		"null arguments": `query($id: ID!) { contract(id: $id) { history {
			tickets(filter: null, orderBy: null, first: null, offset: null) { id externalTicketId } } } }`,
		"empty filter and order": `query($id: ID!) { contract(id: $id) { history {
			tickets(filter: {}, orderBy: [], offset: 0) { id externalTicketId } } } }`,
	}
	for name, q := range queries {
		for _, id := range ticketContracts {
			resp := mustQuery(t, api, demoToken, q, map[string]any{"id": id})
			var c struct {
				History struct{ Tickets []ticketNode }
			}
			if err := json.Unmarshal(resp.Data["contract"], &c); err != nil || len(resp.Errors) > 0 {
				t.Fatalf("%s, contract %s: %s", name, id, resp.raw)
			}
			got := []string{}
			for _, n := range c.History.Tickets {
				got = append(got, n.key())
			}
			if want := keysOf(mustRefHistory(t, id)); !slices.Equal(got, want) {
				t.Errorf("%s, contract %s: tickets = %v, want upstream order %v", name, id, got, want)
			}
		}
	}
}

func TestTicketsOrder(t *testing.T) {
	api := newTicketsAPI(t)
	histories := map[string][]refTicket{}
	for _, id := range ticketContracts {
		histories[id] = mustRefHistory(t, id)
	}
	fields := []string{"CREATED_AT", "MODIFIED_AT", "DUE_BY", "CLOSED_AT", "PRIORITY", "ID"}

	// The fixture has, for every field, two tickets with equal values and one without, and
	// PRIORITY unknown values, so ties, nulls and ranks are all exercised.
	for _, f := range fields {
		ties, nulls := 0, 0
		fx := histories[fixtureID]
		for i, a := range fx {
			if c, aNull, _ := refCompare(f, a, a); aNull || c != 0 {
				nulls++
				continue
			}
			for _, b := range fx[i+1:] {
				if c, _, bNull := refCompare(f, a, b); !bNull && c == 0 {
					ties++
				}
			}
		}
		if ties == 0 || nulls == 0 {
			t.Errorf("the fixture has %d ties and %d nulls of %s, want some of each", ties, nulls, f)
		}
	}
	unknown := 0
	for _, tk := range histories[fixtureID] {
		if p, ok := tk.fields["priority"]; ok && refPriorityRank(p) == 4 {
			unknown++
		}
	}
	if unknown < 2 {
		t.Errorf("the fixture has %d unknown priorities, want at least 2 (a tie among them)", unknown)
	}

	var cases [][]refOrder
	for _, f := range fields {
		cases = append(cases, []refOrder{{f, "ASC"}}, []refOrder{{f, "DESC"}})
	}
	cases = append(cases,
		[]refOrder{{"DUE_BY", ""}}, // the default direction
		[]refOrder{{"PRIORITY", "DESC"}, {"CREATED_AT", "ASC"}},
		[]refOrder{{"PRIORITY", "ASC"}, {"ID", "DESC"}},
		[]refOrder{{"MODIFIED_AT", "DESC"}, {"DUE_BY", "ASC"}},
		[]refOrder{{"CLOSED_AT", "ASC"}, {"PRIORITY", "DESC"}, {"ID", "ASC"}},
		[]refOrder{{"CREATED_AT", "DESC"}, {"ID", "ASC"}},
	)
	for _, orders := range cases {
		t.Run(fmt.Sprint(orders), func(t *testing.T) {
			reordered, tieBroken := false, false
			for _, id := range ticketContracts {
				h := histories[id]
				want := keysOf(refSort(h, orders))
				got := mustTickets(t, api, map[string]any{"id": id, "orderBy": orderVars(orders)})
				if !slices.Equal(got, want) {
					t.Errorf("contract %s: tickets(orderBy: %v) = %v, want %v", id, orders, got, want)
				}
				reordered = reordered || !slices.Equal(want, keysOf(h))
				tieBroken = tieBroken || !slices.Equal(want, keysOf(refSort(h, orders[:1])))
			}
			if !reordered {
				t.Errorf("the order is the upstream order on every contract: the case tests nothing")
			}
			if len(orders) > 1 && !tieBroken {
				t.Errorf("the later orders never break a tie of the first: the case tests nothing")
			}
		})
	}
}

func TestTicketsFirstOffset(t *testing.T) {
	api := newTicketsAPI(t)
	filter := map[string]any{"open": false}
	orders := []refOrder{{"PRIORITY", "DESC"}, {"CREATED_AT", "DESC"}}
	var list []refTicket
	for _, tk := range mustRefHistory(t, "100022") {
		if refMatch(t, filter, tk) {
			list = append(list, tk)
		}
	}
	all := keysOf(refSort(list, orders))
	n := len(all)

	cases := []struct{ first, offset *int }{
		{nil, nil},
		{ptr(0), nil},
		{ptr(1), nil},
		{ptr(5), ptr(0)},
		{nil, ptr(5)},
		{ptr(5), ptr(10)},
		{nil, ptr(n - 1)},
		{nil, ptr(n)},
		{nil, ptr(n + 10)},
		{ptr(3), ptr(n - 2)},
		{ptr(n), nil},
		{ptr(n + 5), nil},
		{ptr(0), ptr(n + 10)},
	}
	for _, tc := range cases {
		vars := map[string]any{"id": "100022", "filter": filter, "orderBy": orderVars(orders)}
		start, end := 0, n
		if tc.offset != nil {
			vars["offset"] = *tc.offset
			start = min(*tc.offset, n)
		}
		if tc.first != nil {
			vars["first"] = *tc.first
			end = min(start+*tc.first, n)
		}
		if got, want := mustTickets(t, api, vars), all[start:end]; !slices.Equal(got, want) {
			t.Errorf("tickets(first: %v, offset: %v) = %v, want %v", show(tc.first), show(tc.offset), got, want)
		}
	}

	// Negative values are refused, also without a filter or an order.
	for _, vars := range []map[string]any{
		{"first": -1},
		{"offset": -1},
		{"first": -1, "offset": 2},
		{"first": 2, "offset": -3, "filter": filter, "orderBy": orderVars(orders)},
	} {
		vars["id"] = "100022"
		resp := mustQuery(t, api, demoToken, ticketsQuery, vars)
		checkBadInput(t, resp, "contract.history.tickets", fmt.Sprintf("tickets %v", vars))
	}
}

func TestTicketsConnectionPaging(t *testing.T) {
	api := newTicketsAPI(t)
	lists := []struct {
		id     string
		filter map[string]any
		orders []refOrder
	}{
		{"100022", map[string]any{"channel": []string{"email", "portal", "letter"}}, []refOrder{{"PRIORITY", "DESC"}, {"DUE_BY", "ASC"}}},
		{"100185", nil, nil},
		{fixtureID, nil, []refOrder{{"CREATED_AT", "ASC"}}},
	}
	for _, l := range lists {
		var list []refTicket
		for _, tk := range mustRefHistory(t, l.id) {
			if refMatch(t, l.filter, tk) {
				list = append(list, tk)
			}
		}
		want := keysOf(refSort(list, l.orders))
		n := len(want)
		base := map[string]any{"id": l.id, "filter": l.filter, "orderBy": orderVars(l.orders)}
		if l.filter == nil {
			delete(base, "filter")
		}
		if n < 4 {
			t.Fatalf("contract %s: %d tickets, too few to page", l.id, n)
		}
		for _, size := range []int{1, 3, n - 1, n, n + 1} {
			checkWalk(t, api, base, want, size, true)
			checkWalk(t, api, base, want, size, false)
		}

		// Between two cursors, and the edges of the list.
		whole := mustConnection(t, api, base)
		if got := whole.keys(); !slices.Equal(got, want) || whole.TotalCount != n {
			t.Fatalf("contract %s: whole connection = %v (totalCount %d), want %v", l.id, got, whole.TotalCount, want)
		}
		checkPageInfo(t, l.id+" whole", whole, n, false, false)
		first, last := whole.Edges[0].Cursor, whole.Edges[n-1].Cursor
		for _, tc := range []struct {
			name       string
			args       map[string]any
			start, end int
		}{
			{"after and before", map[string]any{"after": whole.Edges[1].Cursor, "before": whole.Edges[n-2].Cursor}, 2, n - 2},
			{"after and before, first", map[string]any{"after": first, "before": last, "first": 2}, 1, 3},
			{"after and before, last", map[string]any{"after": first, "before": last, "last": 2}, n - 3, n - 1},
			{"first: 0", map[string]any{"first": 0}, 0, 0},
			{"last: 0", map[string]any{"last": 0}, n, n},
			{"after the last edge", map[string]any{"after": last}, n, n},
			{"before the first edge", map[string]any{"before": first}, 0, 0},
			{"before the first edge, last", map[string]any{"before": first, "last": 3}, 0, 0},
			{"after the last edge, first", map[string]any{"after": last, "first": 3}, n, n},
			{"before after after", map[string]any{"after": last, "before": first}, n, n},
			{"first beyond the end", map[string]any{"after": whole.Edges[n-3].Cursor, "first": 10}, n - 2, n},
			{"last beyond the start", map[string]any{"before": whole.Edges[2].Cursor, "last": 10}, 0, 2},
		} {
			vars := merge(base, tc.args)
			c := mustConnection(t, api, vars)
			what := fmt.Sprintf("contract %s, %s", l.id, tc.name)
			if got := c.keys(); !slices.Equal(got, want[tc.start:tc.end]) {
				t.Errorf("%s: edges = %v, want %v", what, got, want[tc.start:tc.end])
			}
			checkPageInfo(t, what, c, n, tc.start > 0, tc.end < n)
		}

		for _, args := range []map[string]any{{"first": -1}, {"last": -1}, {"after": first, "first": -5}} {
			resp := mustQuery(t, api, demoToken, connectionQuery, merge(base, args))
			checkBadInput(t, resp, "contract.history.ticketsConnection", fmt.Sprintf("contract %s, %v", l.id, args))
		}
	}

	// An empty result, from a filter and from a contract without tickets.
	for _, vars := range []map[string]any{
		{"id": "100022", "filter": map[string]any{"status": []string{}}},
		{"id": "100022", "filter": map[string]any{"status": []string{}}, "first": 5},
		{"id": "100022", "filter": map[string]any{"status": []string{}}, "last": 5},
		{"id": demo.EmptyID},
	} {
		c := mustConnection(t, api, vars)
		what := fmt.Sprintf("empty %v", vars)
		if len(c.Edges) != 0 || c.TotalCount != 0 {
			t.Errorf("%s: %d edges, totalCount %d, want none", what, len(c.Edges), c.TotalCount)
		}
		checkPageInfo(t, what, c, 0, false, false)
	}
}

// checkWalk pages through the list size edges at a time, forward with first/after or backward
// with last/before, checking each page's pageInfo, and the pages' concatenation against want.
func checkWalk(t *testing.T, api *httptest.Server, base map[string]any, want []string, size int, forward bool) {
	t.Helper()
	n := len(want)
	var got []string
	var cursor *string
	for range n + 1 { // a walk that does not end within n+1 pages has gone wrong
		vars := merge(base, nil)
		if forward {
			vars["first"] = size
			if cursor != nil {
				vars["after"] = *cursor
			}
		} else {
			vars["last"] = size
			if cursor != nil {
				vars["before"] = *cursor
			}
		}
		c := mustConnection(t, api, vars)
		what := fmt.Sprintf("%v walking %d at a time, forward %v, after %d edges", base, size, forward, len(got))
		page := c.keys()
		if forward {
			checkPageInfo(t, what, c, n, len(got) > 0, len(got)+len(page) < n)
			got = append(got, page...)
			cursor = c.PageInfo.EndCursor
			if !c.PageInfo.HasNextPage {
				break
			}
		} else {
			checkPageInfo(t, what, c, n, len(got)+len(page) < n, len(got) > 0)
			got = append(page, got...)
			cursor = c.PageInfo.StartCursor
			if !c.PageInfo.HasPreviousPage {
				break
			}
		}
		if len(page) == 0 || len(page) > size {
			t.Fatalf("%s: a page of %d edges", what, len(page))
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("%v walking %d at a time, forward %v: %v, want %v", base, size, forward, got, want)
	}
}

// checkPageInfo checks a page's pageInfo and totalCount against where the page lies.
func checkPageInfo(t *testing.T, what string, c connection, total int, hasPrevious, hasNext bool) {
	t.Helper()
	p := c.PageInfo
	if c.TotalCount != total {
		t.Errorf("%s: totalCount = %d, want %d", what, c.TotalCount, total)
	}
	if p.HasPreviousPage != hasPrevious || p.HasNextPage != hasNext {
		t.Errorf("%s: hasPreviousPage, hasNextPage = %v, %v, want %v, %v", what, p.HasPreviousPage, p.HasNextPage, hasPrevious, hasNext)
	}
	if len(c.Edges) == 0 {
		if p.StartCursor != nil || p.EndCursor != nil {
			t.Errorf("%s: an empty page has cursors %v, %v, want null", what, show(p.StartCursor), show(p.EndCursor))
		}
		return
	}
	if deref(p.StartCursor) != c.Edges[0].Cursor || deref(p.EndCursor) != c.Edges[len(c.Edges)-1].Cursor {
		t.Errorf("%s: startCursor, endCursor = %v, %v, want the first and last edges' cursors", what, show(p.StartCursor), show(p.EndCursor))
	}
}

func TestTicketsConnectionCursorTampering(t *testing.T) {
	api := newTicketsAPI(t)
	filter := map[string]any{"open": false}
	orders := orderVars([]refOrder{{"CREATED_AT", "DESC"}})
	base := map[string]any{"id": "100022", "filter": filter, "orderBy": orders}
	page := mustConnection(t, api, base)
	if len(page.Edges) < 10 {
		t.Fatalf("%d edges, too few", len(page.Edges))
	}
	valid, other := page.Edges[1].Cursor, page.Edges[5].Cursor
	// The valid cursor works, so what fails below fails for what was done to it.
	if c := mustConnection(t, api, merge(base, map[string]any{"after": valid, "first": 1})); !slices.Equal(c.keys(), page.keys()[2:3]) {
		t.Fatalf("after the second edge: %v, want %v", c.keys(), page.keys()[2:3])
	}

	forged := map[string]string{
		"empty":          "",
		"garbage":        "not a cursor!",
		"not base64":     "%%%%",
		"null":           "null",
		"padded":         valid + "==",
		"truncated":      valid[:len(valid)-1],
		"half":           valid[:len(valid)/2],
		"longer":         valid + "AA",
		"random bytes":   base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{0x5a}, len(mustDecodeCursor(t, valid)))),
		"spliced checks": spliceCursor(t, valid, other),
	}
	raw := mustDecodeCursor(t, valid)
	for i := range raw {
		b := slices.Clone(raw)
		b[i] ^= 0x01
		forged[fmt.Sprintf("byte %d changed", i)] = base64.RawURLEncoding.EncodeToString(b)
	}
	// Each character changed to its neighbour in the alphabet, the smallest change to its six
	// bits; in the last character that change falls in the bits past the cursor's last byte.
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for i := range len(valid) {
		c := []byte(valid)
		c[i] = alphabet[strings.IndexByte(alphabet, c[i])^1]
		forged[fmt.Sprintf("character %d changed", i)] = string(c)
	}

	// Cursors of other lists: each list must differ from the one they are used on, and
	// position 1 exists in every list, so only the binding to the list can refuse them.
	otherFilter := map[string]any{"open": false, "channel": []string{"email"}}
	otherLists := map[string]map[string]any{
		"another filter":   merge(base, map[string]any{"filter": otherFilter}),
		"another order":    merge(base, map[string]any{"orderBy": orderVars([]refOrder{{"CREATED_AT", "ASC"}})}),
		"another contract": merge(base, map[string]any{"id": "100185"}),
		"no filter":        {"id": "100022", "orderBy": orders},
	}
	for name, vars := range otherLists {
		c := mustConnection(t, api, vars)
		if len(c.Edges) < 2 || slices.Equal(c.keys(), page.keys()) {
			t.Fatalf("%s: %v is no other list of at least 2", name, c.keys())
		}
		forged["from "+name] = c.Edges[1].Cursor
	}

	for name, cursor := range forged {
		if cursor == valid {
			t.Fatalf("%s: the forged cursor is the valid one", name)
		}
		for _, arg := range []string{"after", "before"} {
			resp := mustQuery(t, api, demoToken, connectionQuery, merge(base, map[string]any{arg: cursor}))
			checkBadInput(t, resp, "contract.history.ticketsConnection", fmt.Sprintf("%s cursor %q as %s", name, cursor, arg))
		}
	}
}

func mustDecodeCursor(t *testing.T, c string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		t.Fatalf("cursor %q is not unpadded base64url: %v", c, err)
	}
	return b
}

// spliceCursor joins the first half of a's bytes with the second half of b's: a cursor made
// of two genuine ones.
func spliceCursor(t *testing.T, a, b string) string {
	t.Helper()
	x, y := mustDecodeCursor(t, a), mustDecodeCursor(t, b)
	if len(x) != len(y) {
		t.Fatalf("cursors of %d and %d bytes", len(x), len(y))
	}
	return base64.RawURLEncoding.EncodeToString(append(slices.Clone(x[:len(x)/2]), y[len(y)/2:]...))
}

func TestTicketsConnectionStaleCursor(t *testing.T) {
	// An upstream whose history the test changes, the same for every contract id; without a
	// cache every query sees the change.
	var body atomic.Pointer[[]byte]
	set := func(h string) { b := []byte(h); body.Store(&b) }
	up := newTestUpstream(t, func(w http.ResponseWriter, r *http.Request, id string) { w.Write(*body.Load()) })
	api, _ := newTestAPI(t, up, 0)
	ticket := func(id, status, subject string) string {
		return fmt.Sprintf(`{"id": %q, "status": %q, "subject": %q}`, id, status, subject)
	}
	history := func(tickets ...string) string { return `{"tickets": [` + strings.Join(tickets, ",") + `]}` }

	// The query selects no id, so the history is decoded without ids unless the cursors'
	// needs keep them.
	const q = `query($id: ID!, $first: Int, $after: String) { contract(id: $id) { history {
		ticketsConnection(filter: {status: ["open"]}, first: $first, after: $after) {
			pageInfo { endCursor } edges { node { subject } }
		} } } }`
	page := func(resp gqlResponse) (endCursor string, subjects []string) {
		var c struct {
			History struct {
				TicketsConnection struct {
					PageInfo struct{ EndCursor string }
					Edges    []struct{ Node struct{ Subject string } }
				}
			}
		}
		if err := json.Unmarshal(resp.Data["contract"], &c); err != nil || len(resp.Errors) > 0 {
			t.Fatalf("ticketsConnection: %s", resp.raw)
		}
		for _, e := range c.History.TicketsConnection.Edges {
			subjects = append(subjects, e.Node.Subject)
		}
		return c.History.TicketsConnection.PageInfo.EndCursor, subjects
	}

	before := history(ticket("1", "open", "a"), ticket("2", "closed", "b"), ticket("3", "open", "c"), ticket("4", "open", "d"))
	for _, tc := range []struct {
		name, after string
		contract    string // where the cursor is used; it came from "stale"
		valid       bool   // the filtered list is the same, so the cursor still holds
	}{
		{"a ticket added to the list", history(ticket("1", "open", "a"), ticket("2", "closed", "b"), ticket("3", "open", "c"), ticket("4", "open", "d"), ticket("5", "open", "e")), "stale", false},
		{"a ticket added before the list", history(ticket("0", "open", "z"), ticket("1", "open", "a"), ticket("2", "closed", "b"), ticket("3", "open", "c"), ticket("4", "open", "d")), "stale", false},
		{"a ticket leaves the list", history(ticket("1", "open", "a"), ticket("2", "closed", "b"), ticket("3", "closed", "c"), ticket("4", "open", "d")), "stale", false},
		{"a ticket joins the list", history(ticket("1", "open", "a"), ticket("2", "open", "b"), ticket("3", "open", "c"), ticket("4", "open", "d")), "stale", false},
		{"a ticket's id changes", history(ticket("1", "open", "a"), ticket("2", "closed", "b"), ticket("9", "open", "c"), ticket("4", "open", "d")), "stale", false},
		{"another contract with the same tickets", before, "stale-twin", false},
		{"a ticket outside the list is added", history(ticket("1", "open", "a"), ticket("2", "closed", "b"), ticket("3", "open", "c"), ticket("4", "open", "d"), ticket("5", "closed", "e")), "stale", true},
		{"a subject changes", history(ticket("1", "open", "A"), ticket("2", "closed", "b"), ticket("3", "open", "C"), ticket("4", "open", "d")), "stale", true},
	} {
		set(before)
		cursor, first := page(mustQuery(t, api, demoToken, q, map[string]any{"id": "stale", "first": 2}))
		if !slices.Equal(first, []string{"a", "c"}) {
			t.Fatalf("%s: first page %v, want [a c]", tc.name, first)
		}
		set(tc.after)
		resp := mustQuery(t, api, demoToken, q, map[string]any{"id": tc.contract, "after": cursor})
		if !tc.valid {
			checkBadInput(t, resp, "contract.history.ticketsConnection", tc.name)
			continue
		}
		if _, got := page(resp); !slices.Equal(got, []string{"d"}) {
			t.Errorf("%s: the page after the cursor = %v, want [d]", tc.name, got)
		}
	}
}

// TestTicketsCold checks the arguments on histories decoded through the operation's
// projection: the query selects only id, so only what the filters and orders read besides
// keeps their fields. It runs on a cold cache (a miss decodes the projection) and again warm
// (a hit decodes the whole cached body).
func TestTicketsCold(t *testing.T) {
	up := newTicketsAPIUpstream(t)
	client, err := upstream.New(upstream.Options{BaseURL: up.srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	histories, err := cache.New(client, cache.NewMemoryStore(16<<20), cache.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(histories.Close)
	api := newTestAPIWithFetcher(t, histories)

	cases := []struct {
		id     string
		filter map[string]any
		orders []refOrder
	}{
		{"100022", map[string]any{"text": "ZÄHLER", "tag": []string{"Abrechnung: Zählerstand", "Second Level"}, "intentCode": []string{"process_meter_reading"}}, []refOrder{{"DUE_BY", "DESC"}}},
		{"100185", map[string]any{"text": "mustermann", "escalated": false, "direction": []string{"in"}}, []refOrder{{"DUE_BY", "ASC"}}},
		{"100002", map[string]any{"open": false, "closedFrom": "2020-01-01 00:00:00", "channel": []string{"email", "portal"}}, []refOrder{{"PRIORITY", "DESC"}, {"MODIFIED_AT", "ASC"}}},
		{"746839", map[string]any{"tag": []string{"Kunde: VIP"}, "priority": []string{"low", "high"}}, []refOrder{{"CLOSED_AT", "DESC"}, {"ID", "DESC"}}},
		{fixtureID, map[string]any{"text": "zähler"}, []refOrder{{"DUE_BY", "DESC"}}},
		{fixtureID + "-2", map[string]any{"escalated": true, "createdFrom": "2023-11-14T22:13:20Z"}, []refOrder{{"PRIORITY", "DESC"}}},
		{fixtureID + "-3", map[string]any{"tag": []string{"Vertrag: Umzug", "Abschlag", "Second Level"}}, []refOrder{{"CLOSED_AT", "ASC"}, {"ID", "ASC"}}},
	}
	const q = `query($id: ID!, $filter: TicketFilter, $orderBy: [TicketOrder!]) { contract(id: $id) { history {
		tickets(filter: $filter, orderBy: $orderBy) { id }
		ticketsConnection(filter: $filter, orderBy: $orderBy, first: 100) { edges { node { id } } }
	} } }`
	for _, tc := range cases {
		var want []string
		var list []refTicket
		h := mustRefHistory(t, tc.id)
		for _, tk := range h {
			if refMatch(t, tc.filter, tk) {
				list = append(list, tk)
			}
		}
		for _, tk := range refSort(list, tc.orders) {
			want = append(want, tk.id)
		}
		if len(want) < 2 || len(want) == len(h) {
			t.Fatalf("contract %s: %d of %d tickets match: pick a filter that keeps some", tc.id, len(want), len(h))
		}
		for _, provenance := range []string{"miss", "hit"} {
			resp := mustQuery(t, api, demoToken, q, map[string]any{"id": tc.id, "filter": tc.filter, "orderBy": orderVars(tc.orders)})
			if !strings.Contains(resp.raw, `"`+tc.id+`":{"cache":"`+provenance+`"`) || len(resp.Errors) > 0 {
				t.Fatalf("contract %s, want a %s: %s", tc.id, provenance, resp.raw)
			}
			var c struct {
				History struct {
					Tickets           []struct{ ID string }
					TicketsConnection struct {
						Edges []struct{ Node struct{ ID string } }
					}
				}
			}
			if err := json.Unmarshal(resp.Data["contract"], &c); err != nil {
				t.Fatal(err)
			}
			var got, gotEdges []string
			for _, tk := range c.History.Tickets {
				got = append(got, tk.ID)
			}
			for _, e := range c.History.TicketsConnection.Edges {
				gotEdges = append(gotEdges, e.Node.ID)
			}
			if !slices.Equal(got, want) || !slices.Equal(gotEdges, want) {
				t.Errorf("contract %s (%s): tickets %v, edges %v, want %v", tc.id, provenance, got, gotEdges, want)
			}
		}
		histories.Flush() // the write behind the miss, so the next query hits
	}
}

// newTestAPIWithFetcher serves the /graphql handler over any fetcher (a cache, here), with
// no response cache: every query reaches the fetcher.
func newTestAPIWithFetcher(t *testing.T, fetch HistoryFetcher) *httptest.Server {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	api := httptest.NewServer(NewHandler(fetch, NewAuthenticator("", []byte("test-secret")), Options{}, log))
	t.Cleanup(api.Close)
	return api
}

func merge(base, more map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range base {
		out[k] = v
	}
	for k, v := range more {
		out[k] = v
	}
	return out
}

func ptr(n int) *int { return &n }

func show[T any](p *T) string {
	if p == nil {
		return "null"
	}
	return fmt.Sprint(*p)
}

// The reference: what the upstream's JSON says, read with encoding/json, filtered and sorted
// the way issue 10 describes it, by code that is plain rather than fast. Zoneless times are
// read in berlin (golden_test.go), the facade's default zone.

// refTicket is what the reference reads of one ticket.
type refTicket struct {
	key       string // id/externalTicketId, as the answers show them
	id        string
	fields    map[string]string    // status, channel, direction, priority, subject, bodyPlain; absent when null
	times     map[string]time.Time // createdAt, modifiedAt, dueBy, closedAt; absent when null
	intents   []string             // intent codes
	tags      []string             // tag names and full names
	escalated bool
}

func keysOf(ts []refTicket) []string {
	keys := []string{}
	for _, tk := range ts {
		keys = append(keys, tk.key)
	}
	return keys
}

// mustRefHistory decodes the upstream's body of contract id into refTickets, in upstream order.
func mustRefHistory(t *testing.T, id string) []refTicket {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(rawHistory(t, id)))
	dec.UseNumber() // ids beyond 64 bits stay as sent
	var h struct{ Tickets []map[string]any }
	if err := dec.Decode(&h); err != nil {
		t.Fatalf("history %s: %v", id, err)
	}
	var out []refTicket
	for _, raw := range h.Tickets {
		if raw == nil {
			continue // a null in the list: no ticket
		}
		tk := refTicket{fields: map[string]string{}, times: map[string]time.Time{}}
		tk.id = refText(raw["id"])
		tk.key = tk.id + "/" + refText(raw["externalTicketId"])
		for _, f := range []string{"status", "channel", "direction", "priority", "subject", "bodyPlain"} {
			if s, ok := raw[f].(string); ok {
				tk.fields[f] = s
			}
		}
		for _, f := range []string{"createdAt", "modifiedAt", "dueBy", "closedAt"} {
			if at, ok := refTime(t, raw[f]); ok {
				tk.times[f] = at
			}
		}
		for _, in := range refObjects(raw["intents"]) {
			if code, ok := in["code"].(string); ok {
				tk.intents = append(tk.intents, code)
			}
		}
		for _, tag := range refObjects(raw["tags"]) {
			for _, f := range []string{"name", "fullName"} {
				if s, ok := tag[f].(string); ok {
					tk.tags = append(tk.tags, s)
				}
			}
		}
		switch v := raw["isEscalated"].(type) {
		case bool:
			tk.escalated = v
		case json.Number:
			tk.escalated = v.String() == "1"
		}
		out = append(out, tk)
	}
	return out
}

// refText reads an id, a JSON string or number, as its text; "" for null.
func refText(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	}
	return ""
}

func refObjects(v any) []map[string]any {
	list, _ := v.([]any)
	var out []map[string]any
	for _, e := range list {
		if m, ok := e.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

// refTime reads a timestamp in one of the upstream's three formats (docs/upstream.md): unix
// seconds, "YYYY-MM-DD HH:MM:SS" in Europe/Berlin, or ISO 8601 with an offset. It reads
// DateTime arguments too, which take the same formats. ok is false for null, and for the
// "no date" values "" and "0000-00-00 00:00:00", which the facade shows as null (see
// upstream.Time): a filter or order must treat a ticket as its DateTime fields show it.
func refTime(t *testing.T, v any) (at time.Time, ok bool) {
	t.Helper()
	if v == nil || v == "" || v == "0000-00-00 00:00:00" {
		return time.Time{}, false
	}
	switch v := v.(type) {
	case json.Number:
		n, err := v.Int64()
		if err != nil {
			t.Fatalf("timestamp %v: %v", v, err)
		}
		return time.Unix(n, 0), true
	case int:
		return time.Unix(int64(v), 0), true
	case int64:
		return time.Unix(v, 0), true
	case string:
		if at, err := time.ParseInLocation(time.DateTime, v, berlin); err == nil {
			return at, true
		}
		if at, err := time.Parse(time.RFC3339, v); err == nil {
			return at, true
		}
	}
	t.Fatalf("timestamp %#v is in none of the upstream's formats", v)
	return time.Time{}, false
}

// refMatch reports whether tk meets every condition of filter, a TicketFilter as sent.
func refMatch(t *testing.T, filter map[string]any, tk refTicket) bool {
	t.Helper()
	for name, v := range filter {
		if !refCondition(t, name, v, tk) {
			return false
		}
	}
	return true
}

func refCondition(t *testing.T, name string, v any, tk refTicket) bool {
	t.Helper()
	switch name {
	case "status", "channel", "direction", "priority":
		got, ok := tk.fields[name]
		return ok && slices.Contains(v.([]string), got)
	case "intentCode":
		return slices.ContainsFunc(tk.intents, func(c string) bool { return slices.Contains(v.([]string), c) })
	case "tag":
		return slices.ContainsFunc(tk.tags, func(c string) bool { return slices.Contains(v.([]string), c) })
	case "createdFrom", "createdTo", "closedFrom", "closedTo":
		field, to := strings.CutSuffix(name, "To")
		field = strings.TrimSuffix(field, "From") + "At"
		at, ok := tk.times[field]
		bound, _ := refTime(t, v)
		if to {
			return ok && at.Before(bound)
		}
		return ok && !at.Before(bound)
	case "open":
		_, closed := tk.times["closedAt"]
		return v.(bool) == !closed
	case "escalated":
		return v.(bool) == tk.escalated
	case "text":
		needle := refFold(v.(string))
		for _, f := range []string{"subject", "bodyPlain"} {
			if s, ok := tk.fields[f]; ok && strings.Contains(refFold(s), needle) {
				return true
			}
		}
		return false
	}
	t.Fatalf("the reference knows no filter %q", name)
	return false
}

// refFold maps each rune to the smallest rune that Unicode's simple case folding equates with
// it, and ß and ẞ to the folding of "ss", the one full case folding German needs.
func refFold(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r == 'ß' || r == 'ẞ' {
			b.WriteString(refFold("ss"))
			continue
		}
		smallest := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			smallest = min(smallest, f)
		}
		b.WriteRune(smallest)
	}
	return b.String()
}

// refOrder is one TicketOrder; dir "" leaves the direction to the schema's default, ASC.
type refOrder struct{ field, dir string }

// refSort sorts a copy of ts by orders: nulls last whatever the direction, ties broken by
// the next order, and the rest kept in upstream order by a stable sort.
func refSort(ts []refTicket, orders []refOrder) []refTicket {
	out := slices.Clone(ts)
	sort.SliceStable(out, func(i, j int) bool {
		for _, o := range orders {
			c, iNull, jNull := refCompare(o.field, out[i], out[j])
			switch {
			case iNull && jNull:
				continue
			case iNull:
				return false
			case jNull:
				return true
			case c == 0:
				continue
			case o.dir == "DESC":
				return c > 0
			default:
				return c < 0
			}
		}
		return false
	})
	return out
}

// refCompare compares a and b ascending by field, and tells which of them lack the value.
func refCompare(field string, a, b refTicket) (c int, aNull, bNull bool) {
	switch field {
	case "CREATED_AT", "MODIFIED_AT", "DUE_BY", "CLOSED_AT":
		name := map[string]string{"CREATED_AT": "createdAt", "MODIFIED_AT": "modifiedAt", "DUE_BY": "dueBy", "CLOSED_AT": "closedAt"}[field]
		x, xok := a.times[name]
		y, yok := b.times[name]
		return x.Compare(y), !xok, !yok
	case "PRIORITY":
		x, xok := a.fields["priority"]
		y, yok := b.fields["priority"]
		return refPriorityRank(x) - refPriorityRank(y), !xok, !yok
	case "ID":
		return refCompareIDs(a.id, b.id), a.id == "", b.id == ""
	}
	panic("the reference knows no order field " + field)
}

// refPriorityRank ranks low < medium < high < urgent < any other value.
func refPriorityRank(p string) int {
	switch p {
	case "low":
		return 0
	case "medium":
		return 1
	case "high":
		return 2
	case "urgent":
		return 3
	}
	return 4
}

// refCompareIDs puts ids of digits first, by their value however long, then the others as text.
func refCompareIDs(a, b string) int {
	x, xNum := refNumber(a)
	y, yNum := refNumber(b)
	switch {
	case xNum && yNum:
		return x.Cmp(y)
	case xNum:
		return -1
	case yNum:
		return 1
	}
	return strings.Compare(a, b)
}

func refNumber(s string) (*big.Int, bool) {
	if s == "" || strings.Trim(s, "0123456789") != "" {
		return nil, false
	}
	n, ok := new(big.Int).SetString(s, 10)
	return n, ok
}
