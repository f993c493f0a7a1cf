package graph

import (
	"context"

	"github.com/enneo-facade/facade/upstream"
)

// RequestInfo is what the GraphQL layer tells the access log of a request: what it was and
// where its histories came from. The access log makes one and reads it once the request is
// answered (see WithRequestInfo).
type RequestInfo struct {
	Operation     string // as metrics name it (never a name the operator did not list)
	UpstreamCalls int    // histories fetched from the upstream for it
	// How many of its histories were cache hits, fetched, stale or revalidating; Response is
	// set when the whole answer came from the response cache.
	Hits, Misses, Stale, Revalidating int
	Response                          bool
}

type requestInfoKey struct{}

// WithRequestInfo returns ctx with room for what the GraphQL layer learns of the request.
func WithRequestInfo(ctx context.Context) (context.Context, *RequestInfo) {
	info := &RequestInfo{}
	return context.WithValue(ctx, requestInfoKey{}, info), info
}

func requestInfoFrom(ctx context.Context) *RequestInfo {
	info, _ := ctx.Value(requestInfoKey{}).(*RequestInfo)
	return info
}

// recordRequest fills in the request's info from what its operation used.
func recordRequest(ctx context.Context, name string, l *loaders) {
	info := requestInfoFrom(ctx)
	if info == nil {
		return
	}
	info.Operation = name
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, u := range l.used {
		switch u.cache {
		case upstream.CacheHit:
			info.Hits++
		case upstream.CacheMiss:
			info.Misses++
			info.UpstreamCalls++
		case upstream.CacheStale:
			info.Stale++
		case upstream.CacheRevalidating:
			info.Revalidating++
		}
	}
}
