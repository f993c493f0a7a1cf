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
// A replica whose subscription has just broken, and which has not yet noticed (its goroutine
// not yet scheduled), is no longer among those PUBLISH reaches, yet still serves from memory
// for that moment: the soak saw it. So every replica that listens also says so, in a set of
// listeners with a key each that it refreshes every heartbeat and that expires after three;
// it leaves the set once it knows it may miss invalidations, by which time it serves nothing
// from memory. DropContract waits until every listener either confirmed or left.
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

// The listeners share a hash tag: on a cluster, one slot.
func (s *Store) listenersKey() string         { return s.prefix + "{listeners}" }
func (s *Store) listenerKey(id string) string { return s.prefix + "{listeners}:" + id }

// listen says this store listens, for three heartbeats.
func (s *Store) listen(ctx context.Context) {
	// Within a heartbeat: the subscription's loop waits for it, and must not miss its own.
	ctx, cancel := context.WithTimeout(ctx, min(s.callTimeout, s.heartbeat))
	defer cancel()
	pipe := s.rdb.TxPipeline()
	pipe.SAdd(ctx, s.listenersKey(), s.id)
	pipe.Set(ctx, s.listenerKey(s.id), 1, 3*s.heartbeat)
	_, _ = pipe.Exec(ctx)
}

// unlisten says this store no longer listens: it may miss invalidations from now on.
func (s *Store) unlisten() {
	ctx, cancel := context.WithTimeout(context.Background(), s.callTimeout)
	defer cancel()
	pipe := s.rdb.TxPipeline()
	pipe.SRem(ctx, s.listenersKey(), s.id)
	pipe.Del(ctx, s.listenerKey(s.id))
	_, _ = pipe.Exec(ctx)
}

// unconfirmed returns the listeners that have not confirmed, dropping those that expired.
func (s *Store) unconfirmed(ctx context.Context, confirmed map[string]bool) ([]string, error) {
	ids, err := s.rdb.SMembers(ctx, s.listenersKey()).Result()
	if err != nil {
		return nil, err
	}
	pipe := s.rdb.Pipeline()
	alive := make([]*redis.IntCmd, len(ids))
	for i, id := range ids {
		alive[i] = pipe.Exists(ctx, s.listenerKey(id))
	}
	if len(ids) > 0 {
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, err
		}
	}
	var missing, gone []string
	for i, id := range ids {
		switch {
		case alive[i].Val() == 0:
			gone = append(gone, id) // it stopped without a word
		case !confirmed[id]:
			missing = append(missing, id)
		}
	}
	if len(gone) > 0 {
		s.rdb.SRem(ctx, s.listenersKey(), gone)
	}
	return missing, nil
}

// publish sends msg on the invalidation channel: sharded on a cluster (see Store.sharded).
func (s *Store) publish(ctx context.Context, c redis.Cmdable, msg string) *redis.IntCmd {
	if s.sharded {
		return c.SPublish(ctx, s.channel, msg)
	}
	return c.Publish(ctx, s.channel, msg)
}

// awaitConfirmations pops the n confirmations of nonce, then waits until every listener has
// confirmed or left, within confirmTimeout.
func (s *Store) awaitConfirmations(ctx context.Context, nonce string, n int64) error {
	key := s.confirmKey(nonce)
	deadline := time.Now().Add(confirmTimeout)
	confirmed := map[string]bool{}
	for range n {
		left := time.Until(deadline)
		if left < time.Millisecond {
			return errUnconfirmed
		}
		got, err := s.rdb.BLPop(ctx, left, key).Result()
		switch {
		case errors.Is(err, redis.Nil):
			return errUnconfirmed
		case err != nil:
			return err
		}
		confirmed[got[1]] = true
	}
	for {
		missing, err := s.unconfirmed(ctx, confirmed)
		switch {
		case err != nil:
			return err
		case len(missing) == 0:
			return nil
		case time.Now().After(deadline):
			return errUnconfirmed
		}
		time.Sleep(5 * time.Millisecond) // a replica that has just gone deaf leaves in a moment
	}
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
	pipe.RPush(cctx, s.confirmKey(nonce), s.id)
	pipe.Expire(cctx, s.confirmKey(nonce), 10*confirmTimeout) // left by a waiter that gave up
	// Unconfirmed, the invalidation fails, and whoever made it tries again.
	_, _ = pipe.Exec(cctx)
}
