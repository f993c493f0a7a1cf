// Package playground serves GraphiQL, the in-browser GraphQL IDE, for people
// who explore the facade's API.
//
// Everything the page needs (GraphiQL 3, React 18 and a small start-up script)
// is embedded in the binary and served by Handler, because the facade runs in
// networks where no CDN can be reached and because a page that loads scripts
// from third parties would hand them its visitors' tokens. The vendored files
// come from npm through update-assets.sh; assets/VERSIONS names them.
//
// The page is locked down with a Content-Security-Policy that admits scripts
// and styles from the facade only (plus one run-time <style> element of
// GraphiQL's, by a per-response nonce): no inline script, no eval. Configuration reaches the page as JSON data
// that html/template escapes, never as generated JavaScript, so a default
// query that contains "</script>" or quotes cannot break out of it.
package playground

import (
	"bytes"
	"crypto/rand"
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"
)

// AssetPrefix is the path under which Handler serves the playground's scripts
// and styles. The page itself lives at "/", so the server mounts Handler at
// "/" and routes its other paths (/graphql, /healthz, ...) to other handlers;
// a prefix of its own keeps the assets clear of those.
const AssetPrefix = "/playground/assets/"

// Config is what the page shows a visitor before they type anything.
type Config struct {
	// Title is the page's title; empty means "GraphQL playground".
	Title string
	// Endpoint is the GraphQL endpoint the page sends queries to, such as
	// "/graphql"; empty means "/graphql". An absolute http(s) URL on another
	// origin is allowed, and the page's Content-Security-Policy admits it.
	Endpoint string
	// DefaultQuery fills the query editor of a first visit; empty means
	// GraphiQL's own welcome text.
	DefaultQuery string
	// DefaultHeaders fill the headers editor, such as
	// {"Authorization": "Bearer demo-token"} in demo mode. The page never
	// stores headers in the browser, so a token typed by a visitor does not
	// outlive the tab.
	DefaultHeaders map[string]string
}

// pageConfig is the JSON document the start-up script (assets/playground.js)
// reads from the page. Its field names are that script's contract.
type pageConfig struct {
	Endpoint     string `json:"endpoint"`
	DefaultQuery string `json:"defaultQuery,omitempty"`
	// DefaultHeaders is a JSON text, not an object, because GraphiQL 3 takes
	// the headers editor's initial content as a string.
	DefaultHeaders string `json:"defaultHeaders,omitempty"`
	// StyleNonce is this response's Content-Security-Policy nonce for the
	// one <style> element that GraphiQL adds (see contentSecurityPolicy).
	StyleNonce string `json:"styleNonce"`
}

//go:embed page.html
var pageHTML string

var pageTemplate = template.Must(template.New("page.html").Funcs(template.FuncMap{
	"asset": assetURL,
}).Parse(pageHTML))

// Handler returns the playground: the page at exactly "/" and its assets
// under AssetPrefix, each for GET and HEAD. Every other path is 404, so the
// server can mount Handler at "/" as its fallback.
func Handler(cfg Config) http.Handler {
	if cfg.Title == "" {
		cfg.Title = "GraphQL playground"
	}
	if cfg.Endpoint == "" {
		cfg.Endpoint = "/graphql"
	}
	pc := pageConfig{Endpoint: cfg.Endpoint, DefaultQuery: cfg.DefaultQuery}
	if len(cfg.DefaultHeaders) > 0 {
		// MarshalIndent sorts the keys, so the editor shows them in a stable
		// order, one a line.
		h, err := json.MarshalIndent(cfg.DefaultHeaders, "", "  ")
		if err != nil {
			panic(fmt.Sprintf("playground: encode default headers: %v", err)) // a map[string]string always encodes
		}
		pc.DefaultHeaders = string(h)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /{$}", &pageHandler{title: cfg.Title, config: pc, connectSrc: connectSources(cfg.Endpoint)})
	mux.HandleFunc("GET "+AssetPrefix+"{name}", serveAsset)
	return mux
}

// pageHandler serves the page. It renders it for each request, because each
// response has a nonce of its own.
type pageHandler struct {
	title      string
	config     pageConfig
	connectSrc string
}

func (p *pageHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	nonce := rand.Text()
	cfg := p.config
	cfg.StyleNonce = nonce
	var page bytes.Buffer
	if err := pageTemplate.Execute(&page, struct {
		Title  string
		Config pageConfig
	}{p.title, cfg}); err != nil {
		// The template is fixed and its data are strings: only a broken
		// build gets here.
		http.Error(w, "render playground: "+err.Error(), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", contentSecurityPolicy(nonce, p.connectSrc))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	// The page names its assets by content hash, so it must never be served
	// stale after an upgrade; its nonce must not be reused; and in demo mode
	// it carries a token.
	h.Set("Cache-Control", "no-store")
	w.Write(page.Bytes())
}

// contentSecurityPolicy returns the policy of one response of the page.
//
// GraphiQL 3 runs without 'unsafe-eval' and without inline scripts, and its
// styles come from our files, with one exception: its dialogs (settings,
// keyboard shortcuts) lock scrolling with react-remove-scroll, which adds a
// <style> element at run time. That library stamps the element with the
// global __webpack_nonce__, so the page hands it this response's nonce
// (playground.js sets the global) and the policy admits styles with that
// nonce instead of 'unsafe-inline'. Fonts and the empty favicon are data:
// URLs. The browser tests fail on any violation.
func contentSecurityPolicy(nonce, connectSrc string) string {
	return strings.Join([]string{
		"default-src 'none'",
		"script-src 'self'",
		"style-src 'self' 'nonce-" + nonce + "'",
		"font-src 'self' data:",
		"img-src 'self' data:",
		"connect-src " + connectSrc,
		"base-uri 'none'",
		"form-action 'none'",
		"frame-ancestors 'none'",
	}, "; ")
}

// connectSources returns the sources that the page may send requests to:
// its own origin, and the endpoint's origin when that is another one.
func connectSources(endpoint string) string {
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "'self'"
	}
	return "'self' " + u.Scheme + "://" + u.Host
}
