package canary

import (
	"encoding/json"
	"slices"
	"testing"
)

func TestTag(t *testing.T) {
	a, b := Tag("soak-alpha"), Tag("soak-bravo")
	if a == b || len(a) != 16 || a[:4] != "tok-" {
		t.Errorf("Tag = %q and %q, want two distinct tok-<12 hex>", a, b)
	}
	if Tag("soak-alpha") != a {
		t.Errorf("Tag is not stable")
	}
}

func TestFindRoundTrip(t *testing.T) {
	marks := []Mark{{Tag("a"), "100001", 1}, {Tag("b"), "C-1001_x", 42}, {Tag("a"), "100001", 1}}
	// As the facade answers: marks inside JSON strings, among other text.
	var subjects []map[string]string
	for _, m := range marks {
		subjects = append(subjects, map[string]string{"subject": m.String(), "status": "open"})
	}
	body, err := json.Marshal(map[string]any{"data": subjects, "noise": "canary tok-zz c=1 v=2, canary c=1"})
	if err != nil {
		t.Fatal(err)
	}
	if got := Find(body); !slices.Equal(got, marks) {
		t.Errorf("Find(%s) = %v, want %v", body, got, marks)
	}
	if got := Find([]byte(`{"data":{"contract":null}}`)); got != nil {
		t.Errorf("Find without marks = %v, want none", got)
	}
}
