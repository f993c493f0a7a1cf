package graph

import (
	"bytes"
	"net/http"
	"time"
)

// encoding is a cached answer's rendering as the HTTP layer's compression made it for one
// Accept-Encoding, in one second (see cachedResponse.encode).
type encoding struct {
	second         int64
	acceptEncoding string
	etag           string // as the answer had it before compression
	contentCoding  string // "" when the answer went out as it is
	encodedETag    string
	body           []byte
}

// encode returns body, this second's rendering of e, as compress would send it to the client
// of r, and sets h's Content-Encoding and ETag to match. The rendering is the same for a whole
// second, so it is compressed once a second for each Accept-Encoding in turn: compressing a
// 37 KB answer costs more than everything else a response cache hit does. The HTTP layer's
// compression, which wraps this answer too, leaves it alone once it has a Content-Encoding.
func (e *cachedResponse) encode(r *http.Request, h http.Header, body []byte, now time.Time, compress func(http.Handler) http.Handler) []byte {
	ae, etag := r.Header.Get("Accept-Encoding"), h.Get("ETag")
	if ae == "" {
		return body
	}
	enc := e.encoded.Load()
	if enc == nil || enc.second != now.Unix() || enc.acceptEncoding != ae || enc.etag != etag {
		rec := &recorder{header: h.Clone()}
		compress(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Write(body)
		})).ServeHTTP(rec, r)
		enc = &encoding{second: now.Unix(), acceptEncoding: ae, etag: etag, body: body}
		if enc.contentCoding = rec.header.Get("Content-Encoding"); enc.contentCoding != "" {
			enc.body, enc.encodedETag = rec.body.Bytes(), rec.header.Get("ETag")
		}
		e.encoded.Store(enc)
	}
	if enc.contentCoding == "" {
		return body
	}
	h.Set("Content-Encoding", enc.contentCoding)
	if enc.encodedETag != "" {
		h.Set("ETag", enc.encodedETag)
	}
	return enc.body
}

// recorder keeps what a handler writes.
type recorder struct {
	header http.Header
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) Write(p []byte) (int, error) { return r.body.Write(p) }
func (r *recorder) WriteHeader(int)             {}
