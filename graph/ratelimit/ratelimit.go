// Package ratelimit limits each credential's GraphQL operations by their cost in points, with a
// leaky bucket (GCRA) per key.
//
// With Redis, every replica of the facade shares one bucket per key (go-redis/redis_rate). Without
// Redis, and while Redis is in trouble, a bucket per key in this process decides instead
// (golang.org/x/time/rate): Redis trouble makes the limit per replica for a while, it never fails
// or noticeably slows a request.
package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
	"github.com/sony/gobreaker/v2"
)

// Limit is a bucket of cost points: it holds at most Burst points and refills at PerSecond points
// a second. Burst is thus also the costliest operation that can ever pass.
type Limit struct {
	Burst     int64
	PerSecond int64
}

// Validate returns an error naming the field of l that is out of range, for configuration code to
// report at start-up; the constructors panic on the same condition.
func (l Limit) Validate() error {
	switch {
	case l.Burst < 1:
		return fmt.Errorf("rate limit burst %d: must be at least 1", l.Burst)
	case l.PerSecond < 1:
		return fmt.Errorf("rate limit per second %d: must be at least 1", l.PerSecond)
	}
	return nil
}

// Decision is what one Take decided.
type Decision struct {
	// Allowed reports whether the operation may run; it then took its cost from the bucket.
	Allowed bool
	// Remaining is the number of whole points left in the bucket after this take (after a
	// refusal: left now).
	Remaining int64
	// RetryAfter is, for a refusal, how long until the cost will fit (at least 1ms); zero when
	// allowed.
	RetryAfter time.Duration
	// Local reports that this process's bucket decided: the Limiter has no Redis, or Redis is in
	// trouble.
	Local bool
}

// Limiter takes cost points from the bucket of a key. It is safe for concurrent use.
type Limiter struct {
	limit Limit
	now   func() time.Time // the per-process buckets' clock
	local *buckets

	// The rest is unset without Redis.
	shared  *redis_rate.Limiter
	rlimit  redis_rate.Limit
	prefix  string
	breaker *gobreaker.CircuitBreaker[*redis_rate.Result]
	openFor time.Duration
	log     *slog.Logger

	errMu   sync.Mutex
	lastErr error // the latest Redis failure, for the one warning when the breaker opens

	// downSince is when the breaker last opened. Only OnStateChange touches it, and gobreaker
	// calls that with its own mutex held, so it needs no lock of its own.
	downSince time.Time
}

// config holds what production leaves at its defaults and tests change.
type config struct {
	openFor time.Duration    // how long an open breaker skips Redis (default 5s)
	now     func() time.Time // the per-process buckets' clock (default time.Now)
}

// failThreshold is the number of consecutive Redis failures that open the breaker.
const failThreshold = 3

// errCallerGaveUp marks a Redis call cut short by its caller's own context, which says nothing
// about Redis and so is not held against it.
var errCallerGaveUp = errors.New("caller gave up")

// NewMemory returns a Limiter whose buckets live in this process, at most maxKeys of them: the
// least recently used are forgotten, and a forgotten bucket is full again, which only ever admits
// more. It panics if l is invalid (see Limit.Validate) or maxKeys is below 1: callers check their
// configuration first, so these are programming errors.
func NewMemory(l Limit, maxKeys int) *Limiter {
	return newLimiter(nil, "", l, maxKeys, nil, config{})
}

// NewRedis returns a Limiter whose buckets live in Redis, shared by every process that uses the
// same Redis and prefix. A bucket's key is "rate:"+prefix+"rl:"+key: redis_rate puts its own
// "rate:" in front, so the keys are not under prefix, but each expires by itself once its bucket
// is full again.
//
// Each call is bounded by ctx and by rdb's own timeouts, which must be short (as the upstream
// package's client's are); after 3 consecutive failures a breaker skips Redis for 5s, then lets
// one call probe it. While Redis cannot be used, per-process buckets decide, at most maxKeys of
// them as with NewMemory. log gets one warning when Redis becomes unusable and one note when it
// recovers, never one per call; nil discards. A nil rdb gives NewMemory(l, maxKeys). It panics
// as NewMemory does.
func NewRedis(rdb redis.UniversalClient, prefix string, l Limit, maxKeys int, log *slog.Logger) *Limiter {
	return newLimiter(rdb, prefix, l, maxKeys, log, config{})
}

func newLimiter(rdb redis.UniversalClient, prefix string, l Limit, maxKeys int, log *slog.Logger, c config) *Limiter {
	if err := l.Validate(); err != nil {
		panic("ratelimit: " + err.Error())
	}
	if maxKeys < 1 {
		panic(fmt.Sprintf("ratelimit: maxKeys %d: must be at least 1", maxKeys))
	}
	if c.openFor <= 0 {
		c.openFor = 5 * time.Second
	}
	if c.now == nil {
		c.now = time.Now
	}
	lim := &Limiter{limit: l, now: c.now, local: newBuckets(l, maxKeys)}
	if rdb == nil {
		return lim
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	lim.shared = redis_rate.NewLimiter(rdb)
	lim.rlimit = redis_rate.Limit{Rate: int(l.PerSecond), Burst: int(l.Burst), Period: time.Second}
	lim.prefix = prefix + "rl:"
	lim.openFor = c.openFor
	lim.log = log
	lim.breaker = gobreaker.NewCircuitBreaker[*redis_rate.Result](gobreaker.Settings{
		Name:        "ratelimit",
		MaxRequests: 1, // one probe when half-open
		Timeout:     c.openFor,
		ReadyToTrip: func(n gobreaker.Counts) bool { return n.ConsecutiveFailures >= failThreshold },
		IsExcluded:  func(err error) bool { return errors.Is(err, errCallerGaveUp) },
		OnStateChange: func(_ string, from, to gobreaker.State) {
			lim.stateChanged(from, to)
		},
	})
	return lim
}

// Limit returns the limit every bucket of l has.
func (l *Limiter) Limit() Limit { return l.limit }

// Status is for a readiness report: "local" without Redis, "shared" while Redis decides, and
// "degraded" while the breaker keeps Redis out (open, or half-open until a probe succeeds) and
// per-process buckets decide.
func (l *Limiter) Status() string {
	switch {
	case l.breaker == nil:
		return "local"
	case l.breaker.State() == gobreaker.StateClosed:
		return "shared"
	default:
		return "degraded"
	}
}

// Take takes cost points from key's bucket if they fit, and says what it decided.
//
// A cost of 0 or less takes nothing and is allowed; it still asks the bucket, so Remaining is
// right. A cost above Burst can never fit: callers keep costs within Burst, so this is a guard
// only, which refuses at once with RetryAfter the time to refill a whole bucket, Remaining 0 and
// Local false, looking at no bucket.
//
// Take never fails: when Redis cannot answer, this process's bucket for key decides.
func (l *Limiter) Take(ctx context.Context, key string, cost int64) Decision {
	cost = max(cost, 0)
	if cost > l.limit.Burst {
		return Decision{RetryAfter: l.refillTime(float64(l.limit.Burst))}
	}
	if l.shared != nil {
		if d, ok := l.takeShared(ctx, key, cost); ok {
			return d
		}
	}
	ok, left := l.local.take(key, cost, l.now())
	d := Decision{Allowed: ok, Remaining: int64(left), Local: true}
	if !ok {
		d.RetryAfter = l.refillTime(float64(cost) - left)
	}
	return d
}

// takeShared asks Redis through the breaker; ok is false when Redis did not answer.
func (l *Limiter) takeShared(ctx context.Context, key string, cost int64) (d Decision, ok bool) {
	res, err := l.breaker.Execute(func() (*redis_rate.Result, error) {
		res, err := l.shared.AllowN(ctx, l.prefix+key, l.rlimit, int(cost))
		if err != nil {
			if callerGaveUp(ctx) {
				return nil, fmt.Errorf("%w: %w", errCallerGaveUp, err)
			}
			l.errMu.Lock()
			l.lastErr = err
			l.errMu.Unlock()
		}
		return res, err
	})
	if err != nil {
		return Decision{}, false
	}
	// redis_rate reports Allowed as the cost taken, so a take of 0 reads as 0 even when allowed.
	if res.Allowed > 0 || cost == 0 {
		return Decision{Allowed: true, Remaining: int64(max(res.Remaining, 0))}, true
	}
	// A refusal's Remaining is always 0 in redis_rate; what is left now follows from ResetAfter,
	// the time until the bucket is full.
	left := float64(l.limit.Burst) - res.ResetAfter.Seconds()*float64(l.limit.PerSecond)
	return Decision{Remaining: int64(max(left, 0)), RetryAfter: roundUp(res.RetryAfter)}, true
}

// refillTime is how long the bucket takes to gain points, rounded up to the millisecond.
func (l *Limiter) refillTime(points float64) time.Duration {
	return roundUp(time.Duration(points / float64(l.limit.PerSecond) * float64(time.Second)))
}

// roundUp rounds d up to a whole millisecond, and to at least one: a refusal's RetryAfter is
// positive, and callers report it in milliseconds or seconds.
func roundUp(d time.Duration) time.Duration {
	if r := d % time.Millisecond; r != 0 {
		d += time.Millisecond - r
	}
	return max(d, time.Millisecond)
}

// stateChanged logs the start and the end of an outage; a failed probe (half-open to open)
// continues the same outage and says nothing.
func (l *Limiter) stateChanged(from, to gobreaker.State) {
	switch {
	case from == gobreaker.StateClosed && to == gobreaker.StateOpen:
		l.downSince = time.Now()
		l.errMu.Lock()
		err := l.lastErr
		l.errMu.Unlock()
		// The error names the operation and the address; keys never appear.
		l.log.Warn("rate limiting: redis unusable, per-process buckets decide",
			"err", err, "retry_in", l.openFor)
	case to == gobreaker.StateClosed:
		l.log.Info("rate limiting: redis usable again, buckets shared",
			"down_for", time.Since(l.downSince).Round(time.Millisecond))
	}
}

// callerGaveUp reports whether ctx is done. It also looks at the deadline itself, because a
// socket read that the deadline cut short can return before the context's own timer has fired.
func callerGaveUp(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	deadline, ok := ctx.Deadline()
	return ok && !time.Now().Before(deadline)
}
