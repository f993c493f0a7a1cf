package graph

import (
	"net/http"

	"github.com/enneo-facade/facade/upstream"
)

// RequestInfo is what the GraphQL layer tells the access log of a request: what it was and
// where its histories came from. The access log's ResponseWriter carries one (InfoCarrier), and
// reads it once the request is answered.
type RequestInfo struct {
	Operation     string // as metrics name it (never a name the operator did not list)
	UpstreamCalls int    // calls it made to the upstream, failed ones too (retries count)
	// How many of its histories were cache hits, fetched, stale or revalidating; Response is
	// set when the whole answer came from the response cache.
	Hits, Misses, Stale, Revalidating int
	Response                          bool
}

// InfoCarrier is a ResponseWriter that collects what the GraphQL layer learns of its request.
// The GraphQL layer finds it through the writers that wrap it and Unwrap, as
// http.ResponseController does. (Not a context value: one costs a copy of the request and a
// context each, a fifth of the access log's own time on an answer from the response cache.)
type InfoCarrier interface {
	http.ResponseWriter
	RequestInfo() *RequestInfo
}

// requestInfoOf returns the RequestInfo w carries, or nil.
func requestInfoOf(w http.ResponseWriter) *RequestInfo {
	for {
		switch x := w.(type) {
		case InfoCarrier:
			return x.RequestInfo()
		case interface{ Unwrap() http.ResponseWriter }:
			w = x.Unwrap()
		default:
			return nil
		}
	}
}

// recordRequest fills in the request's info from what its operation used.
func recordRequest(name string, q *request) {
	info := q.info
	if info == nil {
		return
	}
	info.Operation = name
	info.UpstreamCalls = int(q.calls.Load())
	q.used.each(func(_ string, u historyUse) {
		switch u.cache {
		case upstream.CacheHit:
			info.Hits++
		case upstream.CacheMiss:
			info.Misses++
		case upstream.CacheStale:
			info.Stale++
		case upstream.CacheRevalidating:
			info.Revalidating++
		}
	})
}
