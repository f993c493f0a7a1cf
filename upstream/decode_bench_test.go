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
		if _, err := c.decodeHistory(body, "100035"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeFiveExampleTickets decodes the load benchmark's history: the example ticket
// five times, about 36 KB.
func BenchmarkDecodeFiveExampleTickets(b *testing.B) {
	c, err := New(Options{BaseURL: "http://upstream.invalid"})
	if err != nil {
		b.Fatal(err)
	}
	ex := demo.ExampleHistory()
	ticket := ex[bytes.IndexByte(ex, '[')+1 : bytes.LastIndexByte(ex, ']')]
	body := []byte(`{"tickets":[` + strings.Repeat(string(ticket)+",", 4) + string(ticket) + `]}`)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.decodeHistory(body, "746839"); err != nil {
			b.Fatal(err)
		}
	}
}
