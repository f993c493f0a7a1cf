package cache_test

import (
	"testing"
	"time"

	"github.com/enneo-facade/facade/upstream/cache"
	"github.com/enneo-facade/facade/upstream/redisstore"
	"github.com/enneo-facade/facade/upstream/redisstore/redistest"
)

// The cache's behaviours run against a real Redis too: a Redis store under a prefix of the
// test's own, with timeouts generous enough that a loaded machine turns no hit into a miss.
func init() {
	cache.StoreKinds["redis"] = func(t *testing.T) cache.Store {
		t.Helper()
		s, err := redisstore.New(redisstore.Options{URL: redistest.Start(t), Prefix: redistest.Prefix(t),
			DialTimeout: 5 * time.Second, IOTimeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
}
