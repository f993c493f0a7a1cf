package upstream

import (
	"encoding/json"
	"testing"

	"github.com/enneo-facade/facade/upstream/demo"
)

func TestProjectionKeepsOnlyWhatItNames(t *testing.T) {
	p, err := NewProjection(map[string][]string{
		"History": {"tickets"}, "Ticket": {"id", "subject", "customer"}, "Customer": {"contracts"}, "Contract": {"id"},
	})
	if err != nil || p == nil {
		t.Fatalf("NewProjection = %v, %v", p, err)
	}
	got, err := p.prune(nil, []byte(`{"tickets": [{"ID": 7, "subject": "a\"b", "body": {"x": [1, 2]}, "customer": {"email": "x@y.z",
		"contracts": [{"id": "c1", "productName": "Flex"}]}}, {"id": "8", "customer": null}], "extra": true}`))
	if err != nil {
		t.Fatal(err)
	}
	// Names match regardless of case, as the decoder matches them; values are copied as sent.
	want := `{"tickets":[{"ID":7,"subject":"a\"b","customer":{"contracts":[{"id":"c1"}]}},{"id":"8","customer":null}]}`
	if string(got) != want {
		t.Errorf("pruned\n got %s\nwant %s", got, want)
	}
}

func TestProjectionOfEverythingIsNil(t *testing.T) {
	keep := map[string][]string{}
	for _, typ := range objectTypes {
		for _, name := range jsonNames(typ) {
			if name != "" {
				keep[typ.Name()] = append(keep[typ.Name()], name)
			}
		}
	}
	if p, err := NewProjection(keep); p != nil || err != nil {
		t.Errorf("NewProjection(everything) = %v, %v; want nil, nil", p, err)
	}
	for _, bad := range []map[string][]string{{"Query": {"contract"}}, {"Ticket": {"history"}}, {"Ticket": {""}}} {
		if _, err := NewProjection(bad); err == nil {
			t.Errorf("NewProjection(%v) did not fail", bad)
		}
	}
}

// TestPruneFailsExactlyOnInvalidJSON: a body that is not JSON must reach the full decoder,
// which fails it, even when the bad part is in a field the projection skips.
func TestPruneFailsExactlyOnInvalidJSON(t *testing.T) {
	p, err := NewProjection(map[string][]string{"History": {"tickets"}, "Ticket": {"id"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, body := range pruneSamples {
		_, err := p.prune(nil, []byte(body))
		if valid := json.Valid([]byte(body)); valid != (err == nil) {
			t.Errorf("%q: json.Valid = %v, prune error = %v", body, valid, err)
		}
	}
}

var pruneSamples = []string{
	`{"tickets":[{"id":1,"body":"ok"}]}`,
	` { "tickets" : [ { "id" : 1 , "x" : [ ] , "y" : { } } ] } `,
	`{"tickets":[{"id":1,"body":tru}]}`,
	`{"tickets":[{"id":1,"body":nul}]}`,
	`{"tickets":[{"id":1,"n":01}]}`,
	`{"tickets":[{"id":1,"n":-}]}`,
	`{"tickets":[{"id":1,"n":1.}]}`,
	`{"tickets":[{"id":1,"n":1e}]}`,
	`{"tickets":[{"id":1,"n":-0.5e+7}]}`,
	`{"tickets":[{"id":1,"s":"\x"}]}`,
	`{"tickets":[{"id":1,"s":"\u12G4"}]}`,
	`{"tickets":[{"id":1,"s":"\u00e4\n\"\\\/"}]}`,
	"{\"tickets\":[{\"id\":1,\"s\":\"a\tb\"}]}",
	`{"tickets":[{"id":1,"s":"open}]}`,
	`{"tickets":[{"id":1,}]}`,
	`{"tickets":[{"id":1}],}`,
	`{"tickets":[{"id":1}]} x`,
	`{"tickets":[{"id":1}]}}`,
	`{"tickets":[{"id":1 "x":2}]}`,
	`{"tickets":[{"id" 1}]}`,
	`{"tickets":[{"x":{"a":[1,{"b":[]}]}}]}`,
	`{"tickets":[{"x":{"a":[1,{"b":[}]}}]}`,
	`{"tickets":[1,2,]}`,
	`{"tickets":"none"}`,
	`[]`,
	`"tickets"`,
	``,
	`{`,
}

func FuzzPrune(f *testing.F) {
	for _, s := range pruneSamples {
		f.Add(s)
	}
	f.Add(string(demo.ExampleHistory()))
	p, err := NewProjection(map[string][]string{"History": {"tickets"}, "Ticket": {"id", "customer"}, "Customer": {"contracts"}, "Contract": {"id"}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body string) {
		out, err := p.prune(nil, []byte(body))
		if valid := json.Valid([]byte(body)); valid != (err == nil) {
			t.Fatalf("%q: json.Valid = %v, prune error = %v", body, valid, err)
		}
		if err == nil && !json.Valid(out) {
			t.Fatalf("%q pruned to invalid JSON %q", body, out)
		}
	})
}

func TestPrunedExampleDecodesTheKeptFields(t *testing.T) {
	p, err := NewProjection(map[string][]string{"History": {"tickets"}, "Ticket": {"id", "status", "subject"}})
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(Options{BaseURL: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	whole, err := c.decodeHistory(demo.ExampleHistory(), "746839")
	if err != nil {
		t.Fatal(err)
	}
	pruned, err := p.prune(nil, demo.ExampleHistory())
	if err != nil {
		t.Fatal(err)
	}
	part, err := c.decodeHistory(pruned, "746839")
	if err != nil {
		t.Fatal(err)
	}
	w, g := whole.Tickets[0], part.Tickets[0]
	if *g.ID != *w.ID || *g.Status != *w.Status || *g.Subject != *w.Subject {
		t.Errorf("kept fields differ: %v %v %v", *g.ID, *g.Status, *g.Subject)
	}
	if g.Body != nil || g.Customer != nil || g.CreatedAt != nil || w.Body == nil || w.Customer == nil {
		t.Error("fields left out by the projection were decoded, or the example lacks them")
	}
	if len(pruned)*10 > len(demo.ExampleHistory()) {
		t.Errorf("pruned body is %d of %d bytes", len(pruned), len(demo.ExampleHistory()))
	}
}
