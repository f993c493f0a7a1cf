package cache

import (
	"context"
	"time"

	"github.com/enneo-facade/facade/upstream/lru"
)

// MemoryStore is a Store in process memory, bounded in bytes: the cache of a single replica
// when no Redis is configured.
type MemoryStore struct {
	entries *lru.Map[EntryKey, []byte]
}

var _ Store = (*MemoryStore)(nil)

// NewMemoryStore returns a MemoryStore holding at most maxBytes of entries (keys included).
func NewMemoryStore(maxBytes int64) *MemoryStore {
	return &MemoryStore{entries: lru.New[EntryKey, []byte](maxBytes)}
}

// GetMany returns the values of keys, nil where absent or expired.
func (s *MemoryStore) GetMany(_ context.Context, keys []EntryKey) ([][]byte, error) {
	now := time.Now()
	out := make([][]byte, len(keys))
	for i, k := range keys {
		out[i], _ = s.entries.Get(k, now)
	}
	return out, nil
}

// SetMany stores entries, each until its TTL runs out or it is evicted.
func (s *MemoryStore) SetMany(_ context.Context, entries []Entry) error {
	now := time.Now()
	for _, e := range entries {
		cost := int64(len(e.Value) + len(e.Key.ContractID) + len(e.Key.Scope) + 96) // 96: the item's own bookkeeping
		s.entries.Put(e.Key, e.Value, cost, now.Add(e.TTL))
	}
	return nil
}

// DropContract deletes the entries of contractID for every scope.
func (s *MemoryStore) DropContract(_ context.Context, contractID string) error {
	s.entries.RemoveIf(func(k EntryKey) bool { return k.ContractID == contractID })
	return nil
}

// Invalidations returns at once: no other replica shares this store.
func (s *MemoryStore) Invalidations(context.Context, InvalidationFeed) {}

// Status reports "memory": this store cannot be degraded.
func (s *MemoryStore) Status() string { return "memory" }
