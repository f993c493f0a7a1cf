package main

import (
	"strings"
	"testing"

	"github.com/enneo-facade/facade/graph/queries"
)

func TestFreshIDs(t *testing.T) {
	got, n := freshIDs(queries.Q3, "9123")
	if n != 15 {
		t.Errorf("freshIDs(q3) found %d distinct ids, want 15", n)
	}
	if strings.Contains(got, `"1000`) || strings.Count(got, `contract(id: "9123`) != 20 {
		t.Errorf("freshIDs(q3) left old ids or lost aliases:\n%s", got)
	}
	// c01 and c16 ask for the same contract, before and after.
	if !strings.Contains(got, `c01: contract(id: "912300")`) || !strings.Contains(got, `c16: contract(id: "912300")`) {
		t.Errorf("freshIDs(q3) does not keep the repeated ids repeated:\n%s", got)
	}
}
