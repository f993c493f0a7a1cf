package persisted

import (
	"context"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/redis/go-redis/v9"
)

// RedisCache keeps the query texts of gqlgen's automatic persisted queries in Redis, by their
// sha256 hash, so that every replica knows a query once one replica has seen it. Redis trouble
// never fails a request: an error is a miss or a skipped write, with no retry, and each call is
// bounded by the caller's context and the client's timeouts (configure the client with
// redisstore.ApplyPolicy: MaxRetries -1, short timeouts, ContextTimeoutEnabled).
type RedisCache struct {
	rdb      redis.UniversalClient
	prefix   string
	ttl      time.Duration
	maxBytes int
}

var _ graphql.Cache[string] = (*RedisCache)(nil)

// NewRedisCache returns a RedisCache over rdb whose keys are prefix+"apq:"+hash and expire ttl
// after the last Add. Texts longer than maxBytes are not stored; maxBytes <= 0 means no limit.
// It panics if ttl is under a millisecond, as time.NewTicker does for a bad interval: Redis
// would refuse every write, or, without a TTL, any client could fill it for good.
func NewRedisCache(rdb redis.UniversalClient, prefix string, ttl time.Duration, maxBytes int) *RedisCache {
	if ttl < time.Millisecond {
		panic("persisted: NewRedisCache with a TTL under a millisecond")
	}
	return &RedisCache{rdb: rdb, prefix: prefix, ttl: ttl, maxBytes: maxBytes}
}

// Get returns the query text stored under hash, with one GET. A hash that is not 64 lower-case
// hex digits is a miss without a call; so is any Redis error. It leaves the TTL alone, to keep
// a hit to one command: a popular query expires like any other, and the next client that
// misses it registers it again.
func (c *RedisCache) Get(ctx context.Context, hash string) (string, bool) {
	if !isSHA256Hex(hash) {
		return "", false
	}
	v, err := c.rdb.Get(ctx, c.prefix+"apq:"+hash).Result()
	if err != nil { // redis.Nil (absent) or trouble: either way a miss
		return "", false
	}
	return v, true
}

// Add stores query under hash with the cache's TTL, replacing any earlier TTL, in one SET. It
// does nothing for a hash that is not 64 lower-case hex digits (gqlgen calls Add only after
// checking that the hash is the query's, in that form) or a query longer than maxBytes. A Redis
// error is ignored: the query is then only not shared, and the client sends it again if needed.
func (c *RedisCache) Add(ctx context.Context, hash string, query string) {
	if !isSHA256Hex(hash) || (c.maxBytes > 0 && len(query) > c.maxBytes) {
		return
	}
	_ = c.rdb.Set(ctx, c.prefix+"apq:"+hash, query, c.ttl).Err()
}

// isSHA256Hex reports whether s is 64 lower-case hex digits, the form of a sha256 that gqlgen
// computes and Apollo's clients send. Anything else is refused before it reaches a Redis key.
func isSHA256Hex(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := range len(s) {
		if b := s[i]; (b < '0' || b > '9') && (b < 'a' || b > 'f') {
			return false
		}
	}
	return true
}

// Chain returns a graphql.Cache[string] whose Get asks m first, then c; Add goes to c only,
// and not even there for an id that m knows, since Get would never reach c for it. A nil c
// makes Add a no-op (a pure safelist: nothing is ever learnt); a nil m leaves just c.
func Chain(m *Manifest, c graphql.Cache[string]) graphql.Cache[string] {
	return chain{m: m, c: c}
}

// chain is the cache that Chain returns.
type chain struct {
	m *Manifest
	c graphql.Cache[string]
}

func (ch chain) Get(ctx context.Context, key string) (string, bool) {
	if ch.m != nil {
		if q, ok := ch.m.Lookup(key); ok {
			return q, true
		}
	}
	if ch.c == nil {
		return "", false
	}
	return ch.c.Get(ctx, key)
}

func (ch chain) Add(ctx context.Context, key string, value string) {
	if ch.c == nil {
		return
	}
	if ch.m != nil {
		if _, ok := ch.m.Lookup(key); ok {
			return
		}
	}
	ch.c.Add(ctx, key, value)
}
