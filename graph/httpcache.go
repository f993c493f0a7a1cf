package graph

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"
)

// Answers to GET are cacheable by the caller (a browser, a BI tool's HTTP cache): they stay
// fresh as long as the least fresh history they were built from, and carry an ETag, so that
// asking again with If-None-Match costs a 304 instead of the body. They are private: every
// answer is one caller's, by its token. Errors and mutations are no-store.

// notModified sets the caching headers of a successful GET answer resp, built from q's
// histories, and answers 304 when the request's If-None-Match holds its ETag.
func notModified(w http.ResponseWriter, r *http.Request, contentType string, resp *graphql.Response, q *request) bool {
	if len(resp.Errors) > 0 || resp.Data == nil || q == nil {
		return false // no-store, as get.Do set it
	}
	var until time.Time // stays zero without a cache: fresh for no time
	used := false
	q.used.each(func(_ string, u historyUse) {
		if !used || u.freshUntil.Before(until) {
			until, used = u.freshUntil, true
		}
	})
	if q.op.timed {
		used = false // what is overdue changes with the time it is asked at: revalidate
	}
	return conditional(w, r, q.cred.Upstream.Scope, contentType, resp.Data, used, until, time.Now())
}

// conditional sets Cache-Control, ETag and Vary for an answer of data, built from histories
// (used) that are fresh until until, and answers 304 when If-None-Match holds the ETag. An
// answer that holds for no time of its own (used false: it needs no history, or depends on
// the time it is asked at) is to be revalidated each time.
func conditional(w http.ResponseWriter, r *http.Request, scope, contentType string, data []byte, used bool, until, now time.Time) bool {
	h := w.Header()
	if used {
		secs := max(0, int64(until.Sub(now)/time.Second))
		h.Set("Cache-Control", "private, max-age="+strconv.FormatInt(secs, 10))
	} else {
		h.Set("Cache-Control", "private, no-cache") // ask again, cheaply
	}
	tag := etag(scope, contentType, data)
	h.Set("ETag", tag)
	h.Add("Vary", "Accept, Authorization")
	held, ok := matches(r.Header.Get("If-None-Match"), tag)
	if !ok {
		return false
	}
	h.Set("ETag", held) // the tag the client holds, of the encoding it holds
	h.Del("Content-Type")
	h.Del("Content-Length")
	w.WriteHeader(http.StatusNotModified)
	return true
}

// etag names an answer's data for one scope and media type. It is weak: the answer's
// extensions (the histories' ages) change from second to second while the data does not.
func etag(scope, contentType string, data []byte) string {
	d := sha256.New()
	d.Write([]byte(scope))
	d.Write([]byte{0})
	d.Write([]byte(contentType))
	d.Write([]byte{0})
	d.Write(data)
	var sum [32]byte
	return `W/"` + base64.RawURLEncoding.EncodeToString(d.Sum(sum[:0])[:18]) + `"`
}

// matches reports whether an If-None-Match header holds tag, compared weakly (RFC 9110 13.1.2),
// and returns the tag of what the client holds. The HTTP layer marks the tag of an encoded
// answer with its encoding (W/"…-gzip", W/"…-zstd"); a tag the client holds in any encoding
// matches, since the data is the same, and the 304 names that encoding's tag.
func matches(header, tag string) (string, bool) {
	if header == "" {
		return "", false
	}
	want := strings.TrimPrefix(tag, "W/")
	for part := range strings.SplitSeq(header, ",") {
		part = strings.TrimSpace(part)
		opaque := strings.TrimPrefix(part, "W/")
		switch {
		case part == "*", opaque == want:
			return tag, true
		}
		for _, suffix := range []string{"-gzip", "-zstd"} {
			if base, ok := strings.CutSuffix(opaque, suffix+`"`); ok && base+`"` == want {
				return strings.TrimSuffix(tag, `"`) + suffix + `"`, true
			}
		}
	}
	return "", false
}
