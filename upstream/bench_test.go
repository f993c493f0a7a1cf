package upstream

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
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
		if _, err := c.decodeHistory(body, "746839"); err != nil {
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
		if _, err := c.decodeHistory(pruned, "746839"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCacheRead reads a 37-ticket history from the hot layer, and from the store (zstd and
// decoding) when nothing is hot.
func BenchmarkCacheRead(b *testing.B) {
	body, _ := demo.History("100035")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(body) }))
	defer srv.Close()
	client, _ := New(Options{BaseURL: srv.URL})
	cred := Credential{Token: "t", Scope: "s"}
	for _, layer := range []struct {
		name     string
		hotBytes int64
	}{{"hot", 64 << 20}, {"store", 1}} {
		b.Run(layer.name, func(b *testing.B) {
			c, err := NewCache(client, NewMemoryStore(64<<20), CacheOptions{HotBytes: layer.hotBytes})
			if err != nil {
				b.Fatal(err)
			}
			c.Histories(context.Background(), cred, []string{"100035"}, nil)
			c.Flush() // the write behind
			b.ReportAllocs()
			for b.Loop() {
				if r := c.Histories(context.Background(), cred, []string{"100035"}, nil); r[0].Cache != CacheHit {
					b.Fatalf("got %s, want a hit", r[0].Cache)
				}
			}
		})
	}
}
