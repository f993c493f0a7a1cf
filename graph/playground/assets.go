package playground

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"
)

// assetFiles holds the scripts and styles that the page loads. VERSIONS,
// SHA256SUMS and LICENSES/ stay out of the binary: they are for people.
//
//go:embed assets/*.js assets/*.css
var assetFiles embed.FS

// asset is one embedded file, ready to serve.
type asset struct {
	contentType string
	body        []byte
	// version is a hash of body. The page links to name?v=version, so a
	// browser may cache that URL forever: an upgrade changes the URL.
	version string
	// gzipped compresses body on first use: the 1.5 MB of GraphiQL and
	// React go down to 0.6 MB, once per process, and many servers never
	// serve the playground at all.
	gzipped func() []byte
}

// assets maps a file name under AssetPrefix to its file.
var assets = loadAssets()

// contentTypes are set explicitly because mime.TypeByExtension reads the
// host's MIME tables, which differ between machines and container images.
var contentTypes = map[string]string{
	".js":  "text/javascript; charset=utf-8",
	".css": "text/css; charset=utf-8",
}

func loadAssets() map[string]*asset {
	entries, err := assetFiles.ReadDir("assets")
	if err != nil {
		panic(err) // the embedded directory is always there
	}
	m := make(map[string]*asset, len(entries))
	for _, e := range entries {
		body, err := assetFiles.ReadFile("assets/" + e.Name())
		if err != nil {
			panic(err)
		}
		sum := sha256.Sum256(body)
		m[e.Name()] = &asset{
			contentType: contentTypes[path.Ext(e.Name())],
			body:        body,
			version:     hex.EncodeToString(sum[:6]),
			gzipped:     sync.OnceValue(func() []byte { return gzipBytes(body) }),
		}
	}
	return m
}

func gzipBytes(b []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression) // the level is valid
	zw.Write(b)                                              // writes to a bytes.Buffer do not fail
	zw.Close()
	return buf.Bytes()
}

// assetURL returns the path of the named asset with its version, for the
// page template. It panics on an unknown name so that a typo in page.html
// fails every test rather than a visitor's page.
func assetURL(name string) string {
	a, ok := assets[name]
	if !ok {
		panic("playground: no asset " + name)
	}
	return AssetPrefix + name + "?v=" + a.version
}

// serveAsset serves one embedded file. A request for the current version may
// be cached for a year; any other request (no version, or that of an earlier
// build still cached in a page) gets the current file but must revalidate,
// so nobody is pinned to a stale file.
func serveAsset(w http.ResponseWriter, r *http.Request) {
	a, ok := assets[r.PathValue("name")]
	if !ok {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", a.contentType)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Add("Vary", "Accept-Encoding")
	if r.URL.Query().Get("v") == a.version {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	body, etag := a.body, a.version
	if acceptsGzip(r) {
		body, etag = a.gzipped(), a.version+"-gzip"
		h.Set("Content-Encoding", "gzip")
	}
	h.Set("ETag", `"`+etag+`"`)
	// ServeContent answers HEAD, If-None-Match and Range; the zero time
	// leaves Last-Modified out, as embedded files have no useful one.
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}

// acceptsGzip reports whether the client lists gzip in Accept-Encoding with a
// non-zero quality. Anything it cannot parse counts as no.
func acceptsGzip(r *http.Request) bool {
	for _, v := range r.Header.Values("Accept-Encoding") {
		for part := range strings.SplitSeq(v, ",") {
			coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
			if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
				continue
			}
			q := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
			return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
		}
	}
	return false
}
