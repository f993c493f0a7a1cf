package upstream

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"regexp"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// validID admits the contract ids seen in the wild ("746839", "C-1001") and nothing that could
// change the meaning of a URL path or a cache key: no slashes, dots, percent signs or spaces.
var validID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)

// Credential is what upstream calls are made with: the caller's bearer token (the client's
// service token replaces it when set) and its scope, an HMAC of that token under a server secret
// that keys everything cached for it.
type Credential struct {
	Token string
	Scope string
}

// Result is one contract's history as a batch returns it, with where it came from.
type Result struct {
	History *History
	Err     error
	// Cache is CacheHit, CacheMiss or CacheStale.
	Cache string
	// Age is how long ago the history was fetched from the upstream.
	Age time.Duration
	// FreshUntil is when a cached history stops being fresh; zero when nothing caches it.
	FreshUntil time.Time
	// Current is when the history was last known to be the latest: when it was fetched, or
	// when a cache read it back from its store. An invalidation of the contract at or after it
	// makes whatever was built from the history out of date. Zero means now minus Age.
	Current time.Time
}

// Where a Result came from.
const (
	CacheHit   = "hit"   // a fresh cache entry
	CacheMiss  = "miss"  // the upstream, just now
	CacheStale = "stale" // an expired entry, served because the upstream failed
	// CacheRevalidating is an expired entry served while it is refreshed (the cache's
	// Options.Revalidate, in upstream/cache).
	CacheRevalidating = "revalidating"
)

// History fetches one contract's ticket history with the given bearer token (or the client's
// service token when it has one).
func (c *Client) History(ctx context.Context, token, contractID string) (*History, error) {
	return c.history(ctx, token, contractID, nil)
}

func (c *Client) history(ctx context.Context, token, contractID string, p *Projection) (h *History, err error) {
	err = c.withHistoryBody(ctx, token, contractID, func(body []byte) error {
		h, err = c.DecodeHistory(body, contractID, p)
		return err
	})
	return h, err
}

// DecodeHistory decodes what p keeps of a history body (all of it for a nil p) and places its
// zoneless timestamps in the client's zone. It fails exactly when decoding the whole body
// would: pruning fails on anything that is not JSON (the whole body is then decoded, to fail as
// it fails), and every projection keeps the tickets.
func (c *Client) DecodeHistory(body []byte, contractID string, p *Projection) (*History, error) {
	if p != nil {
		buf := prunedBuffers.Get().(*[]byte)
		defer prunedBuffers.Put(buf)
		if pruned, err := p.prune((*buf)[:0], body); err == nil {
			body = pruned
			if cap(pruned) <= maxPooledBody {
				*buf = pruned[:0]
			}
		}
	}
	var h History
	lenient, err := decodeLenient(body, &h)
	h.Lenient = lenient
	if err != nil {
		// The decoder's message may quote the body; keep only its kind.
		return nil, fmt.Errorf("decode history %q: %T: %w", contractID, err, ErrBadResponse)
	}
	if h.Tickets == nil || h.Undecodable("tickets") {
		// Without a tickets array the body is not a history, whatever its status said.
		return nil, fmt.Errorf("decode history %q: no tickets array: %w", contractID, ErrBadResponse)
	}
	h.inZone(c.zone)
	return &h, nil
}

// Histories fetches many histories at once, at most Options.Concurrency at a time, decoding
// only what p keeps (everything for a nil p); results are in the order of ids. It caches
// nothing: see upstream/cache, the decorator that does.
func (c *Client) Histories(ctx context.Context, cred Credential, ids []string, p *Projection) []Result {
	res := make([]Result, len(ids))
	c.each(len(ids), func(i int) {
		h, err := c.history(ctx, cred.Token, ids[i], p)
		res[i] = Result{History: h, Err: err, Cache: CacheMiss}
	})
	return res
}

// Peek finds nothing: the client holds no histories (the cache's Peek does).
func (c *Client) Peek(Credential, string) (Result, bool) { return Result{}, false }

// each runs fn(0) ... fn(n-1), at most c.concurrency at a time, and waits for them.
func (c *Client) each(n int, fn func(i int)) { Each(n, c.concurrency, fn) }

// Each runs fn(0) ... fn(n-1), at most limit at a time, and waits for them: the calls for many
// contracts, here and in the cache in front.
func Each(n, limit int, fn func(i int)) {
	if n == 1 {
		fn(0) // the common case, a lone contract, needs no goroutine
		return
	}
	var g errgroup.Group
	g.SetLimit(limit)
	for i := range n {
		g.Go(func() error { fn(i); return nil })
	}
	g.Wait()
}

// prunedBuffers hold pruned bodies while they are decoded.
var prunedBuffers = sync.Pool{New: func() any { return new([]byte) }}

// HistoryBody fetches the raw body of a contract's history with the given bearer token (or the
// client's service token): JSON, not yet decoded, and the caller's to keep (the cache stores
// it as it came).
func (c *Client) HistoryBody(ctx context.Context, token, contractID string) (body []byte, err error) {
	err = c.withHistoryBody(ctx, token, contractID, func(b []byte) error {
		body = bytes.Clone(b)
		return nil
	})
	return body, err
}

// withHistoryBody fetches the raw body of a contract's history and hands it to use, which must
// not keep it.
func (c *Client) withHistoryBody(ctx context.Context, token, contractID string, use func([]byte) error) error {
	if !validID.MatchString(contractID) {
		return fmt.Errorf("get history: %w", ErrInvalidID)
	}
	var useErr error
	err := c.get(ctx, token, "/contract/"+url.PathEscape(contractID)+"/history", func(b []byte) error {
		useErr = use(b)
		return useErr
	})
	if err != nil && err != useErr { // use's own errors (decoding) name the contract already
		return fmt.Errorf("get history %q: %w", contractID, err)
	}
	return err
}

// ValidID reports whether id is a contract id the client will send upstream.
func ValidID(id string) bool { return validID.MatchString(id) }
