// Package upstream is a client for Enneo's "Mind" REST API: the contract history endpoint, its
// error statuses and its loosely typed JSON. It knows nothing of GraphQL.
package upstream

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	_ "time/tzdata" // the default zone must load on distroless images without zoneinfo

	"github.com/cenkalti/backoff/v5"
	"github.com/sony/gobreaker/v2"
	"golang.org/x/sync/semaphore"
)

// Options configures a Client. Zero values take the defaults noted beside each field.
type Options struct {
	// BaseURL is everything before /contract/..., e.g. https://demo.enneo.ai/api/mind.
	BaseURL string
	// ServiceToken, when set, is sent on every call instead of the caller's token.
	ServiceToken string
	// Timeout bounds one call, from dial to the last byte of the body (default 5s).
	Timeout time.Duration
	// ConnectTimeout bounds the TCP and TLS handshakes (default 2s).
	ConnectTimeout time.Duration
	// MaxBodyBytes caps a response body (default 64 MiB: thousands of tickets with HTML bodies
	// are a legitimate history).
	MaxBodyBytes int64
	// Zone is where zoneless timestamps are read (default Europe/Berlin, Enneo's home).
	Zone *time.Location
	// Concurrency bounds the calls one batch (Histories) makes at once (default 16).
	Concurrency int
	// Transport replaces the default keep-alive transport (tests use it to count connections).
	Transport http.RoundTripper
	// WrapTransport, if set, wraps the transport each attempt goes through (tracing).
	WrapTransport func(http.RoundTripper) http.RoundTripper
	// Resilience sets retries, the bound on calls in flight and the circuit breaker.
	Resilience Resilience
	// Observer is told of every attempt, retry and change of the breaker's state (nil: none).
	Observer Observer
	// Logger gets a line when the breaker opens and one when it closes again (nil: none).
	Logger *slog.Logger
}

// DefaultZone is where zoneless timestamps are read unless configured otherwise: Europe/Berlin,
// Enneo's home.
func DefaultZone() *time.Location {
	zone, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		panic(err) // embedded by time/tzdata: it cannot be missing
	}
	return zone
}

// Client calls the upstream. It is safe for concurrent use and reuses connections.
type Client struct {
	base        string
	token       string
	timeout     time.Duration
	maxBytes    int64
	zone        *time.Location
	concurrency int
	http        *http.Client
	res         Resilience
	obs         Observer
	inFlight    *semaphore.Weighted
	breaker     *gobreaker.CircuitBreaker[*http.Response]
}

// New returns a Client for o, or an error naming the option that is wrong.
func New(o Options) (*Client, error) {
	base := strings.TrimRight(o.BaseURL, "/")
	if !strings.HasPrefix(base, "http://") && !strings.HasPrefix(base, "https://") {
		return nil, errors.New("upstream base URL must start with http:// or https://")
	}
	c := &Client{base: base, token: o.ServiceToken, timeout: o.Timeout, maxBytes: o.MaxBodyBytes, zone: o.Zone, concurrency: o.Concurrency}
	if c.concurrency <= 0 {
		c.concurrency = 16
	}
	if c.timeout <= 0 {
		c.timeout = 5 * time.Second
	}
	if c.maxBytes <= 0 {
		c.maxBytes = 64 << 20
	}
	if c.zone == nil {
		c.zone = DefaultZone()
	}
	tr := o.Transport
	if tr == nil {
		connect := o.ConnectTimeout
		if connect <= 0 {
			connect = 2 * time.Second
		}
		tr = &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			DialContext:         (&net.Dialer{Timeout: connect, KeepAlive: 30 * time.Second}).DialContext,
			TLSHandshakeTimeout: connect,
			ForceAttemptHTTP2:   true,
			MaxIdleConns:        256,
			MaxIdleConnsPerHost: 64,
			IdleConnTimeout:     90 * time.Second,
		}
	}
	c.res = o.Resilience
	c.res.setDefaults()
	c.obs = o.Observer
	if c.obs == nil {
		c.obs = nop{}
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c.inFlight = semaphore.NewWeighted(int64(c.res.MaxInFlight))
	u, _ := url.Parse(base)
	c.breaker = newBreaker(u.Host, c.res, func(from, to string) {
		c.obs.BreakerChanged(from, to)
		switch {
		case from == "closed" && to == "open":
			log.Warn("upstream circuit breaker open: calls paused, stale histories served", "retry_in", c.res.BreakerCooldown)
		case to == "closed":
			log.Info("upstream circuit breaker closed: the upstream answers again")
		}
	})
	if o.WrapTransport != nil {
		tr = o.WrapTransport(tr)
	}
	tr = breakerTransport{next: tr, cb: c.breaker}
	c.http = &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error {
		// A redirect would carry the token to wherever it points: refuse it.
		return http.ErrUseLastResponse
	}}
	return c, nil
}

// NeedsCallerToken reports whether calls need the caller's own token (no service token is set).
func (c *Client) NeedsCallerToken() bool { return c.token == "" }

// Bounds returns how many calls one batch makes at once and the largest body accepted
// (Options.Concurrency and MaxBodyBytes, defaults applied).
func (c *Client) Bounds() (concurrency int, maxBodyBytes int64) { return c.concurrency, c.maxBytes }

// Ping checks that the upstream answers HTTP at all; any status counts, since the base URL
// itself is not a documented endpoint.
func (c *Client) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, c.base+"/", nil)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return classify(ctx, err)
	}
	resp.Body.Close()
	return nil
}

// BreakerState is the upstream circuit breaker's state: "closed", "half-open" or "open".
func (c *Client) BreakerState() string { return c.breaker.State().String() }

// get GETs base+path with the bearer token and hands a 2xx body to use, which must not keep
// it: the buffer is reused for later calls. It waits for one of the process's slots for calls
// in flight, and retries what Resilience says, all within ctx's deadline.
func (c *Client) get(ctx context.Context, token, path string, use func(body []byte) error) error {
	if c.token != "" {
		token = c.token
	}
	if token == "" {
		return ErrNoCredential
	}
	if err := c.inFlight.Acquire(ctx, 1); err != nil {
		return classify(ctx, err)
	}
	defer c.inFlight.Release(1)
	_, err := backoff.Retry(ctx, func() (struct{}, error) {
		if err := c.attempt(ctx, token, path, use); err != nil {
			return struct{}{}, retryable(ctx, err, c.timeout)
		}
		return struct{}{}, nil
	}, backoff.WithBackOff(newBackOff(ctx, c.res.RetryWait)), backoff.WithMaxTries(uint(c.res.Retries)+1), backoff.WithMaxElapsedTime(0),
		backoff.WithNotify(func(error, time.Duration) { c.obs.UpstreamRetry() }))
	if ae, ok := err.(*attemptError); ok {
		err = ae.err // the last attempt's own error, retries spent
	}
	if errors.Is(err, context.DeadlineExceeded) {
		err = ErrTimeout // the caller's deadline ended a wait between attempts
	}
	return err
}

type callCountKey struct{}

// WithCallCount returns ctx with n, which counts the upstream calls made with it: every
// attempt, the failed ones too, but none the breaker stopped. It is how a request learns what
// it cost the upstream, whatever caches and shared calls did on the way (a call shared by many
// callers counts for the one that made it).
func WithCallCount(ctx context.Context, n *atomic.Int64) context.Context {
	return context.WithValue(ctx, callCountKey{}, n)
}

func countCall(ctx context.Context) {
	if n, ok := ctx.Value(callCountKey{}).(*atomic.Int64); ok {
		n.Add(1)
	}
}

// attempt is one GET, bounded by the client's timeout and by ctx.
func (c *Client) attempt(ctx context.Context, token, path string, use func(body []byte) error) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/json")
	start, status := time.Now(), 0
	defer func() {
		c.obs.UpstreamCall(status, time.Since(start))
		if status != -1 { // the breaker let it through: the upstream was asked
			countCall(ctx)
		}
	}()
	resp, err := c.http.Do(req)
	if err != nil {
		if errors.Is(err, ErrBreakerOpen) {
			status = -1
		}
		return classify(ctx, err)
	}
	defer resp.Body.Close()
	status = resp.StatusCode
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		// Error bodies may be JSON, text or HTML and may echo personal data: read a little so
		// the connection can be reused, and forget it.
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return &StatusError{Method: req.Method, Path: path, Status: resp.StatusCode, RetryAfter: retryAfter(resp.Header.Get("Retry-After"))}
	}
	buf := bodyBuffers.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= maxPooledBody {
			buf.Reset()
			bodyBuffers.Put(buf)
		}
	}()
	if n := resp.ContentLength; n > 0 && n <= c.maxBytes {
		buf.Grow(int(n) + bytes.MinRead) // one buffer of the right size, not ever larger ones
	}
	_, err = buf.ReadFrom(io.LimitReader(resp.Body, c.maxBytes+1))
	if err != nil {
		return classify(ctx, err)
	}
	if int64(buf.Len()) > c.maxBytes {
		return fmt.Errorf("body larger than %d bytes: %w", c.maxBytes, ErrBadResponse)
	}
	return use(buf.Bytes())
}

// bodyBuffers are read buffers for bodies: a history is decoded (or copied) out of its buffer,
// which then serves the next call, so a busy client does not allocate and grow a buffer of
// tens of kilobytes per call. Buffers of rare, huge bodies are left to the collector.
var bodyBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

const maxPooledBody = 1 << 20

// classify maps a transport error to the vocabulary, keeping the caller's own cancellation.
func classify(ctx context.Context, err error) error {
	var ne net.Error
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return ErrTimeout
	case errors.Is(err, context.Canceled):
		return err
	case errors.Is(err, ErrBreakerOpen):
		return ErrBreakerOpen
	}
	return fmt.Errorf("%w: %v", ErrUnavailable, err)
}

// retryAfter reads a Retry-After header in seconds or as an HTTP date, at most maxRetryAfter
// (a larger one is as good as never, and would overflow a Duration); zero when there is none
// that parses.
func retryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil && s >= 0 {
		return time.Duration(min(s, int64(maxRetryAfter/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && time.Until(t) > 0 {
		return min(time.Until(t).Round(time.Second), maxRetryAfter)
	}
	return 0
}

// maxRetryAfter bounds what the upstream may ask a client to wait.
const maxRetryAfter = 24 * time.Hour
