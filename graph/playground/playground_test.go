package playground_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/enneo-facade/facade/graph/playground"
)

// hostileQuery is a default query that would end the config's <script>
// element, open a comment, or end a JavaScript string, if it were pasted
// into the page as text.
const hostileQuery = "{ a } </script><script>alert(\"x\")</script> <!-- ' \" \\ \u2028 & </SCRIPT >"

type pageConfig struct {
	Endpoint       string `json:"endpoint"`
	DefaultQuery   string `json:"defaultQuery"`
	DefaultHeaders string `json:"defaultHeaders"`
	StyleNonce     string `json:"styleNonce"`
}

var configElement = regexp.MustCompile(`(?s)<script type="application/json" id="playground-config">(.*?)</script>`)

// get sends one request to h and returns the recorded response.
func get(t *testing.T, h http.Handler, method, target string, header http.Header) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func mustBody(t *testing.T, resp *http.Response) []byte {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// mustPageConfig returns the JSON that the page hands to playground.js.
func mustPageConfig(t *testing.T, page []byte) pageConfig {
	t.Helper()
	m := configElement.FindSubmatch(page)
	if m == nil {
		t.Fatalf("no config element in the page:\n%s", page)
	}
	var c pageConfig
	if err := json.Unmarshal(m[1], &c); err != nil {
		t.Fatalf("config element %s: %v", m[1], err)
	}
	return c
}

func TestPageCarriesConfigSafely(t *testing.T) {
	h := playground.Handler(playground.Config{
		Title:          `<b>"Demo"</b> & co`,
		Endpoint:       `/graphql?x="</script>`,
		DefaultQuery:   hostileQuery,
		DefaultHeaders: map[string]string{"Authorization": `Bearer "x" </script>`, "X-Other": "1"},
	})
	resp := get(t, h, "GET", "/", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET / = %d, want 200", resp.StatusCode)
	}
	if got := resp.Header.Get("Content-Type"); got != "text/html; charset=utf-8" {
		t.Errorf("Content-Type = %q, want text/html; charset=utf-8", got)
	}
	page := mustBody(t, resp)

	c := mustPageConfig(t, page)
	if c.Endpoint != `/graphql?x="</script>` {
		t.Errorf("endpoint = %q, want it unchanged", c.Endpoint)
	}
	if c.DefaultQuery != hostileQuery {
		t.Errorf("defaultQuery = %q, want %q", c.DefaultQuery, hostileQuery)
	}
	var headers map[string]string
	if err := json.Unmarshal([]byte(c.DefaultHeaders), &headers); err != nil {
		t.Fatalf("defaultHeaders %q is not a JSON object: %v", c.DefaultHeaders, err)
	}
	if headers["Authorization"] != `Bearer "x" </script>` || headers["X-Other"] != "1" || len(headers) != 2 {
		t.Errorf("defaultHeaders = %v, want the configured two", headers)
	}

	// Only the page's own six script elements end; nothing from the config
	// opens or closes markup.
	lower := strings.ToLower(string(page))
	if n := strings.Count(lower, "</script"); n != 6 {
		t.Errorf("page has %d </script, want 6 (its own elements):\n%s", n, page)
	}
	for _, s := range []string{"<script>alert", "<!--", "<b>"} {
		if strings.Contains(lower, s) {
			t.Errorf("page contains %q unescaped:\n%s", s, page)
		}
	}
	if !strings.Contains(string(page), "<title>&lt;b&gt;&#34;Demo&#34;&lt;/b&gt; &amp; co</title>") {
		t.Errorf("page title is not HTML-escaped:\n%s", page)
	}
}

func TestPageDefaults(t *testing.T) {
	page := mustBody(t, get(t, playground.Handler(playground.Config{}), "GET", "/", nil))
	c := mustPageConfig(t, page)
	if c.Endpoint != "/graphql" || c.DefaultQuery != "" || c.DefaultHeaders != "" {
		t.Errorf("config = %+v, want endpoint /graphql and nothing else", c)
	}
	if !strings.Contains(string(page), "<title>GraphQL playground</title>") {
		t.Errorf("page has no default title:\n%s", page)
	}
}

func TestPageSecurityHeaders(t *testing.T) {
	h := playground.Handler(playground.Config{DefaultQuery: "{ hello }"})
	first := get(t, h, "GET", "/", nil)
	second := get(t, h, "GET", "/", nil)

	for name, want := range map[string]string{
		"X-Content-Type-Options": "nosniff",
		"Referrer-Policy":        "no-referrer",
		"Cache-Control":          "no-store",
	} {
		if got := first.Header.Get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}

	csp := first.Header.Get("Content-Security-Policy")
	directives := map[string]string{}
	for d := range strings.SplitSeq(csp, ";") {
		name, value, _ := strings.Cut(strings.TrimSpace(d), " ")
		directives[name] = value
	}
	nonce := mustPageConfig(t, mustBody(t, first)).StyleNonce
	for name, want := range map[string]string{
		"default-src":     "'none'",
		"script-src":      "'self'",
		"style-src":       "'self' 'nonce-" + nonce + "'",
		"connect-src":     "'self'",
		"font-src":        "'self' data:",
		"img-src":         "'self' data:",
		"base-uri":        "'none'",
		"form-action":     "'none'",
		"frame-ancestors": "'none'",
	} {
		if got := directives[name]; got != want {
			t.Errorf("Content-Security-Policy %s = %q, want %q (policy %q)", name, got, want, csp)
		}
	}
	if strings.Contains(csp, "unsafe") {
		t.Errorf("Content-Security-Policy = %q, want no 'unsafe-...' source", csp)
	}
	if len(nonce) < 16 {
		t.Errorf("style nonce = %q, want at least 16 characters", nonce)
	}
	if again := mustPageConfig(t, mustBody(t, second)).StyleNonce; again == nonce {
		t.Errorf("two responses share the nonce %q, want one each", nonce)
	}
}

func TestPageConnectSrc(t *testing.T) {
	for _, tt := range []struct {
		endpoint string
		want     string
	}{
		{"/graphql", "connect-src 'self';"},
		{"https://api.example.com/graphql", "connect-src 'self' https://api.example.com;"},
		{"http://localhost:8080/graphql", "connect-src 'self' http://localhost:8080;"},
		{"javascript:alert(1)", "connect-src 'self';"},
	} {
		resp := get(t, playground.Handler(playground.Config{Endpoint: tt.endpoint}), "GET", "/", nil)
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, tt.want) {
			t.Errorf("endpoint %q: Content-Security-Policy = %q, want %q", tt.endpoint, csp, tt.want)
		}
	}
}

var assetLink = regexp.MustCompile(`(?:src|href)="(/playground/assets/([^"?]+)\?v=([0-9a-f]+))"`)

func TestAssetsServedWithTypesAndCaching(t *testing.T) {
	h := playground.Handler(playground.Config{})
	page := mustBody(t, get(t, h, "GET", "/", nil))
	links := assetLink.FindAllStringSubmatch(string(page), -1)
	wantTypes := map[string]string{
		"graphiql.min.css":                "text/css; charset=utf-8",
		"playground.css":                  "text/css; charset=utf-8",
		"react.production.min.js":         "text/javascript; charset=utf-8",
		"react-dom.production.min.js":     "text/javascript; charset=utf-8",
		"graphiql.min.js":                 "text/javascript; charset=utf-8",
		"playground.js":                   "text/javascript; charset=utf-8",
		"graphiql-plugin-explorer.css":    "text/css; charset=utf-8",
		"graphiql-plugin-explorer.umd.js": "text/javascript; charset=utf-8",
	}
	if len(links) != len(wantTypes) {
		t.Fatalf("page links %d assets, want %d:\n%s", len(links), len(wantTypes), page)
	}
	for _, l := range links {
		link, name, version := l[1], l[2], l[3]
		if !strings.HasPrefix(link, playground.AssetPrefix) {
			t.Errorf("asset link %q is not under AssetPrefix %q", link, playground.AssetPrefix)
		}
		onDisk, err := os.ReadFile("assets/" + name)
		if err != nil {
			t.Fatal(err)
		}

		resp := get(t, h, "GET", link, nil)
		body := mustBody(t, resp)
		if resp.StatusCode != http.StatusOK || !bytes.Equal(body, onDisk) {
			t.Errorf("GET %s = %d with %d bytes, want 200 with assets/%s (%d bytes)", link, resp.StatusCode, len(body), name, len(onDisk))
		}
		for header, want := range map[string]string{
			"Content-Type":           wantTypes[name],
			"Cache-Control":          "public, max-age=31536000, immutable",
			"X-Content-Type-Options": "nosniff",
			"ETag":                   `"` + version + `"`,
		} {
			if got := resp.Header.Get(header); got != want {
				t.Errorf("GET %s: %s = %q, want %q", link, header, got, want)
			}
		}

		// The version is a content hash, so a changed file gets a new URL.
		sum := sha256.Sum256(onDisk)
		if !strings.HasPrefix(hex.EncodeToString(sum[:]), version) {
			t.Errorf("%s: version %s is not a prefix of its SHA-256", name, version)
		}

		// A URL without the current version is still served, but only
		// with revalidation, so an old page never pins a new file forever.
		for _, stale := range []string{playground.AssetPrefix + name, playground.AssetPrefix + name + "?v=0123456789ab"} {
			if got := get(t, h, "GET", stale, nil).Header.Get("Cache-Control"); got != "no-cache" {
				t.Errorf("GET %s: Cache-Control = %q, want no-cache", stale, got)
			}
		}

		if got := get(t, h, "GET", link, http.Header{"If-None-Match": {`"` + version + `"`}}).StatusCode; got != http.StatusNotModified {
			t.Errorf("GET %s with its ETag = %d, want 304", link, got)
		}
		head := get(t, h, "HEAD", link, nil)
		if b := mustBody(t, head); head.StatusCode != http.StatusOK || len(b) != 0 || head.Header.Get("Content-Type") != wantTypes[name] {
			t.Errorf("HEAD %s = %d, %d bytes, %q; want 200, no body, %q", link, head.StatusCode, len(b), head.Header.Get("Content-Type"), wantTypes[name])
		}

		gz := get(t, h, "GET", link, http.Header{"Accept-Encoding": {"br, gzip"}})
		if gz.Header.Get("Content-Encoding") != "gzip" || !strings.Contains(gz.Header.Get("Vary"), "Accept-Encoding") {
			t.Errorf("GET %s accepting gzip: Content-Encoding %q, Vary %q; want gzip, Accept-Encoding", link, gz.Header.Get("Content-Encoding"), gz.Header.Get("Vary"))
			continue
		}
		zr, err := gzip.NewReader(gz.Body)
		if err != nil {
			t.Fatalf("GET %s: %v", link, err)
		}
		if plain, err := io.ReadAll(zr); err != nil || !bytes.Equal(plain, onDisk) {
			t.Errorf("GET %s gzipped: %d bytes, %v; want assets/%s", link, len(plain), err, name)
		}
	}
}

func TestAssetGzipNegotiation(t *testing.T) {
	h := playground.Handler(playground.Config{})
	for _, tt := range []struct {
		accept string
		gzip   bool
	}{
		{"", false},
		{"gzip", true},
		{"deflate, gzip;q=0.5", true},
		{"GZIP", true},
		{"gzip;q=0", false},
		{"gzip; q=0.0", false},
		{"br", false},
		{"x-gzip", false},
	} {
		header := http.Header{}
		if tt.accept != "" {
			header.Set("Accept-Encoding", tt.accept)
		}
		resp := get(t, h, "GET", playground.AssetPrefix+"playground.js", header)
		if got := resp.Header.Get("Content-Encoding") == "gzip"; got != tt.gzip {
			t.Errorf("Accept-Encoding %q: gzipped = %v, want %v", tt.accept, got, tt.gzip)
		}
	}
}

func TestUnknownPaths(t *testing.T) {
	h := playground.Handler(playground.Config{})
	for _, tt := range []struct {
		method, path string
		want         int
	}{
		{"GET", "/", http.StatusOK},
		{"HEAD", "/", http.StatusOK},
		{"POST", "/", http.StatusMethodNotAllowed},
		{"GET", "/index.html", http.StatusNotFound},
		{"GET", "/graphql", http.StatusNotFound},
		{"GET", "/favicon.ico", http.StatusNotFound},
		{"GET", "/playground", http.StatusNotFound},
		{"GET", "/playground/assets/", http.StatusNotFound},
		{"GET", "/playground/assets/nope.js", http.StatusNotFound},
		{"GET", "/playground/assets/VERSIONS", http.StatusNotFound},
		{"GET", "/playground/assets/SHA256SUMS", http.StatusNotFound},
		{"GET", "/playground/assets/LICENSES/react.LICENSE", http.StatusNotFound},
		{"GET", "/playground/assets/playground.js/x", http.StatusNotFound},
		{"POST", "/playground/assets/playground.js", http.StatusMethodNotAllowed},
	} {
		if got := get(t, h, tt.method, tt.path, nil).StatusCode; got != tt.want {
			t.Errorf("%s %s = %d, want %d", tt.method, tt.path, got, tt.want)
		}
	}
}

// TestVendoredFilesUnchanged keeps the vendored files byte for byte what
// update-assets.sh took from npm: a hand edit would be lost at the next
// upgrade, and a reviewer compares SHA256SUMS with the npm tarballs.
func TestVendoredFilesUnchanged(t *testing.T) {
	f, err := os.Open("assets/SHA256SUMS")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	for sc := bufio.NewScanner(f); sc.Scan(); n++ {
		want, name, ok := strings.Cut(sc.Text(), "  ")
		if !ok {
			t.Fatalf("SHA256SUMS line %q is not `sum  name`", sc.Text())
		}
		b, err := os.ReadFile("assets/" + name)
		if err != nil {
			t.Fatal(err)
		}
		if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != want {
			t.Errorf("assets/%s has SHA-256 %x, want %s from SHA256SUMS: run update-assets.sh", name, sum, want)
		}
	}
	if n != 6 {
		t.Errorf("SHA256SUMS lists %d files, want 6 (GraphiQL's js and css, React, ReactDOM, the Explorer's js and css)", n)
	}
}
