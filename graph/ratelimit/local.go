package ratelimit

import (
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/enneo-facade/facade/upstream/lru"
)

// buckets is this process's bucket per key, at most max of them, the least recently used
// forgotten first. They are kept across requests so that a caller's budget holds while Redis is
// down, and bounded because keys come from callers. A bucket is forgotten too once it would be
// full again: a new one is the same.
type buckets struct {
	limit  rate.Limit
	burst  int
	refill time.Duration // from empty to full

	// mu makes each take's lookup, AllowN and TokensAt one step, so that the points reported are
	// those this take left.
	mu    sync.Mutex
	items *lru.Map[string, *rate.Limiter]
}

func newBuckets(l Limit, maxKeys int) *buckets {
	return &buckets{
		limit:  rate.Limit(l.PerSecond),
		burst:  int(l.Burst),
		refill: time.Duration(float64(l.Burst) / float64(l.PerSecond) * float64(time.Second)),
		items:  lru.New[string, *rate.Limiter](int64(maxKeys)),
	}
}

// take takes cost points from key's bucket at now if they fit, and returns whether it did and
// the points left. cost is between 0 and the burst.
func (b *buckets) take(key string, cost int64, now time.Time) (ok bool, left float64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	lim, found := b.items.Get(key, now)
	if !found {
		lim = rate.NewLimiter(b.limit, b.burst) // starts full
	}
	ok = lim.AllowN(now, int(cost))
	b.items.Put(key, lim, 1, now.Add(b.refill))
	return ok, lim.TokensAt(now)
}

// size returns the number of buckets held.
func (b *buckets) size() int {
	n, _ := b.items.Stats()
	return n
}
