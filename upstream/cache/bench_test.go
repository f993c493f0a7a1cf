package cache

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/enneo-facade/facade/upstream"
	"github.com/enneo-facade/facade/upstream/demo"
)

// BenchmarkCacheRead reads a 37-ticket history from the hot layer, and from the store (zstd and
// decoding) when nothing is hot.
func BenchmarkCacheRead(b *testing.B) {
	body, _ := demo.History("100035")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(body) }))
	defer srv.Close()
	client, _ := upstream.New(upstream.Options{BaseURL: srv.URL})
	cred := upstream.Credential{Token: "t", Scope: "s"}
	for _, layer := range []struct {
		name     string
		hotBytes int64
	}{{"hot", 64 << 20}, {"store", 1}} {
		b.Run(layer.name, func(b *testing.B) {
			c, err := New(client, NewMemoryStore(64<<20), Options{HotBytes: layer.hotBytes})
			if err != nil {
				b.Fatal(err)
			}
			c.Histories(context.Background(), cred, []string{"100035"}, nil)
			c.Flush() // the write behind
			b.ReportAllocs()
			for b.Loop() {
				if r := c.Histories(context.Background(), cred, []string{"100035"}, nil); r[0].Cache != upstream.CacheHit {
					b.Fatalf("got %s, want a hit", r[0].Cache)
				}
			}
		})
	}
}
