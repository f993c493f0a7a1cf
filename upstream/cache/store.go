package cache

import (
	"context"
	"time"
)

// Store keeps encoded cache entries (see Cache): a Redis server shared by replicas, or process
// memory. Entries are addressed by contract and credential scope, so that one contract's
// entries of every scope can be dropped at once.
type Store interface {
	// GetMany returns the values of keys in order, nil where an entry is absent or expired. It
	// makes one round trip however many keys there are (one per node, in parallel, on a
	// cluster). When part of the read fails (a cluster master that is down) it returns the
	// error with the values it did read: nil is then absent or unread.
	GetMany(ctx context.Context, keys []EntryKey) ([][]byte, error)
	// SetMany writes entries, each living for its TTL, in one round trip.
	SetMany(ctx context.Context, entries []Entry) error
	// DropContract deletes the entries of contractID for every scope.
	DropContract(ctx context.Context, contractID string) error
	// Invalidations tells feed of each contract id that any replica sharing the store drops,
	// and of every stretch in which it may miss some, until ctx ends; it returns at once for a
	// store no other replica shares.
	Invalidations(ctx context.Context, feed InvalidationFeed)
	// Status says how the store is doing, for /readyz: "memory", "ok" or "degraded".
	Status() string
}

// InvalidationFeed hears of the invalidations other replicas make (see Store.Invalidations).
// Pub/sub, which carries them, keeps nothing for a subscriber that is away, so the feed also
// hears when it may be missing some: from Lost until Resumed nothing kept in process can be
// trusted, and at Resumed everything kept from before may be out of date.
type InvalidationFeed interface {
	// Drop: contractID was invalidated.
	Drop(contractID string)
	// Lost: invalidations may be missed from now on (the subscription broke, or has not begun).
	Lost()
	// Resumed: invalidations are heard again, but those made while lost were missed.
	Resumed()
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
