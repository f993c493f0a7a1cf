package graph

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/enneo-facade/facade/upstream"
	"github.com/enneo-facade/facade/upstream/cache"
	"github.com/enneo-facade/facade/upstream/demo"
)

// wholeFetcher drops the operation's projection, so that every history is decoded whole.
type wholeFetcher struct{ *upstream.Client }

func (f wholeFetcher) Histories(ctx context.Context, cred upstream.Credential, ids []string, _ *upstream.Projection) []upstream.Result {
	return f.Client.Histories(ctx, cred, ids, nil)
}

// leafPaths lists a selection for every leaf field reachable from typeName, each as the
// nested selection that reaches it ("customer { contracts { productName } }").
func leafPaths(s *ast.Schema, typeName string) []string {
	var out []string
	for _, f := range s.Types[typeName].Fields {
		if strings.HasPrefix(f.Name, "__") || typeName == "Contract" && f.Name == "history" {
			continue
		}
		def := s.Types[f.Type.Name()]
		if def.Kind != ast.Object {
			out = append(out, f.Name)
			continue
		}
		for _, sub := range leafPaths(s, def.Name) {
			out = append(out, f.Name+" { "+sub+" }")
		}
	}
	return out
}

func TestEveryFieldQueryKeepsEverything(t *testing.T) {
	schema := NewExecutableSchema(Config{Resolvers: &Resolver{}}).Schema()
	doc, errs := gqlparser.LoadQuery(schema, everyTicketField(schema))
	if errs != nil {
		t.Fatal(errs)
	}
	// nil means every JSON field of every upstream type is kept: so every schema field maps
	// onto a JSON field, or the projection would have failed (also nil) — told apart below.
	if p := projectionOf(doc.Operations[0]); p != nil {
		t.Fatal("a query of every field got a projection that leaves fields out")
	}
	doc, errs = gqlparser.LoadQuery(schema, `{ contract(id: "1") { history { tickets { id } } } }`)
	if errs != nil {
		t.Fatal(errs)
	}
	if projectionOf(doc.Operations[0]) == nil {
		t.Fatal("a query of ticket ids got no projection")
	}
}

// TestProjectionChangesNothing runs one query per leaf field of the schema (and a few shapes
// around them: the contracts list, fragments, a history nested in a customer's contracts)
// against the example, the hazards and the undecodable fixtures, once decoding only what the
// query selects and once decoding everything: the answers must be the same, errors included.
func TestProjectionChangesNothing(t *testing.T) {
	schema := NewExecutableSchema(Config{Resolvers: &Resolver{}}).Schema()
	fixtures := map[string][]byte{
		"example":     demo.ExampleHistory(),
		"hazards":     mustReadFile(t, "../upstream/testdata/hazards.json"),
		"undecodable": mustReadFile(t, "../upstream/testdata/undecodable.json"),
	}
	var queries []string
	for _, leaf := range leafPaths(schema, "Ticket") {
		queries = append(queries, `{ contract(id: "746839") { history { tickets { `+leaf+` } } } }`)
	}
	for _, leaf := range leafPaths(schema, "Contract") {
		queries = append(queries, `{ contract(id: "746839") { `+leaf+` } }`)
	}
	queries = append(queries,
		`{ contracts(ids: ["746839", "2", "746839"]) { id productName history { contractId tickets { subject } } } }`,
		`{ contract(id: "746839") { ...c } } fragment c on Contract { energy history { tickets { ... on Ticket { status customer { email } } } } }`,
		`{ contract(id: "746839") { history { tickets { customer { contracts { id history { tickets { id createdAt } } } } } } } }`,
		`{ contract(id: "746839") { __typename history { __typename tickets { __typename id } } } }`,
		`query($skip: Boolean!) { contract(id: "746839") { history { tickets { id body @skip(if: $skip) } } } }`,
		// Filters, orders and aggregates read fields the query need not select.
		`{ contract(id: "746839") { history { tickets(filter: {status: ["open", "closed", "resolved"], text: "ZÄHLER"}, orderBy: [{field: PRIORITY}, {field: DUE_BY, direction: DESC}]) { id } } } }`,
		`{ contract(id: "746839") { history { tickets(filter: {intentCode: ["process_meter_reading"], escalated: false}, first: 3) { subject } } } }`,
		`{ contract(id: "746839") { history { tickets(filter: {tag: ["VIP", "Second Level: Complaint"], channel: ["email"], direction: ["in"]}, orderBy: [{field: ID, direction: DESC}]) { status } } } }`,
		`{ contract(id: "746839") { history { tickets(filter: {createdFrom: "2022-01-01", closedTo: 1700000000, open: false, priority: ["low", "high"]}, orderBy: [{field: CLOSED_AT}, {field: MODIFIED_AT}]) { channel } } } }`,
		`{ contract(id: "746839") { history { ticketsConnection(first: 2, orderBy: [{field: CREATED_AT, direction: DESC}]) { totalCount edges { cursor node { status } } pageInfo { endCursor hasNextPage } } } } }`,
		`{ contract(id: "746839") { history { stats(now: "2024-01-01 00:00:00") { count open byStatus { key count } byChannel { key count } byDirection { key count } byPriority { key count } byIntent { key count } byTag { key count } byMonth { key count } timeToClose { count medianSeconds p90Seconds } dueBreaches { closedLate openOverdue } } } } }`,
		`{ historyStats(contractIds: ["746839", "2"], filter: {open: false, createdFrom: "2020-01-01"}, now: 1700000000) { contracts failed totals { count byTag { key count } timeToClose { medianSeconds } } rows { contractId stats { byIntent { key count } dueBreaches { closedLate openOverdue } } } } }`,
	)
	for _, q := range queries {
		doc, errs := gqlparser.LoadQuery(schema, q)
		if errs != nil {
			t.Fatalf("%s: %v", q, errs)
		}
		if projectionOf(doc.Operations[0]) == nil {
			t.Errorf("%s: no projection, so this test would compare whole with whole", q)
		}
	}
	for name, body := range fixtures {
		up := newTestUpstream(t, func(w http.ResponseWriter, r *http.Request, id string) { w.Write(body) })
		client, err := upstream.New(upstream.Options{BaseURL: up.srv.URL})
		if err != nil {
			t.Fatal(err)
		}
		log := slog.New(slog.DiscardHandler)
		auth := NewAuthenticator("", []byte("test-secret"))
		selected := httptest.NewServer(NewHandler(client, auth, Options{}, log))
		t.Cleanup(selected.Close)
		whole := httptest.NewServer(NewHandler(wholeFetcher{client}, auth, Options{}, log))
		t.Cleanup(whole.Close)
		for _, q := range queries {
			vars := map[string]any{"skip": false}
			got, want := mustQuery(t, selected, "token", q, vars), mustQuery(t, whole, "token", q, vars)
			if canonical(t, got.raw) != canonical(t, want.raw) {
				t.Errorf("%s: %s\nselected: %s\nwhole:    %s", name, q, got.raw, want.raw)
			}
			// Through a cache, whose first fetch of a contract is decoded through the
			// projection too (a fresh cache each time, so that nothing is a hit).
			histories, err := cache.New(client, cache.NewMemoryStore(1<<20), cache.Options{})
			if err != nil {
				t.Fatal(err)
			}
			cached := httptest.NewServer(NewHandler(histories, auth, Options{}, log))
			got = mustQuery(t, cached, "token", q, vars)
			cached.Close()
			histories.Flush()
			if canonical(t, got.raw) != canonical(t, want.raw) {
				t.Errorf("%s, cached: %s\nselected: %s\nwhole:    %s", name, q, got.raw, want.raw)
			}
		}
	}
	if len(queries) < 200 {
		t.Fatalf("only %d queries: the schema walk is broken", len(queries))
	}
}

// canonical is a response with its errors sorted: gqlgen adds the errors of a list's elements
// in whatever order their goroutines end.
func canonical(t *testing.T, raw string) string {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal([]byte(raw), &v); err != nil {
		t.Fatal(err)
	}
	if errs, ok := v["errors"].([]any); ok {
		sort.Slice(errs, func(i, j int) bool {
			a, _ := json.Marshal(errs[i])
			b, _ := json.Marshal(errs[j])
			return string(a) < string(b)
		})
	}
	b, _ := json.Marshal(v)
	return string(b)
}
