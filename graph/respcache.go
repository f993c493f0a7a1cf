package graph

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/enneo-facade/facade/graph/audit"
	"github.com/enneo-facade/facade/upstream"
	"github.com/enneo-facade/facade/upstream/lru"
)

// responseCache keeps the data of whole responses to queries, so that a query repeated by a
// caller of the same scope is answered without parsing, executing or encoding it again. It is
// keyed by the credential scope and the request's bytes (see requestKey), and an entry
// records every contract history it was built from: it is used only while all of them are still
// fresh and none was invalidated since. Responses with errors, from stale histories, to
// mutations, or that depend on when they were asked (aggregates without now) are not kept.
type responseCache struct {
	entries  *lru.Map[[32]byte, *cachedResponse]
	changes  ChangeTracker
	rates    RateLimiter // nil: no rate limit
	obs      Observer
	compress func(http.Handler) http.Handler // nil: none
	audit    *audit.Log                      // nil: no audit
}

type cachedResponse struct {
	data       []byte       // the response's data member
	name       string       // the operation's name, as Observer is told it
	cost       int64        // the operation's estimated cost, paid again by every answer
	deps       []historyDep // sorted by contract id
	freshUntil time.Time    // of its least fresh history
	audited    []byte       // the tail of its audit line (audit.Read.Tail), nil for none
	rendered   atomic.Pointer[rendering]
	encoded    atomic.Pointer[encoding]
}

// rendering is a whole response as rendered in one second: the ages it reports change only
// from one second to the next, so until then it is written as it is.
type rendering struct {
	second int64
	body   []byte
}

type historyDep struct {
	contractID string
	fetched    time.Time // for the age the answer reports
	current    time.Time // an invalidation at or after it makes the answer out of date
}

func newResponseCache(o Options) *responseCache {
	if o.Changes == nil {
		return nil
	}
	size := o.ResponseCacheBytes
	if size <= 0 {
		size = 8 << 20
	}
	return &responseCache{entries: lru.New[[32]byte, *cachedResponse](size), changes: o.Changes, rates: o.RateLimiter, obs: o.Observer, compress: o.Compress, audit: o.personal.audit}
}

// missed is what serve found out about a request it could not answer, for what follows:
// the cache key, for store, and the credential, for withLoaders.
type missed struct {
	key  [32]byte
	cred Credential
}

type missedCtx struct{}

// serve answers from the cache when it can, and otherwise lets next execute the operation with
// what it found out in its context.
func (rc *responseCache) serve(auth *Authenticator, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		cred := auth.Credential(r)
		if !isWebSocket(r) && auth.refused(w, cred, rc.obs) { // a WebSocket's caller says who in the protocol
			return
		}
		key, ok := [32]byte{}, false
		form := requestForm(r)
		contentType := form.media
		// Only whole JSON answers are kept (store), and served to any client that takes JSON,
		// also one that would take the parts of an @defer (urql asks for multipart/mixed with
		// every query): a whole answer is what it gets without @defer. A CSV table is flattened
		// from the executed operation; a refusal (406) is the transport's.
		if cred.Err == nil && (contentType == applicationJSON || contentType == graphqlResponseJSON) {
			key, ok = requestKey(r, cred.cacheScope())
		}
		if !ok {
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), missedCtx{}, missed{cred: cred})))
			return
		}
		now := time.Now()
		if e, ok := rc.entries.Get(key, now); ok && rc.valid(e) {
			rc.obs.CacheLookup("response", "hit")
			h := w.Header()
			h.Set("Content-Type", contentType)
			var body []byte
			if rc.rates == nil {
				body = e.response(now)
			} else {
				// A cached answer costs what executing it would: the budget paces callers,
				// whatever is cached.
				d := rc.rates.Take(r.Context(), cred.rateKey(), e.cost)
				if !d.Allowed {
					writeRateLimited(w, rateLimited(e.cost, d), newCostReport(e.cost, rc.rates, &d))
					rc.obs.Refused(CodeRateLimited)
					rc.obs.Operation(e.name, "refused", time.Since(start))
					return
				}
				body = e.render(now, newCostReport(e.cost, rc.rates, &d))
			}
			if r.Method != http.MethodGet || !conditional(w, r, cred.Upstream.Scope, contentType, e.data, len(e.deps) > 0, e.freshUntil, now) {
				if rc.compress != nil && rc.rates == nil { // with a rate limit each answer is new
					body = e.encode(r, h, body, now, rc.compress)
				}
				h.Set("Content-Length", strconv.Itoa(len(body)))
				w.Write(body)
			}
			rc.obs.Operation(e.name, "ok", time.Since(start))
			if e.audited != nil && rc.audit != nil {
				rc.audit.Write(now, w.Header().Get("X-Request-Id"), cred.caller(), e.audited)
			}
			if info := requestInfoOf(w); info != nil {
				info.Operation, info.Response = e.name, true
			}
			return
		}
		rc.obs.CacheLookup("response", "miss")
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), missedCtx{}, missed{key: key, cred: cred})))
	})
}

// valid reports whether no history e was built from was invalidated since it was last known
// current (fetched, or read from the store):
// an invalidation that lands while an answer is being built makes that answer out of date
// although it is stored after it.
func (rc *responseCache) valid(e *cachedResponse) bool {
	for _, d := range e.deps {
		if rc.changes.ChangedSince(d.contractID, d.current) {
			return false
		}
	}
	return true
}

// store keeps resp, the answer to the operation called name (whose audit line ended with
// audited), if it was a query that succeeded on fresh histories only.
func (rc *responseCache) store(ctx context.Context, resp *graphql.Response, q *request, name string, audited []byte) {
	m, ok := ctx.Value(missedCtx{}).(missed)
	if !ok || m.key == ([32]byte{}) || len(resp.Errors) > 0 || resp.Data == nil || resp.HasNext != nil || q.op.timed || !graphql.HasOperationContext(ctx) {
		return
	}
	if op := graphql.GetOperationContext(ctx).Operation; op == nil || op.Operation != ast.Query {
		return
	}
	now := time.Now()
	e := &cachedResponse{data: bytes.Clone(resp.Data), name: name, cost: q.op.cost, audited: audited}
	expires := now.Add(time.Hour) // or when its first history stops being fresh
	keep := true
	q.used.each(func(id string, u historyUse) {
		if u.cache == upstream.CacheStale || !now.Before(u.freshUntil) {
			keep = false
		}
		if u.freshUntil.Before(expires) {
			expires = u.freshUntil
		}
		e.deps = append(e.deps, historyDep{contractID: id, fetched: u.fetched, current: u.current})
	})
	if !keep {
		return
	}
	slices.SortFunc(e.deps, func(a, b historyDep) int { return strings.Compare(a.contractID, b.contractID) })
	e.freshUntil = expires
	// Counted twice: the data and one rendering of it.
	rc.entries.Put(m.key, e, int64(2*len(e.data)+64*len(e.deps)+256), expires)
}

// response returns the cached data with provenance as of now: every history is a cache hit.
func (e *cachedResponse) response(now time.Time) []byte {
	if r := e.rendered.Load(); r != nil && r.second == now.Unix() {
		return r.body
	}
	body := e.render(now, costReport{RequestedQueryCost: e.cost})
	e.rendered.Store(&rendering{second: now.Unix(), body: body})
	return body
}

// render writes the answer as an execution would (the extensions' keys sorted, as
// encoding/json writes a map).
func (e *cachedResponse) render(now time.Time, cost costReport) []byte {
	b := make([]byte, 0, len(e.data)+160+48*len(e.deps))
	b = append(b, `{"data":`...)
	b = append(b, e.data...)
	b = append(b, `,"extensions":{"cost":`...)
	c, _ := json.Marshal(cost)
	b = append(b, c...)
	if len(e.deps) > 0 {
		b = append(b, `,"histories":{`...)
		for i, d := range e.deps {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendQuote(b, d.contractID)
			b = append(b, `:{"cache":"hit","ageSeconds":`...)
			b = strconv.AppendInt(b, int64(now.Sub(d.fetched).Seconds()), 10)
			b = append(b, '}')
		}
		b = append(b, '}')
	}
	return append(b, "}}"...)
}

// writeRateLimited answers a request its caller's budget cannot pay for: 429, Retry-After, and
// the bucket's state.
func writeRateLimited(w http.ResponseWriter, err *gqlerror.Error, cost costReport) {
	w.Header().Set("Cache-Control", "no-store")
	if secs, ok := err.Extensions["retryAfter"].(int64); ok {
		w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	}
	w.WriteHeader(http.StatusTooManyRequests)
	writeRequestError(w, &graphql.Response{Errors: gqlerror.List{err}, Extensions: map[string]any{"cost": cost}})
}

// requestKey returns the cache key of a POST (whose JSON body stays readable for the full
// path) or a GET request: a digest of the scope and the request's bytes, which hold the query,
// the operation name, the variables and the extensions. Parsing them to key on a normalised
// form would cost more than a cached answer does; clients repeat their requests byte for byte.
func requestKey(r *http.Request, scope string) (key [32]byte, ok bool) {
	var op []byte
	switch r.Method {
	case http.MethodPost:
		if media, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); media != "application/json" {
			return key, false
		}
		body, err := readRequestBody(r)
		// What follows reads the body again, and must meet the same error (a body larger than
		// MAX_REQUEST_BYTES) as it would have without the cache in front.
		r.Body = &readBody{Reader: bytes.NewReader(body), b: body, err: err}
		if err != nil {
			return key, false
		}
		op = body
	case http.MethodGet:
		op = []byte(r.URL.RawQuery)
	default:
		return key, false
	}
	h := sha256.New()
	h.Write([]byte(r.Method))
	h.Write([]byte{0})
	h.Write([]byte(scope))
	h.Write([]byte{0})
	h.Write(op)
	h.Sum(key[:0])
	return key, true
}

// readBody is a request body that was read already, to be read again without another copy
// (see readRequestBody), or through its Reader; it ends with the error reading it met.
type readBody struct {
	*bytes.Reader
	b   []byte
	err error
}

func (b *readBody) Read(p []byte) (int, error) {
	n, err := b.Reader.Read(p)
	if err == io.EOF && b.err != nil {
		return n, b.err
	}
	return n, err
}

func (b *readBody) Close() error { return nil }

// readRequestBody reads a request's body once: into a buffer of its Content-Length, where it
// has one (a growing buffer left twice the body in garbage), or as it is if it was read before.
func readRequestBody(r *http.Request) ([]byte, error) {
	if b, ok := r.Body.(*readBody); ok {
		return b.b, b.err
	}
	var buf bytes.Buffer
	if r.ContentLength > 0 {
		// Bounded, in case nothing in front has held the body to MAX_REQUEST_BYTES.
		buf.Grow(int(min(r.ContentLength, 4<<20)) + bytes.MinRead)
	}
	_, err := buf.ReadFrom(r.Body)
	return buf.Bytes(), err
}
