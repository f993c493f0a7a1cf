// Package httpapi is the facade's HTTP layer: the one list of routes (/graphql, the playground,
// the probes, /metrics, Enneo's webhook) and what wraps them all (the access log with request
// ids, tracing, CORS, the body limit). main builds it from the GraphQL handler and the parts it
// wired; nothing else imports it.
package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"net/url"
	"strings"
	"time"

	"github.com/rs/cors"

	"github.com/enneo-facade/facade/graph"
	"github.com/enneo-facade/facade/graph/playground"
	"github.com/enneo-facade/facade/graph/tracing"
)

// Options are the HTTP layer's settings.
type Options struct {
	// CORSOrigins may call /graphql from a browser ("*": any); none: no CORS headers at all.
	CORSOrigins []string
	// MaxRequestBytes bounds a request's body.
	MaxRequestBytes int64
	// Playground serves GraphiQL at /; off, / says how to turn it on.
	Playground bool
	// DemoToken, where set, pre-fills the playground's Authorization header (demo mode).
	DemoToken string
	// WebhookSecret is the bearer secret of POST /webhooks/enneo; empty turns the webhook off.
	WebhookSecret string
	// Metrics serves /metrics on this handler (false: it listens aside, METRICS_ADDR).
	Metrics bool
	// ShutdownTimeout is the time requests in flight get to finish on shutdown.
	ShutdownTimeout time.Duration
	// CompressMinBytes is the size from which answers are compressed for clients that accept
	// it (0: never).
	CompressMinBytes int
}

// Parts are what the routes serve, built by main.
type Parts struct {
	GraphQL     http.Handler         // /graphql: graph.NewHandler
	Auth        *graph.Authenticator // names the caller in the access log
	Invalidator graph.Invalidator    // what the webhook invalidates
	Upstream    Pinger               // what /readyz asks
	// Status reports each part's state in /readyz ("cache", "rateLimit"); Probes run with
	// its upstream check (see readiness).
	Status  map[string]func() string
	Probes  []func(context.Context)
	Metrics http.Handler
	Tracer  *tracing.Tracing // nil: tracing is off
	Log     *slog.Logger
	Lines   io.Writer // where the access log writes its lines (a jsonlog.Buffered)
}

// MetricsRoutes serves metrics at /metrics, on a listener of their own (METRICS_ADDR).
func MetricsRoutes(metrics http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metrics)
	return mux
}

// ProfileRoutes serves Go's profiles under /debug/pprof/, on a listener of their own
// (PPROF_ADDR), never on the public port.
func ProfileRoutes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	return mux
}

// Pinger is the upstream as /readyz sees it.
type Pinger interface {
	Ping(ctx context.Context) error
	BreakerState() string
}

// NewHandler returns the facade's routes, behind the access log (and tracing, where on).
func NewHandler(o Options, p Parts) http.Handler {
	api := withCORS(o.CORSOrigins, limitRequest(o.MaxRequestBytes, p.GraphQL))
	mux := http.NewServeMux()
	// Every method: the GraphQL layer answers those it refuses in its own words. (A pattern
	// without a method would conflict with the playground's "GET /".)
	for _, method := range []string{"GET", "POST", "OPTIONS", "HEAD", "PUT", "PATCH", "DELETE"} {
		mux.Handle(method+" /graphql", api)
	}
	if o.Playground {
		mux.Handle("GET /", playground.Handler(playgroundConfig(o.DemoToken)))
	} else {
		mux.Handle("GET /{$}", apiIndex())
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.Handle("GET /readyz", readiness(p.Upstream, p.Status, p.Probes))
	if o.Metrics {
		mux.Handle("GET /metrics", p.Metrics)
	}
	if o.WebhookSecret != "" {
		mux.Handle("POST /webhooks/enneo", enneoWebhook(o.WebhookSecret, p.Invalidator, p.Log))
	}
	h := accessLog(p.Log, p.Lines, p.Auth, p.Tracer != nil, compress(o.CompressMinBytes, mux))
	if p.Tracer != nil {
		h = p.Tracer.Handler(h) // outside the access log, which logs the trace id
	}
	return h
}

// withCORS lets browsers on origins call next: preflights are answered, Authorization and
// Content-Type may be sent, and answers vary by Origin. Credentials are only ever the
// Authorization header, never cookies, so none are allowed. Without origins, no CORS headers are
// sent at all, and browsers keep other origins out.
func withCORS(origins []string, next http.Handler) http.Handler {
	if len(origins) == 0 {
		return next
	}
	return cors.New(cors.Options{
		AllowedOrigins:   origins,
		AllowedMethods:   []string{http.MethodGet, http.MethodPost},
		AllowedHeaders:   []string{"Authorization", "Content-Type", "Accept"},
		ExposedHeaders:   []string{"Retry-After"},
		AllowCredentials: false,
		MaxAge:           600,
	}).Handler(next)
}

// limitRequest caps the request body (the operation's deadline is graph.Options.Timeout).
func limitRequest(maxBytes int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > maxBytes {
			writeJSON(w, http.StatusRequestEntityTooLarge, map[string]any{"errors": []map[string]any{{
				"message": fmt.Sprintf("request body larger than %d bytes", maxBytes), "extensions": map[string]string{"code": graph.CodeRequestTooLarge},
			}}})
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxBytes)
		next.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false) // "Bearer <WEBHOOK_SECRET>", not \u003c...
	enc.Encode(v)
}

// ParseOrigins reads CORS_ORIGINS (Options.CORSOrigins): "*", or origins such as
// https://desk.example.com separated by commas; unset, any origin where anyByDefault (demo
// mode) and none otherwise.
func ParseOrigins(s string, anyByDefault bool) ([]string, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "" && anyByDefault, s == "*":
		return []string{"*"}, nil
	case s == "":
		return nil, nil
	}
	var origins []string
	for o := range strings.SplitSeq(s, ",") {
		o = strings.TrimSpace(o)
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			return nil, fmt.Errorf("%q is not an origin such as https://desk.example.com", o)
		}
		origins = append(origins, u.Scheme+"://"+u.Host)
	}
	return origins, nil
}
