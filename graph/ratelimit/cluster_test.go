package ratelimit

import (
	"testing"

	"github.com/enneo-facade/facade/upstream/redisstore/redistest"
)

// On Redis Cluster two replicas draw on one budget per caller, whichever master holds it: each
// bucket is one key, so redis_rate's script runs on the master of its slot.
func TestRedisClusterShared(t *testing.T) {
	c := redistest.StartCluster(t)
	prefix := redistest.Prefix(t)
	limit := Limit{Burst: 1000, PerSecond: 1}
	a, b := NewRedis(c.Client(t), prefix, limit, 10, nil), NewRedis(c.Client(t), prefix, limit, 10, nil)
	masters := map[string]bool{}
	for i := range 12 {
		key := "caller-" + string(rune('a'+i))
		masters[c.MasterOf(t, "rate:"+prefix+"rl:"+key)] = true
		if d := a.Take(t.Context(), key, 600); !d.Allowed || d.Local {
			t.Fatalf("a.Take(%s, 600) = %+v, want allowed from the shared bucket", key, d)
		}
		// Redis refills in real time: b sees a's take, less what a second or so brings back.
		d := b.Take(t.Context(), key, 600)
		if d.Allowed || d.Local || d.Remaining < 400 || d.Remaining > 405 || d.RetryAfter <= 0 {
			t.Errorf("b.Take(%s, 600) after a's = %+v, want refused with about 400 left", key, d)
		}
	}
	if len(masters) != 3 {
		t.Errorf("the buckets landed on %d masters, want all 3", len(masters))
	}
	for _, l := range []*Limiter{a, b} {
		if got := l.Status(); got != "shared" {
			t.Errorf("Status() = %q, want shared", got)
		}
	}
}
