package httpapi

import (
	"net/http"
	"strings"

	"github.com/klauspost/compress/gzhttp"
)

// Compression returns the wrapper that encodes answers of at least minBytes with gzip, or zstd
// for a client that accepts zstd and not gzip, and leaves smaller ones and clients that accept
// neither alone. gzip comes first where both are accepted: @whatwg-node/node-fetch 0.9 (under
// graphql-codegen's and GraphQL Mesh's URL loaders) asks for zstd on Node 20, whose zlib cannot
// decode it, and fails on the answer. A 100-contract ticket list is 394,658 bytes of JSON
// and 55,363 gzipped. @defer's multipart/mixed streams are compressed too, each part flushed
// through the encoder as it is written; event streams are not (compressible). An encoded answer's ETag gets the
// encoding's suffix (W/"…-gzip"), so that a cache never takes one encoding for another;
// If-None-Match is matched with or without it (see graph's conditional). NewHandler wraps every
// route in it, and the response cache runs it on the answers it keeps
// (graph.Options.Compress). minBytes 0: nil, nothing is compressed.
func Compression(minBytes int) func(http.Handler) http.Handler {
	if minBytes <= 0 {
		return nil
	}
	wrap, err := gzhttp.NewWrapper(gzhttp.MinSize(minBytes), gzhttp.PreferZstd(false), gzhttp.SuffixETag("-gzip"),
		gzhttp.ContentTypeFilter(compressible))
	if err != nil {
		panic(err) // only for invalid options, which these are not
	}
	return func(h http.Handler) http.Handler { return wrap(h) }
}

// compressible reports whether answers of content type ct are compressed: not what is
// compressed already (gzhttp's default filter), and not event streams. A subscription's stream
// stays open for hours with an event now and then, and a compressor's state for each (over 300
// KiB: bench/subs' 2,000 subscriptions took 730 MiB of RSS with gzip, 166 MiB without) would cost
// more memory than its few bytes of events save.
func compressible(ct string) bool {
	return !strings.HasPrefix(ct, "text/event-stream") && gzhttp.DefaultContentTypeFilter(ct)
}

func compress(minBytes int, next http.Handler) http.Handler {
	if wrap := Compression(minBytes); wrap != nil {
		return wrap(next)
	}
	return next
}
