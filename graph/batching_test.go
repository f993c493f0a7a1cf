package graph

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestBatchingOneCallPerDistinctID(t *testing.T) {
	up := newTestUpstream(t, func(w http.ResponseWriter, r *http.Request, id string) {
		time.Sleep(30 * time.Millisecond) // long enough for calls to overlap
		w.Write(historyWithSibling(id, "sib-"+id))
	})
	// The cost estimate assumes 5 contracts of 50 tickets for each ticket's customer: far more
	// than the 10 histories this query loads, and more than the default limit.
	api, _ := newTestAPIWith(t, up, 0, Options{Limits: Limits{Cost: 300_000}})

	// 20 aliased contracts over 5 distinct ids, each following its customer's contracts to
	// their histories: 5 ids plus 5 siblings.
	ids := []string{"1001", "1002", "1003", "1004", "1005"}
	var q strings.Builder
	q.WriteString("{")
	for i := range 20 {
		fmt.Fprintf(&q, ` c%d: contract(id: %q) { id history { tickets { id customer { contracts { id history { tickets { subject } } } } } } }`, i, ids[i%5])
	}
	q.WriteString(" }")
	resp := mustQuery(t, api, "token", q.String(), nil)
	if len(resp.Errors) > 0 {
		t.Fatalf("errors: %s", resp.raw)
	}
	for _, id := range ids {
		for _, want := range []string{id, "sib-" + id} {
			if n := up.callsFor(want); n != 1 {
				t.Errorf("upstream calls for %s = %d, want 1", want, n)
			}
		}
	}
	if n := up.total(); n != 10 {
		t.Errorf("upstream calls = %d, want 10 (one per distinct id)", n)
	}
	if m := up.maxInFlight.Load(); m < 2 {
		t.Errorf("at most %d upstream call in flight, want concurrent calls", m)
	}
	// Results map back by id: every alias got its own contract.
	for i := range 20 {
		want := fmt.Sprintf(`"Zählerstand %s"`, "sib-"+ids[i%5])
		if !strings.Contains(string(resp.Data[fmt.Sprintf("c%d", i)]), want) {
			t.Errorf("c%d = %s, want the sibling history of %s", i, resp.Data[fmt.Sprintf("c%d", i)], ids[i%5])
		}
	}
}

func TestContractsListIsOneBatch(t *testing.T) {
	up := newTestUpstream(t, func(w http.ResponseWriter, r *http.Request, id string) {
		time.Sleep(20 * time.Millisecond)
		w.Write(historyWithSibling(id, "x"))
	})
	api, _ := newTestAPI(t, up, 0)
	ids := make([]any, 0, 100)
	for i := range 100 {
		ids = append(ids, fmt.Sprint(5000+i%60)) // 60 distinct, 40 repeated
	}
	resp := mustQuery(t, api, "token", `query($ids: [ID!]!) { contracts(ids: $ids) { id productName } }`, map[string]any{"ids": ids})
	if len(resp.Errors) > 0 {
		t.Fatalf("errors: %s", resp.raw)
	}
	if n := up.total(); n != 60 {
		t.Errorf("upstream calls = %d, want 60", n)
	}
	if m := up.maxInFlight.Load(); m > 16 {
		t.Errorf("%d calls in flight, want at most the default bound 16", m)
	}
	if !strings.Contains(string(resp.Data["contracts"]), `{"id":"5059","productName":"Flex 5059"}`) {
		t.Errorf("contracts = %s", resp.Data["contracts"])
	}
}

func TestContractsRejectsMoreThanMax(t *testing.T) {
	up := newTestUpstream(t, func(w http.ResponseWriter, r *http.Request, id string) {
		w.Write(historyWithSibling(id, "x"))
	})
	api, _ := newTestAPI(t, up, 0)
	ids := make([]any, MaxContracts+1)
	for i := range ids {
		ids[i] = fmt.Sprint(i + 1)
	}
	resp := mustQuery(t, api, "token", `query($ids: [ID!]!) { contracts(ids: $ids) { id } }`, map[string]any{"ids": ids})
	if ext := resp.errorAt("contracts"); ext == nil || ext["code"] != CodeBadUserInput {
		t.Errorf("error at contracts = %v, want BAD_USER_INPUT: %s", ext, resp.raw)
	}
	if n := up.total(); n != 0 {
		t.Errorf("upstream calls = %d, want 0", n)
	}
}
