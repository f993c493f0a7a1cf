// Package lru is a least-recently-used map bounded by the total cost of its values, whose
// entries also expire: the cache's hot layer, the in-process store and the response cache.
package lru

import (
	"container/list"
	"sync"
	"time"
)

// Map is a least-recently-used map bounded by the total cost of its values, whose entries also
// expire. It is safe for concurrent use.
type Map[K comparable, V any] struct {
	mu    sync.Mutex
	max   int64
	used  int64
	order *list.List // front: most recently used
	items map[K]*list.Element
}

type lruItem[K comparable, V any] struct {
	key     K
	val     V
	cost    int64
	expires time.Time
}

// New returns a Map whose values cost at most maxCost in all.
func New[K comparable, V any](maxCost int64) *Map[K, V] {
	return &Map[K, V]{max: maxCost, order: list.New(), items: map[K]*list.Element{}}
}

// Get returns the value of k unless it is absent or expired at now.
func (c *Map[K, V]) Get(k K, now time.Time) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var zero V
	el, ok := c.items[k]
	if !ok {
		return zero, false
	}
	it := el.Value.(*lruItem[K, V])
	if !now.Before(it.expires) {
		c.remove(el)
		return zero, false
	}
	c.order.MoveToFront(el)
	return it.val, true
}

// Put stores v under k until expires, evicting the least recently used entries to stay within
// the bound. A value costlier than the whole bound is not stored.
func (c *Map[K, V]) Put(k K, v V, cost int64, expires time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[k]; ok {
		c.remove(el)
	}
	if cost > c.max {
		return
	}
	c.items[k] = c.order.PushFront(&lruItem[K, V]{key: k, val: v, cost: cost, expires: expires})
	c.used += cost
	for c.used > c.max {
		c.remove(c.order.Back())
	}
}

// RemoveIf drops every entry whose key matches. It walks the whole map: invalidations are rare
// next to reads, and the bound keeps the map small.
func (c *Map[K, V]) RemoveIf(match func(K) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, el := range c.items {
		if match(k) {
			c.remove(el)
		}
	}
}

func (c *Map[K, V]) remove(el *list.Element) {
	it := c.order.Remove(el).(*lruItem[K, V])
	delete(c.items, it.key)
	c.used -= it.cost
}

// Stats returns the number of entries and their total cost.
func (c *Map[K, V]) Stats() (entries int, cost int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.items), c.used
}
