package upstream

import (
	"bytes"
	"strings"
	"testing"

	"github.com/enneo-facade/facade/upstream/demo"
)

// BenchmarkDecodeHistory decodes a 37-ticket demo history (236 KB of JSON).
func BenchmarkDecodeHistory(b *testing.B) {
	c, err := New(Options{BaseURL: "http://upstream.invalid"})
	if err != nil {
		b.Fatal(err)
	}
	body, _ := demo.History("100035")
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.DecodeHistory(body, "100035", nil); err != nil {
			b.Fatal(err)
		}
	}
}

// fiveExampleTickets is the load benchmark's history: the example ticket five times, as
// indented as the example (53 KB; the bench stub sends it compact, 34 KB).
func fiveExampleTickets() []byte {
	ex := demo.ExampleHistory()
	ticket := ex[bytes.IndexByte(ex, '[')+1 : bytes.LastIndexByte(ex, ']')]
	return []byte(`{"tickets":[` + strings.Repeat(string(ticket)+",", 4) + string(ticket) + `]}`)
}

// BenchmarkDecodeFiveExampleTickets decodes the load benchmark's history.
func BenchmarkDecodeFiveExampleTickets(b *testing.B) {
	c, err := New(Options{BaseURL: "http://upstream.invalid"})
	if err != nil {
		b.Fatal(err)
	}
	body := fiveExampleTickets()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.DecodeHistory(body, "746839", nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeFiveExampleTicketsProjected decodes the same history through the projection
// of the load benchmark's q1 (id, status and subject of each ticket, and the path to the
// contract): pruning, then decoding what is left.
func BenchmarkDecodeFiveExampleTicketsProjected(b *testing.B) {
	c, err := New(Options{BaseURL: "http://upstream.invalid"})
	if err != nil {
		b.Fatal(err)
	}
	p, err := NewProjection(map[string][]string{"History": {"tickets"}, "Ticket": {"id", "status", "subject", "customer"},
		"Customer": {"contracts"}, "Contract": {"id"}})
	if err != nil {
		b.Fatal(err)
	}
	body := fiveExampleTickets()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		pruned, err := p.prune(nil, body)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.DecodeHistory(pruned, "746839", nil); err != nil {
			b.Fatal(err)
		}
	}
}
