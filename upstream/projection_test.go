package upstream

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
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
	whole, err := c.DecodeHistory(demo.ExampleHistory(), "746839", nil)
	if err != nil {
		t.Fatal(err)
	}
	pruned, err := p.prune(nil, demo.ExampleHistory())
	if err != nil {
		t.Fatal(err)
	}
	part, err := c.DecodeHistory(pruned, "746839", nil)
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

// TestSelectedHistoriesOwnTheirValues: pruned bodies live in pooled buffers that the next
// decode overwrites, so a history must not point into them.
func TestSelectedHistoriesOwnTheirValues(t *testing.T) {
	p, err := NewProjection(map[string][]string{"Ticket": {"id", "subject", "rawData"}})
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(Options{BaseURL: "http://upstream.invalid"})
	if err != nil {
		t.Fatal(err)
	}
	first, err := c.DecodeHistory([]byte(`{"tickets":[{"id":"a-1","subject":"first subject","rawData":{"k":"first"}}]}`), "1", p)
	if err != nil {
		t.Fatal(err)
	}
	for range 20 { // enough decodes to reuse the pooled buffer, whatever the pool does
		if _, err := c.DecodeHistory([]byte(`{"tickets":[{"id":"b-2","subject":"other subject","rawData":{"k":"other"}}]}`), "2", p); err != nil {
			t.Fatal(err)
		}
	}
	tk := first.Tickets[0]
	if string(*tk.ID) != "a-1" || *tk.Subject != "first subject" || string(tk.RawData) != `{"k":"first"}` {
		t.Errorf("first history changed after later decodes: %s %s %s", *tk.ID, *tk.Subject, tk.RawData)
	}
}

// TestHistoriesOwnTheirValues: bodies are read into pooled buffers too.
func TestHistoriesOwnTheirValues(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/1/") {
			w.Write([]byte(`{"tickets":[{"id":"a-1","subject":"first subject","rawData":{"k":"first"}}]}`))
			return
		}
		w.Write([]byte(`{"tickets":[{"id":"b-2","subject":"other subject","rawData":{"k":"other"}}]}`))
	}))
	defer srv.Close()
	c, err := New(Options{BaseURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	first, err := c.History(context.Background(), "t", "1")
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		if _, err := c.History(context.Background(), "t", "2"); err != nil {
			t.Fatal(err)
		}
	}
	tk := first.Tickets[0]
	if string(*tk.ID) != "a-1" || *tk.Subject != "first subject" || string(tk.RawData) != `{"k":"first"}` {
		t.Errorf("first history changed after later calls: %s %s %s", *tk.ID, *tk.Subject, tk.RawData)
	}
}
