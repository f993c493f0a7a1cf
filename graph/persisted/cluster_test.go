package persisted

import (
	"fmt"
	"testing"
	"time"

	"github.com/enneo-facade/facade/upstream/redisstore/redistest"
)

// On Redis Cluster a query one replica registers is known to another, whichever master holds
// it: each is one key.
func TestRedisCacheOnCluster(t *testing.T) {
	c := redistest.StartCluster(t)
	prefix := redistest.Prefix(t)
	a, b := NewRedisCache(c.Client(t), prefix, time.Hour, 1<<20), NewRedisCache(c.Client(t), prefix, time.Hour, 1<<20)
	masters := map[string]bool{}
	for i := range 12 {
		query := fmt.Sprintf("query Q%d { contract(id: %d) { id } }", i, i)
		hash := sha256Hex(query)
		masters[c.MasterOf(t, prefix+"apq:"+hash)] = true
		a.Add(t.Context(), hash, query)
		if got, ok := b.Get(t.Context(), hash); !ok || got != query {
			t.Errorf("Get(%s) on another replica = %q, %v; want %q", hash, got, ok, query)
		}
	}
	if len(masters) != 3 {
		t.Errorf("the queries landed on %d masters, want all 3", len(masters))
	}
}
