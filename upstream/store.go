package upstream

import (
	"context"
	"time"
)

// Store keeps encoded cache entries (see Cache): a Redis server shared by replicas, or process
// memory. Entries are addressed by contract and credential scope, so that one contract's
// entries of every scope can be dropped at once.
type Store interface {
	// GetMany returns the values of keys in order, nil where an entry is absent or expired. It
	// makes one round trip however many keys there are.
	GetMany(ctx context.Context, keys []EntryKey) ([][]byte, error)
	// SetMany writes entries, each living for its TTL, in one round trip.
	SetMany(ctx context.Context, entries []Entry) error
	// DropContract deletes the entries of contractID for every scope.
	DropContract(ctx context.Context, contractID string) error
	// Invalidations calls drop with each contract id that any replica sharing the store
	// drops, until ctx ends; it returns at once for a store no other replica shares.
	Invalidations(ctx context.Context, drop func(contractID string))
	// Status says how the store is doing, for /readyz: "memory", "ok" or "degraded".
	Status() string
}

// EntryKey addresses one cache entry.
type EntryKey struct {
	ContractID string
	Scope      string // an HMAC of a token, never the token
}

// Entry is one value to store.
type Entry struct {
	Key   EntryKey
	Value []byte
	TTL   time.Duration
}
