package graph

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/enneo-facade/facade/upstream/cache"
	"github.com/enneo-facade/facade/upstream/demo"
)

// recordCountingDemo is the demo upstream, counting the calls for contracts' own records.
func recordCountingDemo(t *testing.T) (*testUpstream, *atomic.Int64) {
	h := demo.NewHandler()
	var records atomic.Int64
	return newTestUpstream(t, func(w http.ResponseWriter, r *http.Request, _ string) {
		if !strings.HasSuffix(r.URL.Path, "/history") {
			records.Add(1)
		}
		h.ServeHTTP(w, r)
	}), &records
}

// withoutTickets returns n demo contracts whose histories have no tickets, but not except.
func withoutTickets(t *testing.T, n int, except string) []string {
	var ids []string
	for i := 100001; len(ids) < n && i < 101000; i++ {
		id := fmt.Sprint(i)
		if b, _ := demo.History(id); id != except && strings.HasPrefix(string(b), `{"tickets":[]}`) {
			ids = append(ids, id)
		}
	}
	if len(ids) < n {
		t.Fatalf("only %d demo contracts without tickets", len(ids))
	}
	return ids
}

// TestContractIsTheSameObjectWhicheverPath: a contract without tickets answers its own fields
// from its record, as its partner's tickets show it, so that a client cache keeping one record
// per Contract:<id> sees the same values whichever query reached it. The record is read only
// when the history has no copy and the operation selects the contract's own fields, in one
// batch, cached per scope and dropped with the contract's invalidation.
func TestContractIsTheSameObjectWhicheverPath(t *testing.T) {
	up, records := recordCountingDemo(t)
	api, fetch, histories := newCachedAPIOver(t, up, cache.NewMemoryStore(64<<20), cache.Options{})
	const own = `id productName status signupDate iban`

	direct := postWhole(t, api.URL, `{ contract(id: "100063") { `+own+` } }`, nil)
	k, _ := direct.data["contract"].(map[string]any)
	if len(direct.errors) > 0 || k["productName"] != "Gas Fix 24" {
		t.Fatalf("contract(100063): %v %v, want Gas Fix 24", direct.data, direct.errors)
	}
	if n := records.Load(); n != 1 {
		t.Errorf("%d record calls, want 1", n)
	}
	via := postWhole(t, api.URL, `{ contract(id: "100062") { history { tickets { customer { contracts { `+own+` } } } } } }`, nil)
	found := 0
	for _, ticket := range via.data["contract"].(map[string]any)["history"].(map[string]any)["tickets"].([]any) {
		for _, c := range ticket.(map[string]any)["customer"].(map[string]any)["contracts"].([]any) {
			if c := c.(map[string]any); c["id"] == "100063" {
				found++
				if !reflect.DeepEqual(c, k) {
					t.Errorf("via 100062's customer: %v\ndirect: %v", c, k)
				}
			}
		}
	}
	if found == 0 {
		t.Fatal("100062's tickets do not list 100063")
	}

	// Only when needed: the id and the history need no record.
	postWhole(t, api.URL, `{ contract(id: "100063") { id history { tickets { id } } } }`, nil)
	postWhole(t, api.URL, `{ contract(id: "100062") { id productName } }`, nil) // its tickets embed it
	if n := records.Load(); n != 1 {
		t.Errorf("%d record calls after queries that need none, want still 1", n)
	}

	// Several at once: one batch, the cached one not asked for again.
	bare := withoutTickets(t, 2, "100063")
	batches := fetch.batches.Load()
	list := postWhole(t, api.URL, `{ contracts(ids: ["100063", "`+bare[0]+`", "`+bare[1]+`", "100062"]) { `+own+` } }`, nil)
	for i, c := range list.data["contracts"].([]any) {
		if c.(map[string]any)["productName"] == nil {
			t.Errorf("contracts[%d] has no productName: %v", i, c)
		}
	}
	if n := records.Load(); n != 3 {
		t.Errorf("%d record calls after the list, want 3", n)
	}
	if n := fetch.batches.Load() - batches; n != 2 {
		t.Errorf("%d batches for the list, want 2 (histories, records)", n)
	}

	// Cached per scope: another token reads its own.
	other := decodeAnswer(t, httpPost(t, api.URL, "another-token", `{ contract(id: "100063") { `+own+` } }`, nil, nil).body)
	if !reflect.DeepEqual(other.data["contract"], direct.data["contract"]) || records.Load() != 4 {
		t.Errorf("another token: %v after %d record calls, want the same record from a call of its own (4)", other.data, records.Load())
	}
	// Dropped with the contract.
	if err := histories.Invalidate(context.Background(), "100063"); err != nil {
		t.Fatal(err)
	}
	postWhole(t, api.URL, `{ contract(id: "100063") { `+own+` } }`, nil)
	if n := records.Load(); n != 5 {
		t.Errorf("%d record calls after the invalidation, want 5", n)
	}
}

// TestRecordFailures: a contract the upstream has no record of stays known by its id, without
// an error; a record that fails costs its contract's own fields, with an error at its place,
// and not the others'.
func TestRecordFailures(t *testing.T) {
	up := newTestUpstream(t, func(w http.ResponseWriter, r *http.Request, id string) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/history"):
			w.Write([]byte(`{"tickets":[]}`))
		case id == "gone":
			w.WriteHeader(http.StatusNotFound)
		case id == "down":
			w.WriteHeader(http.StatusInternalServerError)
		default:
			w.Write([]byte(`{"id":"` + id + `","productName":"Strom Basis"}`))
		}
	})
	api, _ := newTestAPI(t, up, 0)
	var r gqlResponse
	r.raw = httpPost(t, api.URL, "tok", `{ contracts(ids: ["gone", "down", "fine"]) { id productName } }`, nil, nil).body
	if err := json.Unmarshal([]byte(r.raw), &r); err != nil {
		t.Fatal(err)
	}
	want := `[{"id":"gone","productName":null},{"id":"down","productName":null},{"id":"fine","productName":"Strom Basis"}]`
	if got := string(r.Data["contracts"]); got != want {
		t.Errorf("contracts: %s, want %s", got, want)
	}
	if len(r.Errors) != 1 || r.errorAt("contracts.1") == nil {
		t.Errorf("errors %s, want one at contracts.1", r.raw)
	}
}
