package upstream

import (
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
