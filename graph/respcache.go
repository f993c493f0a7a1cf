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
	"time"

	"github.com/99designs/gqlgen/graphql"
	gojson "github.com/goccy/go-json"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/enneo-facade/facade/upstream"
	"github.com/enneo-facade/facade/upstream/lru"
)

// responseCache keeps the data of whole responses to queries, so that a query repeated by a
// caller of the same scope is answered without parsing, executing or encoding it again. It is
// keyed by (credential scope, query text, operation name, variables, extensions), and an entry
// records every contract history it was built from: it is used only while all of them are still
// fresh and none was invalidated since. Responses with errors, from stale histories, or to
// mutations are not kept.
type responseCache struct {
	entries *lru.Map[[32]byte, *cachedResponse]
	changes ChangeTracker
}

type cachedResponse struct {
	data    []byte // the response's data member
	created time.Time
	expires time.Time    // when its first history stops being fresh
	deps    []historyDep // sorted by contract id
}

type historyDep struct {
	contractID string
	fetched    time.Time
}

func newResponseCache(o Options) *responseCache {
	if o.Changes == nil {
		return nil
	}
	size := o.ResponseCacheBytes
	if size <= 0 {
		size = 8 << 20
	}
	return &responseCache{entries: lru.New[[32]byte, *cachedResponse](size), changes: o.Changes}
}

type responseKeyCtx struct{}

// serve answers from the cache when it can, and otherwise lets next execute the operation with
// the key in its context, for store.
func (rc *responseCache) serve(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		contentType, ok := responseType(r.Header.Get("Accept"))
		l := loadersFrom(r.Context())
		if !ok || l == nil || l.cred.Err != nil {
			next.ServeHTTP(w, r)
			return
		}
		key, ok := requestKey(r, l.cred.Upstream.Scope)
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		now := time.Now()
		if e, ok := rc.entries.Get(key, now); ok && rc.valid(e) {
			body := e.response(now)
			h := w.Header()
			h.Set("Content-Type", contentType)
			h.Set("Content-Length", strconv.Itoa(len(body)))
			w.Write(body)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), responseKeyCtx{}, key)))
	})
}

func (rc *responseCache) valid(e *cachedResponse) bool {
	for _, d := range e.deps {
		if rc.changes.ChangedSince(d.contractID, e.created) {
			return false
		}
	}
	return true
}

// store keeps resp if the operation was a query that succeeded on fresh histories only.
func (rc *responseCache) store(ctx context.Context, resp *graphql.Response, l *loaders) {
	key, ok := ctx.Value(responseKeyCtx{}).([32]byte)
	if !ok || len(resp.Errors) > 0 || resp.Data == nil || !graphql.HasOperationContext(ctx) {
		return
	}
	if op := graphql.GetOperationContext(ctx).Operation; op == nil || op.Operation != ast.Query {
		return
	}
	now := time.Now()
	e := &cachedResponse{data: bytes.Clone(resp.Data), created: now, expires: now.Add(time.Hour)}
	l.mu.Lock()
	for id, u := range l.used {
		if u.cache == upstream.CacheStale || !now.Before(u.freshUntil) {
			l.mu.Unlock()
			return
		}
		if u.freshUntil.Before(e.expires) {
			e.expires = u.freshUntil
		}
		e.deps = append(e.deps, historyDep{contractID: id, fetched: u.fetched})
	}
	l.mu.Unlock()
	slices.SortFunc(e.deps, func(a, b historyDep) int { return strings.Compare(a.contractID, b.contractID) })
	rc.entries.Put(key, e, int64(len(e.data)+64*len(e.deps)+256), e.expires)
}

// response writes the cached data with provenance as of now: every history is a cache hit.
func (e *cachedResponse) response(now time.Time) []byte {
	b := make([]byte, 0, len(e.data)+40+48*len(e.deps))
	b = append(b, `{"data":`...)
	b = append(b, e.data...)
	if len(e.deps) > 0 {
		b = append(b, `,"extensions":{"histories":{`...)
		for i, d := range e.deps {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendQuote(b, d.contractID)
			b = append(b, `:{"cache":"hit","ageSeconds":`...)
			b = strconv.AppendInt(b, int64(now.Sub(d.fetched).Seconds()), 10)
			b = append(b, '}')
		}
		b = append(b, "}}"...)
	}
	return append(b, '}')
}

// responseType picks the response's content type from Accept as gqlgen's transports do; ok is
// false where they would answer otherwise, and the request then takes the full path.
func responseType(accept string) (contentType string, ok bool) {
	if accept == "" {
		return "application/json", true
	}
	for part := range strings.SplitSeq(accept, ",") {
		media, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch media {
		case "*/*", "application/*", "application/json":
			return "application/json", true
		case "application/graphql-response+json":
			return media, true
		}
	}
	return "", false
}

// requestKey reads the operation of a POST (JSON body, which stays readable for the full path)
// or a GET request and returns its cache key.
func requestKey(r *http.Request, scope string) (key [32]byte, ok bool) {
	var p struct {
		Query         string          `json:"query"`
		OperationName string          `json:"operationName"`
		Variables     json.RawMessage `json:"variables"`
		Extensions    json.RawMessage `json:"extensions"`
	}
	switch r.Method {
	case http.MethodPost:
		media, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if media != "application/json" {
			return key, false
		}
		body, err := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		if err != nil || gojson.Unmarshal(body, &p) != nil {
			return key, false
		}
	case http.MethodGet:
		q := r.URL.Query()
		p.Query, p.OperationName = q.Get("query"), q.Get("operationName")
		p.Variables, p.Extensions = json.RawMessage(q.Get("variables")), json.RawMessage(q.Get("extensions"))
	default:
		return key, false
	}
	h := sha256.New()
	for _, part := range [][]byte{[]byte(scope), []byte(p.Query), []byte(p.OperationName), compact(p.Variables), compact(p.Extensions)} {
		h.Write(strconv.AppendInt(nil, int64(len(part)), 10))
		h.Write([]byte{':'})
		h.Write(part)
	}
	h.Sum(key[:0])
	return key, true
}

// compact drops insignificant whitespace, so that equal variables give equal keys.
func compact(raw []byte) []byte {
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return raw
	}
	return b.Bytes()
}
