package main

import (
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestAnswersAreCompressed: the whole service compresses large JSON and CSV answers for clients
// that accept gzip, and revalidates them by the encoded answer's ETag.
func TestAnswersAreCompressed(t *testing.T) {
	base, _ := startTestServer(t, nil)
	ids := make([]string, 100)
	for i := range ids {
		ids[i] = fmt.Sprintf(`"%d"`, 100001+i)
	}
	query := `{ contracts(ids: [` + strings.Join(ids, ",") + `]) { id history { tickets { id status channel subject createdAt } } } }`
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}} // sees the bytes sent
	get := func(values url.Values, header http.Header) (*http.Response, []byte, int) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, base+"/graphql?"+values.Encode(), nil)
		req.Header = header
		req.Header.Set("Authorization", "Bearer demo")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		body := raw
		if resp.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(strings.NewReader(string(raw)))
			if err != nil {
				t.Fatal(err)
			}
			if body, err = io.ReadAll(zr); err != nil {
				t.Fatal(err)
			}
		}
		return resp, body, len(raw)
	}
	for _, format := range []string{"json", "csv"} {
		values := url.Values{"query": {query}}
		if format == "csv" {
			values.Set("format", "csv")
		}
		plain, plainBody, _ := get(values, http.Header{})
		zipped, zippedBody, sent := get(values, http.Header{"Accept-Encoding": {"gzip"}})
		if plain.StatusCode != http.StatusOK || zipped.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d and %d, want 200", format, plain.StatusCode, zipped.StatusCode)
		}
		if plain.Header.Get("Content-Encoding") != "" || zipped.Header.Get("Content-Encoding") != "gzip" {
			t.Errorf("%s: Content-Encoding %q without Accept-Encoding and %q with gzip", format, plain.Header.Get("Content-Encoding"), zipped.Header.Get("Content-Encoding"))
		}
		if format == "csv" && string(zippedBody) != string(plainBody) {
			t.Errorf("csv: the gzipped table differs from the plain one")
		}
		if format == "json" && !strings.Contains(string(zippedBody), `"id":"100100"`) {
			t.Errorf("json: the gzipped answer lacks the last contract: %.200s", zippedBody)
		}
		if sent*4 > len(plainBody) {
			t.Errorf("%s: %d bytes gzipped of %d: not compressed", format, sent, len(plainBody))
		}
		t.Logf("%s: %d bytes, %d gzipped", format, len(plainBody), sent)

		tag, plainTag := zipped.Header.Get("ETag"), plain.Header.Get("ETag")
		if tag != strings.TrimSuffix(plainTag, `"`)+`-gzip"` {
			t.Errorf("%s: ETag %q gzipped, %q plain; want the plain one with -gzip", format, tag, plainTag)
		}
		for _, ae := range []string{"gzip", ""} {
			again, body, _ := get(values, http.Header{"Accept-Encoding": {ae}, "If-None-Match": {tag}})
			if again.StatusCode != http.StatusNotModified || len(body) != 0 || again.Header.Get("ETag") != tag {
				t.Errorf("%s with If-None-Match %s, Accept-Encoding %q: %d, ETag %q; want 304 naming it", format, tag, ae, again.StatusCode, again.Header.Get("ETag"))
			}
		}
	}
}
