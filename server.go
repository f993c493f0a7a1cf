// Command facade serves a GraphQL API over Enneo's contract ticket history REST endpoint: field
// selection, many contracts per request, batched upstream calls and typed, lossless data.
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"sync"
	"syscall"
	"time"

	gqlgraphql "github.com/99designs/gqlgen/graphql"

	"github.com/enneo-facade/facade/graph"
	"github.com/enneo-facade/facade/graph/admission"
	"github.com/enneo-facade/facade/graph/audit"
	"github.com/enneo-facade/facade/graph/httpapi"
	"github.com/enneo-facade/facade/graph/jsonlog"
	"github.com/enneo-facade/facade/graph/live"
	"github.com/enneo-facade/facade/graph/metrics"
	"github.com/enneo-facade/facade/graph/persisted"
	"github.com/enneo-facade/facade/graph/ratelimit"
	"github.com/enneo-facade/facade/graph/tracing"
	"github.com/enneo-facade/facade/upstream"
	"github.com/enneo-facade/facade/upstream/cache"
	"github.com/enneo-facade/facade/upstream/demo"
	"github.com/enneo-facade/facade/upstream/envflag"
	"github.com/enneo-facade/facade/upstream/redisstore"
)

//go:generate go tool gqlgen generate

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg, err := loadConfig(os.Args[1:], os.Getenv, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err == nil {
		// Settings of the whole process are made here, not in serve, so that the tests that
		// call run do not retune the test binary.
		tuneProcess(cfg, os.Getenv)
		err = serve(ctx, cfg, os.Stdout, os.Stderr)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "facade:", err)
		os.Exit(1)
	}
}

// config is every setting: the process's own and each part's options, which loadConfig fills in
// place, each from an environment variable or the flag of the same name.
type config struct {
	Port        int
	LogLevel    slog.Level
	MetricsAddr string // a listener of its own for /metrics; "": the public port's
	PprofAddr   string // a listener for Go's profiles; "": none
	// Tracing is on when the standard OTEL_EXPORTER_OTLP_ENDPOINT (or its traces variant) is
	// set, and the SDK is not disabled; TraceContractIDs puts contract ids in spans.
	Tracing, TraceContractIDs bool

	Upstream         upstream.Options   // BaseURL "": the built-in demo upstream
	Cache            cache.Options      // TTL 0: nothing is cached
	CacheMemoryBytes int64              // the in-process store's bound, without Redis
	Redis            redisstore.Options // URL "": no Redis
	GraphQL          graph.Options
	// ScopeSecret keys credential scopes ("": random per process); with a service token,
	// callers must present one of APIKeys, unless OpenAccess.
	ScopeSecret string
	APIKeys     graph.APIKeys
	OpenAccess  bool
	RateLimit   ratelimit.Limit // zero: off
	Admission   admission.Options
	Live        live.Options
	HTTP        httpapi.Options
}

// loadConfig fills config from flags, then the environment, then the defaults: each part
// declares its own variables (Flags), main those of the process and what joins the parts. A bad
// value fails with an error that names its variable and repeats the value (but for secrets).
func loadConfig(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	var c config
	s := envflag.New("facade", getenv, stderr)
	demo := func() bool { return c.Upstream.BaseURL == "" } // known once every value is in
	c.Upstream.Flags(s)
	c.Cache.Flags(s)
	c.Redis.Flags(s)
	c.GraphQL.Flags(s, demo)
	c.HTTP.Flags(s, demo)
	c.RateLimit.Flags(s)
	c.Admission.Flags(s, func() int64 { return c.GraphQL.Limits.Cost })
	c.Live.Flags(s)
	var level, keysFile string
	envflag.Number(s, &c.Port, "PORT", 8080, "HTTP listen port", func(env string, p int) error {
		if p < 0 || p > 65535 {
			return fmt.Errorf("%s=%d: must be 0 to 65535", env, p)
		}
		return nil
	})
	s.String(&level, "LOG_LEVEL", "info", "least severe level logged: debug, info, warn or error")
	s.String(&c.MetricsAddr, "METRICS_ADDR", "", "address of a separate listener for /metrics, e.g. 127.0.0.1:9090; unset: /metrics on the public port")
	s.String(&c.PprofAddr, "PPROF_ADDR", "", "address of a separate listener for Go's /debug/pprof profiles, e.g. 127.0.0.1:6060; unset: off")
	s.Bool(&c.TraceContractIDs, "TRACE_CONTRACT_IDS", "true: spans name the contracts a batch loads and the upstream paths; unset: they do not", never)
	envflag.Number(s, &c.CacheMemoryBytes, "CACHE_MEMORY_BYTES", 64<<20, "bound of the in-process cache when REDIS_URL is unset", envflag.Positive)
	s.Secret(&c.ScopeSecret, "CACHE_KEY_SECRET", "secret keying credential scopes (HMAC of tokens); unset: random per process")
	s.String(&keysFile, "API_KEYS_FILE", "", "with UPSTREAM_TOKEN: file of the named API keys callers must present (name and SHA-256 of the key per line)")
	s.Bool(&c.OpenAccess, "OPEN_ACCESS", "true: with UPSTREAM_TOKEN, serve callers without API keys (something in front authenticates them)", never)
	s.Then(func() error {
		if err := c.LogLevel.UnmarshalText([]byte(level)); err != nil {
			return fmt.Errorf("LOG_LEVEL=%q: must be debug, info, warn or error", level)
		}
		return nil
	})
	s.Then(func() error {
		if rl, most := c.RateLimit, c.GraphQL.Limits.Cost; rl.Burst > 0 && rl.Burst < most {
			return fmt.Errorf("RATE_LIMIT_BURST: %d is below MAX_COST (%d), so some admitted operations could never run", rl.Burst, most)
		}
		return nil
	})
	s.Then(func() (err error) { // who may call with a service token
		switch token := c.Upstream.ServiceToken; {
		case keysFile != "" && token == "":
			return errors.New("API_KEYS_FILE: only with UPSTREAM_TOKEN; without it each caller sends its own Enneo token")
		case keysFile != "" && c.OpenAccess:
			return errors.New("API_KEYS_FILE and OPEN_ACCESS=true: choose one")
		case keysFile != "":
			if c.APIKeys, err = graph.ReadAPIKeys(keysFile, c.GraphQL.AdminToken); err != nil {
				return fmt.Errorf("API_KEYS_FILE: %w", err)
			}
		case token != "" && !c.OpenAccess:
			return errors.New("UPSTREAM_TOKEN: every caller would read with the service token's rights; " +
				"set API_KEYS_FILE to the keys callers must present, or OPEN_ACCESS=true if something in front of the facade authenticates them")
		}
		return nil
	})
	if err := s.Parse(args); err != nil {
		return c, err
	}
	c.GraphQL.Zone = c.Upstream.Zone // the one zone of the upstream's timestamps, as read and as asked in
	c.HTTP.Metrics = c.MetricsAddr == ""
	c.Tracing = (getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != "") &&
		getenv("OTEL_SDK_DISABLED") != "true" && getenv("OTEL_TRACES_EXPORTER") != "none"
	return c, nil
}

func never() bool { return false }

// run is main for the tests: it loads the configuration from args and getenv and serves,
// without tuning the process.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := loadConfig(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	return serve(ctx, cfg, stdout, stderr)
}

// serve builds every part of cfg, serves until ctx ends, then shuts down gracefully, letting
// in-flight requests finish.
func serve(ctx context.Context, cfg config, stdout, stderr io.Writer) error {
	logs := jsonlog.New(stderr)
	defer logs.Close()
	// Every goroutine run starts ends before it returns (the deferred stops below run first).
	var bg sync.WaitGroup
	defer bg.Wait()
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: cfg.LogLevel}))
	log.Debug("memory", "soft_limit_mib", debug.SetMemoryLimit(-1)>>20)

	demoMode := cfg.Upstream.BaseURL == ""
	if demoMode {
		cfg.HTTP.DemoToken = "demo-token" // the demo upstream takes any
		// On a loopback port, so that demo mode exercises the same real HTTP client as
		// production.
		addr, stopDemo, err := httpapi.ServeAside(&bg, "127.0.0.1:0", demo.NewHandler())
		if err != nil {
			return fmt.Errorf("demo upstream: %w", err)
		}
		defer stopDemo()
		cfg.Upstream.BaseURL = "http://" + addr
		log.Info("no UPSTREAM_URL: serving the built-in demo upstream", "url", cfg.Upstream.BaseURL)
	}
	metrics := metrics.New()
	var tracer *tracing.Tracing
	if cfg.Tracing {
		t, stop, err := tracing.NewOTLP(ctx, cfg.TraceContractIDs, log)
		if err != nil {
			return fmt.Errorf("OTEL_EXPORTER_OTLP_ENDPOINT: %w", err)
		}
		tracer = t
		defer stop()
		log.Info("tracing: spans exported over OTLP")
	}
	cfg.Upstream.Logger, cfg.Upstream.Observer, cfg.Upstream.WrapTransport = log, metrics, tracer.WrapTransport()
	client, err := upstream.New(cfg.Upstream)
	if err != nil {
		return fmt.Errorf("UPSTREAM_URL: %w", err)
	}
	secret := []byte(cfg.ScopeSecret)
	if len(secret) == 0 {
		secret = []byte(rand.Text())
		log.Warn("CACHE_KEY_SECRET is unset: credential scopes use a random per-process secret, so replicas will not share cache entries")
	}

	// One Redis client (and pool) serves the cache, the rate limiter and persisted queries.
	var redisStore *redisstore.Store
	if cfg.Redis.URL != "" {
		cfg.Redis.Logger, cfg.Redis.Observer = log, metrics
		redisStore, err = redisstore.New(cfg.Redis)
		if err != nil {
			return fmt.Errorf("REDIS_URL: %w", err)
		}
		defer redisStore.Close()
		// Replicas start while Redis is down (they serve from the upstream meanwhile), but
		// nobody should learn it from the first slow query: /readyz says degraded at once.
		if err := redisStore.Ping(ctx); err != nil {
			log.Warn("REDIS_URL: Redis does not answer; serving from the upstream without the shared cache until it does",
				"addr", envflag.Redact(cfg.Redis.URL), "err", err)
		}
	}
	var (
		histories *cache.Cache
		hub       *live.Hub // subscriptions: changes are read through the cache, if any
	)
	cfg.Live.Logger = log
	if cfg.Cache.TTL > 0 {
		var store cache.Store = cache.NewMemoryStore(cfg.CacheMemoryBytes)
		if redisStore != nil {
			store = redisStore
		}
		cfg.Cache.Logger, cfg.Cache.Observer = log, metrics
		cfg.Cache.Changed, cfg.Cache.Hearing = func(id string) { hub.Changed(id) }, func(ok bool) { hub.Hearing(ok) }
		histories, err = cache.New(client, store, cfg.Cache)
		if err != nil {
			return fmt.Errorf("cache: %w", err)
		}
		hub = live.New(histories, cfg.Live) // before anything can be invalidated
		defer histories.Close()             // before the store closes
		watchCtx, stopWatch := context.WithCancel(context.Background())
		defer stopWatch()
		bg.Go(func() { histories.Watch(watchCtx) })
		bg.Go(func() { hub.Poll(watchCtx, client, histories.Invalidate) })
	} else {
		hub = live.New(client, cfg.Live)
		pollCtx, stopPoll := context.WithCancel(context.Background())
		defer stopPoll()
		bg.Go(func() { hub.Poll(pollCtx, client, noCache{hub}.Invalidate) })
	}

	if redisStore != nil {
		metrics.RedisPool(redisStore.Client())
		if err := tracer.InstrumentRedis(redisStore.Client()); err != nil {
			return fmt.Errorf("redis tracing: %w", err)
		}
	}
	for _, aside := range []struct {
		env, addr string
		routes    http.Handler
	}{{"METRICS_ADDR", cfg.MetricsAddr, httpapi.MetricsRoutes(metrics.Handler())}, {"PPROF_ADDR", cfg.PprofAddr, httpapi.ProfileRoutes()}} {
		if aside.addr == "" {
			continue
		}
		addr, stop, err := httpapi.ServeAside(&bg, aside.addr, aside.routes)
		if err != nil {
			return fmt.Errorf("%s: %w", aside.env, err)
		}
		defer stop()
		log.Info("listening aside", "env", aside.env, "addr", addr)
	}

	if cfg.GraphQL.AuditLog != "" {
		if cfg.GraphQL.Audit, err = audit.Open(cfg.GraphQL.AuditLog, logs); err != nil {
			return fmt.Errorf("AUDIT_LOG: %w", err)
		}
		defer cfg.GraphQL.Audit.Close() // after the last request
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("", strconv.Itoa(cfg.Port)))
	if err != nil {
		return err
	}
	h := newHandler(cfg, parts{
		client: client, cache: histories, live: hub, stopping: ctx.Done(), auth: graph.NewAuthenticator(cfg.Upstream.ServiceToken, secret).RequireKeys(cfg.APIKeys).PersonalData(cfg.GraphQL.PersonalData),
		limiter: newRateLimiter(cfg, redisStore, log), redis: redisStore, metrics: metrics, tracer: tracer, logs: logs,
	}, log)
	fmt.Fprintf(stdout, "listening on http://%s\n", ln.Addr())
	fmt.Fprint(stdout, httpapi.StartupGuide(cfg.HTTP, ln.Addr().(*net.TCPAddr).Port, cfg.GraphQL.Introspection, cfg.GraphQL.Manifest.Len()))
	return httpapi.Serve(ctx, cfg.HTTP, ln, h, cfg.GraphQL.Timeout+5*time.Second, log)
}

// tuneProcess sets what holds for the whole process: the garbage collector, and go-redis's
// process-wide logger.
//
// The soft memory limit is what the caches may hold, plus room for the garbage their churn
// leaves (twice the decoded layers: hot histories and whole responses) and for the work in
// flight (64 MiB: one operation at the run-time bounds used 45 MiB); collections run only every
// eight times the live heap below it (GOGC=800: with 100 a small live heap was collected ten
// times a second under load, and requests that met a collection made the tail; against 400,
// executed answers gained 4% (q2 with the response cache off, 627 to 651 req/s) and 10% (q2
// with caching off, 466 to 514), answers from the response cache 0.7%, in bench/compare's 5
// interleaved rounds; the limit still bounds the heap, so memory does not grow). Measured with
// Redis, warm q2 over 100 contracts served 14,500-14,700 req/s under the old 48 MiB limit
// (caches plus 24 MiB), 21,400-25,000 under 64-80 MiB and 25,400-25,500 under 112 MiB. The
// defaults give 208 MiB with Redis: the hot layer holds 64 MiB since a BI question over 100
// contracts needs about 20 MiB of it (bench/STATS.md: 16 MiB held 83 of the 100 demo histories,
// and the question took 34 ms instead of 14). GOMEMLIMIT and GOGC, where set, rule instead.
func tuneProcess(cfg config, getenv func(string) string) {
	if getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(softMemoryLimit(cfg))
		if getenv("GOGC") == "" {
			debug.SetGCPercent(800)
		}
	}
	redisstore.QuietGlobalLogs(slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel})))
}

// softMemoryLimit is the soft memory limit tuneProcess sets where GOMEMLIMIT is unset; the
// containers in deploy/ are sized above it.
func softMemoryLimit(cfg config) int64 {
	limit := int64(64 << 20) // without caches: the work in flight
	if cfg.Cache.TTL > 0 {
		limit += 2 * (cfg.Cache.HotBytes + cfg.GraphQL.ResponseCacheBytes)
		if cfg.Redis.URL == "" {
			limit += cfg.CacheMemoryBytes
		}
	}
	return limit
}

// newRateLimiter returns the rate limiter RATE_LIMIT_BURST and RATE_LIMIT_PER_SECOND ask for:
// its buckets in Redis when there is one, shared by every replica, else in process; nil when
// rate limiting is off.
func newRateLimiter(cfg config, redisStore *redisstore.Store, log *slog.Logger) *ratelimit.Limiter {
	if cfg.RateLimit == (ratelimit.Limit{}) {
		return nil
	}
	if redisStore == nil {
		return ratelimit.NewMemory(cfg.RateLimit, maxRateBuckets)
	}
	return ratelimit.NewRedis(redisStore.Client(), cfg.Redis.Prefix, cfg.RateLimit, maxRateBuckets, log)
}

// maxRateBuckets bounds the buckets kept in process (a few hundred bytes each): a caller whose
// bucket is forgotten starts again with a full one.
const maxRateBuckets = 10_000

// parts are what run builds for the routes.
type parts struct {
	client *upstream.Client
	cache  *cache.Cache // nil: caching is off
	live   *live.Hub
	// stopping is closed when shutdown begins: subscriptions' streams end then.
	stopping <-chan struct{}
	auth     *graph.Authenticator
	limiter  *ratelimit.Limiter // nil: no rate limit
	redis    *redisstore.Store  // nil: no REDIS_URL
	metrics  *metrics.Metrics
	tracer   *tracing.Tracing // nil: tracing is off
	logs     io.Writer        // where the access log writes its lines
}

// newHandler wires the GraphQL handler over the parts, and the HTTP layer's routes around it.
func newHandler(cfg config, p parts, log *slog.Logger) http.Handler {
	var (
		fetch       graph.HistoryFetcher = p.client
		invalidator graph.Invalidator    = noCache{p.live}
		changes     graph.ChangeTracker  // nil: no response cache
		status      = map[string]func() string{"cache": func() string { return "off" }, "rateLimit": func() string { return "off" }}
		o           = cfg.GraphQL
		names       = graph.OperationNamer(o.OperationNames)
	)
	o.Observer = p.metrics
	if p.cache != nil {
		fetch, invalidator, changes, status["cache"] = p.cache, p.cache, p.cache, p.cache.Status
	}
	if p.limiter != nil {
		o.RateLimiter, status["rateLimit"] = p.limiter, p.limiter.Status
	}
	o.Admission = admission.New(cfg.Admission)
	p.metrics.HeavyOperations(o.Admission.Waiting, o.Admission.Running)
	p.metrics.Subscriptions(p.live.Watched)
	var probes []func(context.Context)
	if p.redis != nil {
		// Queries clients register, shared by the replicas; a day is long enough for a
		// client to keep sending the hash, and whoever misses registers the query again.
		o.Persisted = persisted.NewRedisCache(p.redis.Client(), cfg.Redis.Prefix, 24*time.Hour, int(cfg.HTTP.MaxRequestBytes))
		// A Redis found down is asked again by /readyz, through its breaker, so that it is
		// seen back even while no query uses it.
		probes = append(probes, func(ctx context.Context) {
			if p.redis.Status() != "ok" {
				p.redis.Ping(ctx)
			}
		})
	}
	o.Invalidator, o.Changes, o.Live, o.Stopping = invalidator, changes, p.live, p.stopping
	// Browsers open WebSockets from the origins they may call from; the response cache
	// compresses as the HTTP layer does.
	o.WebSocketOrigins, o.Compress = cfg.HTTP.CORSOrigins, httpapi.Compression(cfg.HTTP.CompressMinBytes)
	if p.tracer != nil {
		o.Spans, o.Extensions = p.tracer, []gqlgraphql.HandlerExtension{p.tracer.Extension(names)}
	}
	return httpapi.NewHandler(cfg.HTTP, httpapi.Parts{
		GraphQL: graph.NewHandler(fetch, p.auth, o, log), Auth: p.auth, Invalidator: invalidator, Upstream: p.client,
		Status: status, Probes: probes, Metrics: p.metrics.Handler(), Tracer: p.tracer, Log: log, Lines: p.logs,
	})
}

// noCache is the invalidator when caching is off: there is nothing to drop, but subscribers
// are told.
type noCache struct{ live *live.Hub }

func (n noCache) Invalidate(_ context.Context, id string) error {
	n.live.Changed(id)
	return nil
}
