package upstream

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/sony/gobreaker/v2"
)

// ErrBreakerOpen is returned, without calling, while the upstream's circuit breaker is open
// after repeated failures: it is ErrUnavailable, so a cache serves stale entries instead.
var ErrBreakerOpen = fmt.Errorf("circuit breaker open: %w", ErrUnavailable)

// Resilience configures how a Client rides out a sick upstream. Zero values take the defaults
// noted beside each field.
type Resilience struct {
	// Retries is how often a call is repeated after a connection error, or a 502, 503, 504 or
	// 429 (default 2; negative: never). Timeouts are not retried: they would multiply a slow
	// upstream's latency.
	Retries int
	// RetryWait is the first wait before a retry (default 100ms); each one doubles it, with
	// jitter. A 429's or 503's Retry-After replaces it when it fits the caller's deadline (or,
	// without one, the client's Timeout); when it does not, the call fails at once.
	RetryWait time.Duration
	// MaxInFlight bounds the calls in flight in the process, across batches and callers
	// (default 64); a call waits for a slot within its caller's deadline.
	MaxInFlight int
	// BreakerFailures is how many consecutive failed attempts (5xx, timeouts, connection
	// errors; never 4xx or a caller's cancellation) open the breaker (default 5).
	BreakerFailures int
	// BreakerCooldown is how long the breaker stays open before one probe may pass (default
	// 5s): a probe that succeeds closes it.
	BreakerCooldown time.Duration
}

func (r *Resilience) setDefaults() {
	if r.Retries == 0 {
		r.Retries = 2
	}
	r.Retries = max(r.Retries, 0)
	if r.RetryWait <= 0 {
		r.RetryWait = 100 * time.Millisecond
	}
	if r.MaxInFlight <= 0 {
		r.MaxInFlight = 64
	}
	if r.BreakerFailures <= 0 {
		r.BreakerFailures = 5
	}
	if r.BreakerCooldown <= 0 {
		r.BreakerCooldown = 5 * time.Second
	}
}

// newBreaker is the upstream host's circuit breaker.
func newBreaker(host string, r Resilience, changed func(from, to string)) *gobreaker.CircuitBreaker[*http.Response] {
	return gobreaker.NewCircuitBreaker[*http.Response](gobreaker.Settings{
		Name:        host,
		MaxRequests: 1, // one probe when half-open
		Timeout:     r.BreakerCooldown,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= uint32(r.BreakerFailures) },
		// A caller that gave up says nothing about the upstream.
		IsExcluded: func(err error) bool { return errors.Is(err, context.Canceled) },
		OnStateChange: func(_ string, from, to gobreaker.State) {
			changed(from.String(), to.String())
		},
	})
}

// serverSick carries a 5xx answer through the breaker as a failure, and back out as an answer.
type serverSick struct{ resp *http.Response }

func (serverSick) Error() string { return "upstream answered 5xx" }

// breakerTransport passes every attempt through the breaker: 5xx answers, timeouts and
// connection errors count against the upstream; while it is open no attempt is made.
type breakerTransport struct {
	next http.RoundTripper
	cb   *gobreaker.CircuitBreaker[*http.Response]
}

func (b breakerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := b.cb.Execute(func() (*http.Response, error) {
		resp, err := b.next.RoundTrip(r)
		if err == nil && resp.StatusCode >= 500 {
			return nil, serverSick{resp}
		}
		return resp, err
	})
	var sick serverSick
	switch {
	case errors.As(err, &sick):
		return sick.resp, nil
	case errors.Is(err, gobreaker.ErrOpenState), errors.Is(err, gobreaker.ErrTooManyRequests):
		return nil, ErrBreakerOpen
	}
	return resp, err
}

// attemptError is a failed attempt that may be retried after wait (a Retry-After), or, with
// wait zero, after the backoff's next interval.
type attemptError struct {
	err  error
	wait time.Duration
}

func (e *attemptError) Error() string { return e.err.Error() }
func (e *attemptError) Unwrap() error { return e.err }

// As lets backoff.Retry see a Retry-After as its own RetryAfterError.
func (e *attemptError) As(target any) bool {
	if t, ok := target.(**backoff.RetryAfterError); ok && e.wait > 0 {
		*t = &backoff.RetryAfterError{Duration: e.wait}
		return true
	}
	return false
}

// retryable decides what follows a failed attempt at ctx's deadline: a retry (an *attemptError),
// or the end (a backoff.Permanent). A Retry-After is waited for when it ends before the
// deadline, or, without one, when it is at most maxWait.
func retryable(ctx context.Context, err error, maxWait time.Duration) error {
	var se *StatusError
	switch {
	case errors.As(err, &se):
		switch se.Status {
		case http.StatusTooManyRequests, http.StatusServiceUnavailable:
			if se.RetryAfter > 0 {
				if deadline, ok := ctx.Deadline(); ok {
					maxWait = time.Until(deadline)
				}
				if se.RetryAfter > maxWait {
					return backoff.Permanent(err) // it would not fit: fail at once, with its retryAfter
				}
				return &attemptError{err: err, wait: se.RetryAfter}
			}
			return &attemptError{err: err}
		case http.StatusBadGateway, http.StatusGatewayTimeout:
			return &attemptError{err: err}
		}
	case errors.Is(err, ErrUnavailable) && !errors.Is(err, ErrBreakerOpen):
		return &attemptError{err: err} // a connection error
	}
	return backoff.Permanent(err)
}

// deadlineBackOff is an exponential backoff with jitter that stops when its next wait would not
// end before the caller's deadline: the last error then says what happened, not the deadline.
type deadlineBackOff struct {
	backoff.ExponentialBackOff
	ctx context.Context
}

func newBackOff(ctx context.Context, first time.Duration) *deadlineBackOff {
	b := &deadlineBackOff{ctx: ctx}
	b.InitialInterval, b.Multiplier, b.RandomizationFactor = first, 2, 0.5
	b.MaxInterval = 16 * first
	b.Reset()
	return b
}

func (b *deadlineBackOff) NextBackOff() time.Duration {
	next := b.ExponentialBackOff.NextBackOff()
	if deadline, ok := b.ctx.Deadline(); ok && time.Until(deadline) <= next {
		return backoff.Stop
	}
	return next
}
