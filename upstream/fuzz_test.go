package upstream

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/enneo-facade/facade/upstream/demo"
)

// FuzzDecodeHistory: whatever the upstream sends, decoding never panics; it either fails with
// ErrBadResponse or yields a history with a tickets array, and a projection fails exactly
// when decoding whole does.
func FuzzDecodeHistory(f *testing.F) {
	f.Add(demo.ExampleHistory())
	for _, name := range []string{"hazards.json", "undecodable.json"} {
		f.Add(mustRead(f, name))
	}
	for _, s := range []string{`{"tickets":[]}`, `{"tickets":null}`, `{"tickets":[{"id":1e400}]}`, `[]`, `{"tickets":[{"customer":{"contracts":[{"id":"1"}]}}]}`, `{"tickets":[{"createdAt":"0000-00-00 00:00:00","isSsoOnly":"1"}]}`} {
		f.Add([]byte(s))
	}
	c, err := New(Options{BaseURL: "http://127.0.0.1:1"})
	if err != nil {
		f.Fatal(err)
	}
	p, err := NewProjection(map[string][]string{"History": {"tickets"}, "Ticket": {"id", "subject", "customer"}, "Customer": {"contracts"}, "Contract": {"id"}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		h, err := c.DecodeHistory(body, "1", nil)
		if err == nil && h.Tickets == nil {
			t.Fatalf("%q decoded without a tickets array", body)
		}
		if _, perr := c.DecodeHistory(body, "1", p); (perr == nil) != (err == nil) {
			t.Fatalf("%q: decoding whole: %v, through a projection: %v", body, err, perr)
		}
	})
}

// FuzzValidID: an id the client accepts changes nothing in a URL path or a cache key.
func FuzzValidID(f *testing.F) {
	for _, s := range []string{"746839", "C-1001", "a_b", "", "../x", "a/b", "a.b", "%2e", "x y", "ä", strings.Repeat("1", 64), strings.Repeat("1", 65), "-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		if !ValidID(id) {
			return
		}
		if len(id) < 1 || len(id) > 64 || url.PathEscape(id) != id || strings.ContainsAny(id, "/.%?#\x00 ") || strings.HasPrefix(id, "-") {
			t.Fatalf("ValidID(%q) = true", id)
		}
	})
}

// FuzzRetryAfter: a Retry-After header of any form reads as a wait between none and a day.
func FuzzRetryAfter(f *testing.F) {
	for _, s := range []string{"", "0", "30", " 120 ", "-1", "99999999999999999999", "9223372036854775807", "Wed, 21 Oct 2015 07:28:00 GMT", time.Now().Add(time.Hour).UTC().Format(http1123), "soon"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		if d := retryAfter(v); d < 0 || d > maxRetryAfter {
			t.Fatalf("retryAfter(%q) = %v", v, d)
		}
	})
}

const http1123 = "Mon, 02 Jan 2006 15:04:05 GMT"
