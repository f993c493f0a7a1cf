package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// An invalidation is confirmed by every replica that hears it before DropContract returns.
// Pub/sub hands a message to each subscriber's connection; a replica drops the contract from
// memory only once it has read and handled it, a fraction of a millisecond later. A caller told
// "invalidated" in between and asking another replica at once could still be answered from
// that replica's memory (the soak saw it: bench/SOAK.md). So each message carries a nonce; each
// replica, once it has dropped the contract, pushes a confirmation onto a list named by the
// nonce; and DropContract pops as many as PUBLISH said subscribers received the message. A
// replica that was not subscribed is not waited for: it serves nothing from memory until it is
// (see Invalidations).
//
// A message is "<nonce> <contract id>"; contract ids hold no spaces (upstream.ValidID).

// errUnconfirmed: not every replica that heard an invalidation confirmed it in time.
var errUnconfirmed = errors.New("not every replica confirmed the invalidation in time")

// confirmTimeout bounds the wait for confirmations, which normally take a round trip or two.
const confirmTimeout = time.Second

func newNonce() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func (s *Store) confirmKey(nonce string) string { return s.prefix + "confirm:" + nonce }

// publish sends msg on the invalidation channel: sharded on a cluster (see Store.sharded).
func (s *Store) publish(ctx context.Context, c redis.Cmdable, msg string) *redis.IntCmd {
	if s.sharded {
		return c.SPublish(ctx, s.channel, msg)
	}
	return c.Publish(ctx, s.channel, msg)
}

// awaitConfirmations pops n confirmations of nonce, within confirmTimeout.
func (s *Store) awaitConfirmations(ctx context.Context, nonce string, n int64) error {
	key := s.confirmKey(nonce)
	deadline := time.Now().Add(confirmTimeout)
	for range n {
		left := time.Until(deadline)
		if left < time.Millisecond {
			return errUnconfirmed
		}
		switch err := s.rdb.BLPop(ctx, left, key).Err(); {
		case errors.Is(err, redis.Nil):
			return errUnconfirmed
		case err != nil:
			return err
		}
	}
	return nil
}

// heard handles a message of the invalidation channel: passes its contract id to drop, then
// confirms it.
func (s *Store) heard(ctx context.Context, payload string, drop func(string)) {
	nonce, id, ok := strings.Cut(payload, " ")
	if !ok {
		return
	}
	drop(id)
	cctx, cancel := context.WithTimeout(ctx, s.callTimeout)
	defer cancel()
	pipe := s.rdb.Pipeline()
	pipe.RPush(cctx, s.confirmKey(nonce), 1)
	pipe.Expire(cctx, s.confirmKey(nonce), 10*confirmTimeout) // left by a waiter that gave up
	// Unconfirmed, the invalidation fails, and whoever made it tries again.
	_, _ = pipe.Exec(cctx)
}
