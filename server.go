// Command facade serves a GraphQL API over Enneo's contract ticket history REST endpoint: field
// selection, many contracts per request, batched upstream calls and typed, lossless data.
package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/url"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	gqlgraphql "github.com/99designs/gqlgen/graphql"
	"github.com/redis/go-redis/extra/redisotel/v9"
	"github.com/redis/go-redis/v9"

	"github.com/enneo-facade/facade/graph"
	"github.com/enneo-facade/facade/graph/httpapi"
	"github.com/enneo-facade/facade/graph/metrics"
	"github.com/enneo-facade/facade/graph/persisted"
	"github.com/enneo-facade/facade/graph/ratelimit"
	"github.com/enneo-facade/facade/graph/tracing"
	"github.com/enneo-facade/facade/upstream"
	"github.com/enneo-facade/facade/upstream/cache"
	"github.com/enneo-facade/facade/upstream/demo"
	"github.com/enneo-facade/facade/upstream/redisstore"
)

//go:generate go tool gqlgen generate

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// Settings of the whole process are made here, not in run, so that the tests that call run
	// do not retune the test binary. A bad configuration is run's to report.
	if cfg, err := loadConfig(os.Args[1:], os.Getenv, io.Discard); err == nil {
		tuneProcess(cfg, os.Getenv)
	}
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "facade:", err)
		os.Exit(1)
	}
}

// config is every setting, each from an environment variable or the flag of the same name.
type config struct {
	Port                int
	UpstreamURL         string
	UpstreamToken       string
	UpstreamTimeout     time.Duration
	UpstreamConnect     time.Duration
	UpstreamMaxBytes    int64
	UpstreamConcurrency int
	Resilience          upstream.Resilience
	OperationTimeout    time.Duration
	TimeZone            *time.Location
	ScopeSecret         string
	MaxRequestBytes     int64
	ShutdownTimeout     time.Duration
	RedisURL            string
	RedisDialTimeout    time.Duration
	RedisTimeout        time.Duration
	CacheTTL            time.Duration
	CacheStaleTTL       time.Duration
	CacheRevalidate     time.Duration
	CacheEncryptionKey  []byte
	CacheHotBytes       int64
	CacheMemoryBytes    int64
	CacheResponseBytes  int64
	CachePrefix         string
	WebhookSecret       string
	AdminToken          string
	PprofAddr           string
	MetricsAddr         string
	// Tracing is on when the standard OTEL_EXPORTER_OTLP_ENDPOINT (or its traces variant) is
	// set, and the SDK is not disabled; TraceContractIDs puts contract ids in spans.
	Tracing, TraceContractIDs bool
	OperationNames            []string // the operation names metrics report as they are
	LogLevel                  slog.Level
	Limits                    graph.Limits
	RateLimit                 ratelimit.Limit // zero: off
	// Introspection, Playground and Suggestions are on in demo mode and off in production
	// (UPSTREAM_URL set) unless configured.
	Introspection, Playground, Suggestions bool
	// APIKeys are required of callers when a service token is set, unless OpenAccess.
	APIKeys    graph.APIKeys
	OpenAccess bool
	// Manifest holds the persisted operations of PERSISTED_OPERATIONS_FILE; with Safelist only
	// they run.
	Manifest *persisted.Manifest
	Safelist bool
	// CORSOrigins may call /graphql from a browser ("*": any); none in production unless
	// configured, any in demo mode.
	CORSOrigins []string
}

// loadConfig fills config from flags, then the environment, then the defaults. A bad value fails
// with an error that names its variable.
func loadConfig(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("facade", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var bad []error
	envOr := func(env, def string) string {
		if v := getenv(env); v != "" {
			return v
		}
		return def
	}
	str := func(p *string, env, def, usage string) {
		fs.StringVar(p, flagName(env), envOr(env, def), usage+" ($"+env+")")
	}
	// A URL may hold a password (redis://:secret@host): --help and the usage printed on a bad
	// flag show it redacted.
	urlStr := func(p *string, env, usage string) {
		str(p, env, "", usage)
		if f := fs.Lookup(flagName(env)); f.DefValue != "" {
			f.DefValue = redactURL(f.DefValue)
		}
	}
	// Secrets are read from the environment after parsing, so that --help never prints them as
	// defaults.
	secrets := map[string]*string{}
	secret := func(p *string, env, usage string) {
		fs.StringVar(p, flagName(env), "", usage+" ($"+env+")")
		secrets[env] = p
	}
	num := func(p *int64, env string, def int64, usage string) {
		raw := envOr(env, strconv.FormatInt(def, 10))
		v, err := strconv.ParseInt(raw, 10, 64)
		if err != nil {
			bad = append(bad, fmt.Errorf("%s=%q: not a whole number", env, raw))
		}
		fs.Int64Var(p, flagName(env), v, usage+" ($"+env+")")
	}
	dur := func(p *time.Duration, env string, def time.Duration, usage string) {
		raw := envOr(env, def.String())
		v, err := time.ParseDuration(raw)
		if err != nil {
			bad = append(bad, fmt.Errorf("%s=%q: not a duration such as 5s or 250ms", env, raw))
		}
		fs.DurationVar(p, flagName(env), v, usage+" ($"+env+")")
	}
	var port, concurrency int64
	var zone, encryptionKey string
	num(&port, "PORT", 8080, "HTTP listen port")
	urlStr(&c.UpstreamURL, "UPSTREAM_URL", "upstream base URL up to /api/mind, e.g. https://demo.enneo.ai/api/mind; unset: the built-in demo upstream")
	secret(&c.UpstreamToken, "UPSTREAM_TOKEN", "service token for every upstream call; unset: each caller's Authorization header is forwarded")
	dur(&c.UpstreamTimeout, "UPSTREAM_TIMEOUT", 5*time.Second, "time limit of one upstream call")
	dur(&c.UpstreamConnect, "UPSTREAM_CONNECT_TIMEOUT", 2*time.Second, "time limit of connecting to the upstream")
	num(&c.UpstreamMaxBytes, "UPSTREAM_MAX_BYTES", 64<<20, "largest upstream response body accepted")
	num(&concurrency, "UPSTREAM_CONCURRENCY", 16, "upstream calls one batch makes at once")
	var retries, inFlight, breakerFailures int64
	num(&retries, "UPSTREAM_RETRIES", 2, "retries of an upstream call after a connection error, 502, 503, 504 or 429; 0: none")
	num(&inFlight, "UPSTREAM_MAX_IN_FLIGHT", 64, "upstream calls in flight in the process, across batches")
	num(&breakerFailures, "UPSTREAM_BREAKER_FAILURES", 5, "consecutive failed upstream calls (5xx, timeouts, connection errors) that open the circuit breaker")
	dur(&c.Resilience.BreakerCooldown, "UPSTREAM_BREAKER_COOLDOWN", 5*time.Second, "how long the open breaker waits before a probe may pass")
	dur(&c.OperationTimeout, "OPERATION_TIMEOUT", 10*time.Second, "time limit of one GraphQL operation")
	str(&zone, "TIME_ZONE", "Europe/Berlin", "zone of the upstream's timestamps that carry none")
	secret(&c.ScopeSecret, "CACHE_KEY_SECRET", "secret keying credential scopes (HMAC of tokens); unset: random per process")
	num(&c.MaxRequestBytes, "MAX_REQUEST_BYTES", 1<<20, "largest GraphQL request body accepted")
	dur(&c.ShutdownTimeout, "SHUTDOWN_TIMEOUT", 15*time.Second, "time in-flight requests get to finish on shutdown")
	urlStr(&c.RedisURL, "REDIS_URL", "redis:// or rediss:// URL of the shared cache (a node; a cluster by addr= seeds; Sentinel by master_name=); unset: an in-process cache")
	dur(&c.RedisDialTimeout, "REDIS_DIAL_TIMEOUT", 250*time.Millisecond, "time limit of connecting to Redis")
	dur(&c.RedisTimeout, "REDIS_TIMEOUT", 150*time.Millisecond, "time limit of one Redis read or write")
	dur(&c.CacheTTL, "CACHE_TTL", 60*time.Second, "how long a contract's history is fresh; 0 turns caching off")
	dur(&c.CacheRevalidate, "CACHE_REVALIDATE", 0, "a window after CACHE_TTL in which an expired history is served at once while it is refreshed; 0: off")
	dur(&c.CacheStaleTTL, "CACHE_STALE_TTL", 10*time.Minute, "how long an expired history is kept for when the upstream fails")
	secret(&encryptionKey, "CACHE_ENCRYPTION_KEY", "32-byte key (base64 or 64 hex digits) sealing cached values with AES-256-GCM; unset: plain")
	num(&c.CacheHotBytes, "CACHE_HOT_BYTES", 64<<20, "bound of decoded histories kept in process")
	num(&c.CacheMemoryBytes, "CACHE_MEMORY_BYTES", 64<<20, "bound of the in-process cache when REDIS_URL is unset")
	num(&c.CacheResponseBytes, "CACHE_RESPONSE_BYTES", 8<<20, "bound of the whole responses kept in process")
	str(&c.CachePrefix, "CACHE_PREFIX", "efc:v1:", "prefix of every Redis key (versioned: change it to drop all entries)")
	secret(&c.WebhookSecret, "WEBHOOK_SECRET", "bearer secret of POST /webhooks/enneo; unset: the webhook is off")
	secret(&c.AdminToken, "ADMIN_TOKEN", "bearer token of the invalidateContractHistory mutation; unset: the mutation is off")
	d := graph.DefaultLimits
	var tokens, depth, aliases, rootFields, directives, contracts int64
	num(&tokens, "MAX_TOKENS", int64(d.Tokens), "most lexical tokens in a query (TOO_MANY_TOKENS)")
	num(&depth, "MAX_DEPTH", int64(d.Depth), "deepest nesting of fields (QUERY_TOO_DEEP)")
	num(&aliases, "MAX_ALIASES", int64(d.Aliases), "most aliases in an operation, fragments inlined (TOO_MANY_ALIASES)")
	num(&rootFields, "MAX_ROOT_FIELDS", int64(d.RootFields), "most fields at the top of an operation (TOO_MANY_ROOT_FIELDS)")
	num(&directives, "MAX_DIRECTIVES", int64(d.Directives), "most directives in an operation, fragments inlined (TOO_MANY_DIRECTIVES)")
	num(&c.Limits.Cost, "MAX_COST", d.Cost, "highest estimated cost of an operation (QUERY_TOO_COMPLEX)")
	num(&contracts, "MAX_CONTRACTS", int64(d.Contracts), "most distinct contracts one operation loads, nested ones included (TOO_MANY_CONTRACTS)")
	num(&c.Limits.Fields, "MAX_FIELDS", d.Fields, "most fields one operation resolves (RESPONSE_TOO_LARGE)")
	num(&c.Limits.Bytes, "MAX_RESPONSE_BYTES", d.Bytes, "most bytes of text and JSON values in one answer (RESPONSE_TOO_LARGE)")
	var introspection, playground, suggestions, origins, keysFile, open, manifest, safelist, level string
	str(&level, "LOG_LEVEL", "info", "least severe level logged: debug, info, warn or error")
	str(&manifest, "PERSISTED_OPERATIONS_FILE", "", "manifest of persisted operations (Apollo's or Relay's format) clients may send by id")
	str(&safelist, "SAFELIST", "", "true: run only the operations of PERSISTED_OPERATIONS_FILE")
	str(&keysFile, "API_KEYS_FILE", "", "with UPSTREAM_TOKEN: file of the named API keys callers must present (name and SHA-256 of the key per line)")
	str(&open, "OPEN_ACCESS", "", "true: with UPSTREAM_TOKEN, serve callers without API keys (something in front authenticates them)")
	str(&introspection, "INTROSPECTION", "", "true or false: whether operations may read the schema; unset: on in demo mode, off with UPSTREAM_URL")
	str(&playground, "PLAYGROUND", "", "true or false: whether / serves the GraphiQL playground; unset: on in demo mode, off with UPSTREAM_URL")
	str(&suggestions, "FIELD_SUGGESTIONS", "", "true or false: whether validation errors suggest names (\"Did you mean ...\"); unset: on in demo mode, off with UPSTREAM_URL")
	str(&origins, "CORS_ORIGINS", "", "comma-separated origins that browsers may call /graphql from, e.g. https://desk.example.com, or *; unset: any in demo mode, none with UPSTREAM_URL")
	num(&c.RateLimit.Burst, "RATE_LIMIT_BURST", 0, "cost points a caller's bucket holds, at least MAX_COST; 0: no rate limit")
	num(&c.RateLimit.PerSecond, "RATE_LIMIT_PER_SECOND", 0, "cost points a caller's bucket regains each second; 0: no rate limit")
	str(&c.MetricsAddr, "METRICS_ADDR", "", "address of a separate listener for /metrics, e.g. 127.0.0.1:9090; unset: /metrics on the public port")
	var operationNames, traceIDs string
	str(&traceIDs, "TRACE_CONTRACT_IDS", "", "true: spans name the contracts a batch loads and the upstream paths; unset: they do not")
	str(&operationNames, "METRICS_OPERATION_NAMES", "", "comma-separated operation names metrics report by name (besides the persisted operations'); others are \"other\"")
	str(&c.PprofAddr, "PPROF_ADDR", "", "address of a separate listener for Go's /debug/pprof profiles, e.g. 127.0.0.1:6060; unset: off")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	for env, p := range secrets {
		if *p == "" {
			*p = getenv(env)
		}
	}
	if len(bad) > 0 {
		return c, errors.Join(bad...)
	}
	c.Port, c.UpstreamConcurrency = int(port), int(concurrency)
	if port < 0 || port > 65535 {
		bad = append(bad, fmt.Errorf("PORT=%d: must be 0 to 65535", port))
	}
	for _, d := range []struct {
		env string
		v   time.Duration
	}{
		{"UPSTREAM_TIMEOUT", c.UpstreamTimeout}, {"UPSTREAM_CONNECT_TIMEOUT", c.UpstreamConnect},
		{"OPERATION_TIMEOUT", c.OperationTimeout}, {"SHUTDOWN_TIMEOUT", c.ShutdownTimeout},
		{"REDIS_DIAL_TIMEOUT", c.RedisDialTimeout}, {"REDIS_TIMEOUT", c.RedisTimeout}, {"CACHE_STALE_TTL", c.CacheStaleTTL},
		{"UPSTREAM_BREAKER_COOLDOWN", c.Resilience.BreakerCooldown},
	} {
		if d.v <= 0 {
			bad = append(bad, fmt.Errorf("%s=%s: must be positive", d.env, d.v))
		}
	}
	if c.CacheTTL < 0 {
		bad = append(bad, fmt.Errorf("CACHE_TTL=%s: must be 0 (off) or positive", c.CacheTTL))
	}
	if c.CacheRevalidate < 0 || c.CacheRevalidate > c.CacheStaleTTL {
		bad = append(bad, fmt.Errorf("CACHE_REVALIDATE=%s: must be 0 (off) up to CACHE_STALE_TTL (%s), as long as expired histories are kept", c.CacheRevalidate, c.CacheStaleTTL))
	}
	c.Resilience.Retries, c.Resilience.MaxInFlight, c.Resilience.BreakerFailures = int(retries), int(inFlight), int(breakerFailures)
	if retries == 0 {
		c.Resilience.Retries = -1 // none, where the zero value means the default
	}
	if retries < 0 {
		bad = append(bad, fmt.Errorf("UPSTREAM_RETRIES=%d: must be 0 or more", retries))
	}
	c.Limits.Tokens, c.Limits.Depth, c.Limits.Aliases = int(tokens), int(depth), int(aliases)
	c.Limits.RootFields, c.Limits.Directives, c.Limits.Contracts = int(rootFields), int(directives), int(contracts)
	for _, n := range []struct {
		env string
		v   int64
	}{
		{"MAX_TOKENS", tokens}, {"MAX_DEPTH", depth}, {"MAX_ALIASES", aliases}, {"MAX_ROOT_FIELDS", rootFields},
		{"MAX_DIRECTIVES", directives}, {"MAX_COST", c.Limits.Cost}, {"MAX_CONTRACTS", contracts},
		{"MAX_FIELDS", c.Limits.Fields}, {"MAX_RESPONSE_BYTES", c.Limits.Bytes},
		{"UPSTREAM_MAX_IN_FLIGHT", inFlight}, {"UPSTREAM_BREAKER_FAILURES", breakerFailures},
		{"UPSTREAM_MAX_BYTES", c.UpstreamMaxBytes}, {"UPSTREAM_CONCURRENCY", concurrency}, {"MAX_REQUEST_BYTES", c.MaxRequestBytes},
		{"CACHE_HOT_BYTES", c.CacheHotBytes}, {"CACHE_MEMORY_BYTES", c.CacheMemoryBytes}, {"CACHE_RESPONSE_BYTES", c.CacheResponseBytes},
	} {
		if n.v <= 0 {
			bad = append(bad, fmt.Errorf("%s=%d: must be positive", n.env, n.v))
		}
	}
	switch rl := c.RateLimit; {
	case rl.Burst < 0 || rl.PerSecond < 0 || (rl.Burst == 0) != (rl.PerSecond == 0):
		bad = append(bad, fmt.Errorf("RATE_LIMIT_BURST=%d and RATE_LIMIT_PER_SECOND=%d: set both (positive) to rate limit, or neither", rl.Burst, rl.PerSecond))
	case rl.Burst > 0 && rl.Burst < c.Limits.Cost:
		bad = append(bad, fmt.Errorf("RATE_LIMIT_BURST: %d is below MAX_COST (%d), so some admitted operations could never run", rl.Burst, c.Limits.Cost))
	}
	// Booleans are read after parsing: unset, the modes' follow UPSTREAM_URL, flag or not.
	demo := c.UpstreamURL == ""
	for _, b := range []struct {
		env, v string
		p      *bool
		unset  bool
	}{
		{"INTROSPECTION", introspection, &c.Introspection, demo}, {"PLAYGROUND", playground, &c.Playground, demo},
		{"FIELD_SUGGESTIONS", suggestions, &c.Suggestions, demo}, {"OPEN_ACCESS", open, &c.OpenAccess, false},
		{"SAFELIST", safelist, &c.Safelist, false}, {"TRACE_CONTRACT_IDS", traceIDs, &c.TraceContractIDs, false},
	} {
		*b.p = b.unset
		if b.v != "" {
			v, err := strconv.ParseBool(b.v)
			if err != nil {
				bad = append(bad, fmt.Errorf("%s=%q: must be true or false", b.env, b.v))
			}
			*b.p = v
		}
	}
	var err error
	if c.CORSOrigins, err = parseOrigins(origins, demo); err != nil {
		bad = append(bad, fmt.Errorf("CORS_ORIGINS: %w", err))
	}
	c.Tracing = (getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != "") &&
		getenv("OTEL_SDK_DISABLED") != "true" && getenv("OTEL_TRACES_EXPORTER") != "none"
	for n := range strings.SplitSeq(operationNames, ",") {
		if n = strings.TrimSpace(n); n != "" {
			c.OperationNames = append(c.OperationNames, n)
		}
	}
	if err := c.LogLevel.UnmarshalText([]byte(level)); err != nil {
		bad = append(bad, fmt.Errorf("LOG_LEVEL=%q: must be debug, info, warn or error", level))
	}
	switch {
	case manifest != "":
		if c.Manifest, err = persisted.ReadManifest(manifest); err != nil {
			bad = append(bad, fmt.Errorf("PERSISTED_OPERATIONS_FILE: %w", err))
		} else {
			c.OperationNames = append(c.OperationNames, c.Manifest.Names()...)
		}
	case c.Safelist:
		bad = append(bad, errors.New("SAFELIST: needs PERSISTED_OPERATIONS_FILE, the operations it lets run"))
	}
	switch {
	case keysFile != "" && c.UpstreamToken == "":
		bad = append(bad, errors.New("API_KEYS_FILE: only with UPSTREAM_TOKEN; without it each caller sends its own Enneo token"))
	case keysFile != "" && c.OpenAccess:
		bad = append(bad, errors.New("API_KEYS_FILE and OPEN_ACCESS=true: choose one"))
	case keysFile != "":
		if c.APIKeys, err = readAPIKeys(keysFile, c.AdminToken); err != nil {
			bad = append(bad, fmt.Errorf("API_KEYS_FILE: %w", err))
		}
	case c.UpstreamToken != "" && !c.OpenAccess:
		bad = append(bad, errors.New("UPSTREAM_TOKEN: every caller would read with the service token's rights; "+
			"set API_KEYS_FILE to the keys callers must present, or OPEN_ACCESS=true if something in front of the facade authenticates them"))
	}
	if len(bad) > 0 {
		return c, errors.Join(bad...)
	}
	loc, err := time.LoadLocation(zone)
	if err != nil {
		return c, fmt.Errorf("TIME_ZONE: unknown zone %q", zone)
	}
	c.TimeZone = loc
	if encryptionKey != "" {
		if c.CacheEncryptionKey, err = parseKey(encryptionKey); err != nil {
			return c, fmt.Errorf("CACHE_ENCRYPTION_KEY: %w", err)
		}
	}
	return c, nil
}

// parseKey reads a 32-byte key written as 64 hex digits or as base64.
func parseKey(s string) ([]byte, error) {
	if k, err := hex.DecodeString(s); err == nil && len(k) == 32 {
		return k, nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(s); err == nil && len(k) == 32 {
			return k, nil
		}
	}
	return nil, errors.New("must be 32 bytes as 64 hex digits or base64 (e.g. openssl rand -base64 32)")
}

// readAPIKeys reads the API keys file; the admin token, if set, is accepted as a key of its own
// named admin, so that the invalidation mutation can still be sent.
func readAPIKeys(path, adminToken string) (graph.APIKeys, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	keys, err := graph.ParseAPIKeys(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if adminToken != "" {
		if h := sha256.Sum256([]byte(adminToken)); keys[h] == "" {
			keys[h] = "admin"
		}
	}
	return keys, nil
}

// parseOrigins reads CORS_ORIGINS: "*", or origins such as https://desk.example.com separated
// by commas; unset, any origin in demo mode and none otherwise.
func parseOrigins(s string, demo bool) ([]string, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "" && demo, s == "*":
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

// redactURL hides the password of a URL, and all of what does not parse as one.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(set, not shown)"
	}
	return u.Redacted()
}

// flagName turns UPSTREAM_URL into upstream-url.
func flagName(env string) string {
	b := []byte(env)
	for i, ch := range b {
		switch {
		case ch == '_':
			b[i] = '-'
		case ch >= 'A' && ch <= 'Z':
			b[i] = ch + 'a' - 'A'
		}
	}
	return string(b)
}

// run is the composition root: it builds every part, serves until ctx ends, then shuts down
// gracefully, letting in-flight requests finish.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := loadConfig(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	logs := httpapi.NewBufferedLog(stderr)
	defer logs.Close()
	// Every goroutine run starts ends before it returns (the deferred stops below run first).
	var bg sync.WaitGroup
	defer bg.Wait()
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: cfg.LogLevel}))
	log.Debug("memory", "soft_limit_mib", debug.SetMemoryLimit(-1)>>20)

	demoMode := cfg.UpstreamURL == ""
	if demoMode {
		// On a loopback port, so that demo mode exercises the same real HTTP client as
		// production.
		addr, stopDemo, err := serveAside(&bg, "127.0.0.1:0", demo.NewHandler())
		if err != nil {
			return fmt.Errorf("demo upstream: %w", err)
		}
		defer stopDemo()
		cfg.UpstreamURL = "http://" + addr
		log.Info("no UPSTREAM_URL: serving the built-in demo upstream", "url", cfg.UpstreamURL)
	}
	metrics := metrics.New()
	var tracer *tracing.Tracing
	if cfg.Tracing {
		t, shutdown, err := tracing.NewOTLP(ctx, cfg.TraceContractIDs)
		if err != nil {
			return fmt.Errorf("OTEL_EXPORTER_OTLP_ENDPOINT: %w", err)
		}
		tracer = t
		defer func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := shutdown(ctx); err != nil {
				log.Warn("traces could not all be exported", "err", err)
			}
		}()
		log.Info("tracing: spans exported over OTLP")
	}
	client, err := upstream.New(upstream.Options{
		BaseURL:        cfg.UpstreamURL,
		ServiceToken:   cfg.UpstreamToken,
		Timeout:        cfg.UpstreamTimeout,
		ConnectTimeout: cfg.UpstreamConnect,
		MaxBodyBytes:   cfg.UpstreamMaxBytes,
		Zone:           cfg.TimeZone,
		Concurrency:    cfg.UpstreamConcurrency,
		Resilience:     cfg.Resilience,
		Logger:         log,
		Observer:       metrics,
		WrapTransport:  tracer.WrapTransport(),
	})
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
	if cfg.RedisURL != "" {
		redisStore, err = redisstore.New(redisstore.Options{
			URL: cfg.RedisURL, Prefix: cfg.CachePrefix, DialTimeout: cfg.RedisDialTimeout, IOTimeout: cfg.RedisTimeout, Logger: log,
			Observer: metrics,
		})
		if err != nil {
			return fmt.Errorf("REDIS_URL: %w", err)
		}
		defer redisStore.Close()
		// Replicas start while Redis is down (they serve from the upstream meanwhile), but
		// nobody should learn it from the first slow query: /readyz says degraded at once.
		if err := redisStore.Ping(ctx); err != nil {
			log.Warn("REDIS_URL: Redis does not answer; serving from the upstream without the shared cache until it does",
				"addr", redactURL(cfg.RedisURL), "err", err)
		}
	}
	var histories *cache.Cache
	if cfg.CacheTTL > 0 {
		var store cache.Store = cache.NewMemoryStore(cfg.CacheMemoryBytes)
		if redisStore != nil {
			store = redisStore
		}
		histories, err = cache.New(client, store, cache.Options{
			TTL: cfg.CacheTTL, StaleTTL: cfg.CacheStaleTTL, Revalidate: cfg.CacheRevalidate, HotBytes: cfg.CacheHotBytes,
			EncryptionKey: cfg.CacheEncryptionKey,
			Logger: log, Observer: metrics,
		})
		if err != nil {
			return fmt.Errorf("cache: %w", err)
		}
		defer histories.Close() // before the store closes
		watchCtx, stopWatch := context.WithCancel(context.Background())
		defer stopWatch()
		bg.Go(func() { histories.Watch(watchCtx) })
	}

	if redisStore != nil {
		metrics.RedisPool(redisStore.Client())
		if tracer != nil {
			// go-redis' own hooks; the commands' arguments (keys, values) stay out of spans.
			if err := redisotel.InstrumentTracing(redisStore.Client(), redisotel.WithTracerProvider(tracer.Provider()),
				redisotel.WithDBStatement(false), redisotel.WithCallerEnabled(false), redisotel.WithDialFilter(true)); err != nil {
				return fmt.Errorf("redis tracing: %w", err)
			}
		}
	}
	if cfg.MetricsAddr != "" {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", metrics.Handler())
		addr, stop, err := serveAside(&bg, cfg.MetricsAddr, mux)
		if err != nil {
			return fmt.Errorf("METRICS_ADDR: %w", err)
		}
		defer stop()
		log.Info("listening aside", "path", "/metrics", "addr", addr)
	}
	if cfg.PprofAddr != "" {
		// Go's profiles on their own listener, never reachable through the public port.
		mux := http.NewServeMux()
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		addr, stopPprof, err := serveAside(&bg, cfg.PprofAddr, mux)
		if err != nil {
			return fmt.Errorf("PPROF_ADDR: %w", err)
		}
		defer stopPprof()
		log.Info("pprof listening", "addr", addr)
	}

	ln, err := net.Listen("tcp", net.JoinHostPort("", strconv.Itoa(cfg.Port)))
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler: newHandler(cfg, parts{
			client: client, cache: histories, auth: newAuthenticator(cfg, secret),
			limiter: newRateLimiter(cfg, redisStore, log), redis: redisStore, metrics: metrics, tracer: tracer, logs: logs, demo: demoMode,
		}, log),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      cfg.OperationTimeout + 5*time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	fmt.Fprintf(stdout, "listening on http://%s\n", ln.Addr())
	fmt.Fprint(stdout, startupGuide(cfg, demoMode, ln.Addr().(*net.TCPAddr).Port))
	serveErr := make(chan error, 1)
	bg.Go(func() { serveErr <- srv.Serve(ln) })
	select {
	case err := <-serveErr:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing in-flight requests")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		srv.Close() // the requests still running lose their connections
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// startupGuide is what run prints below its address, for whoever started it: where the
// playground and the endpoint are, what to send in demo mode, and in production what is off and
// how to turn it on.
func startupGuide(cfg config, demo bool, port int) string {
	base := fmt.Sprintf("http://localhost:%d", port)
	var b strings.Builder
	switch {
	case cfg.Playground && demo:
		fmt.Fprintf(&b, "  playground  %s/  (the demo upstream: a query and the demo token are filled in; press run)\n", base)
	case cfg.Playground:
		fmt.Fprintf(&b, "  playground  %s/\n", base)
	default:
		fmt.Fprintf(&b, "  playground  off: set PLAYGROUND=true to serve it at %s/\n", base)
	}
	if !cfg.Introspection {
		b.WriteString("  introspection off: set INTROSPECTION=true to let clients read the schema (schema.graphqls is the same)\n")
	}
	if cfg.Manifest != nil {
		fmt.Fprintf(&b, "  persisted   %d operations from PERSISTED_OPERATIONS_FILE, by documentId, doc_id or hash\n", cfg.Manifest.Len())
	}
	fmt.Fprintf(&b, "  GraphQL     %s/graphql", base)
	if demo {
		b.WriteString("  (send Authorization: Bearer demo-token; the demo upstream takes any token)")
	}
	b.WriteString("\n")
	return b.String()
}

// serveAside serves h on a listener of its own at addr, away from the public port, until stop,
// and returns the address it listens on; its goroutine is bg's.
func serveAside(bg *sync.WaitGroup, addr string, h http.Handler) (listening string, stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	bg.Go(func() { srv.Serve(ln) })
	return ln.Addr().String(), func() { srv.Close() }, nil
}

// tuneProcess sets what holds for the whole process: the garbage collector, and go-redis's
// logger.
//
// The soft memory limit is what the caches may hold, plus room for the garbage their churn
// leaves (twice the decoded layers: hot histories and whole responses) and for the work in
// flight (64 MiB: one operation at the run-time bounds used 45 MiB); collections run only every
// four times the live heap below it (GOGC=400: with 100 a small live heap was collected ten
// times a second under load, and requests that met a collection made the tail). Measured with
// Redis, warm q2 over 100 contracts served 14,500-14,700 req/s under the old 48 MiB limit
// (caches plus 24 MiB), 21,400-25,000 under 64-80 MiB and 25,400-25,500 under 112 MiB. The
// defaults give 208 MiB with Redis: the hot layer holds 64 MiB since a BI question over 100
// contracts needs about 20 MiB of it (bench/STATS.md: 16 MiB held 83 of the 100 demo histories,
// and the question took 34 ms instead of 14). GOMEMLIMIT and GOGC, where set, rule instead.
func tuneProcess(cfg config, getenv func(string) string) {
	if getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(softMemoryLimit(cfg))
		if getenv("GOGC") == "" {
			debug.SetGCPercent(400)
		}
	}
	// go-redis reports each failed dial through its own process-wide logger; the store logs
	// an outage once, so these go to debug.
	redis.SetLogger(redisLogger{slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))})
}

// softMemoryLimit is the soft memory limit tuneProcess sets where GOMEMLIMIT is unset; the
// containers in deploy/ are sized above it.
func softMemoryLimit(cfg config) int64 {
	limit := int64(64 << 20) // without caches: the work in flight
	if cfg.CacheTTL > 0 {
		limit += 2 * (cfg.CacheHotBytes + cfg.CacheResponseBytes)
		if cfg.RedisURL == "" {
			limit += cfg.CacheMemoryBytes
		}
	}
	return limit
}

// redisLogger passes go-redis's internal messages to slog at debug level.
type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.DebugContext(ctx, "redis: "+fmt.Sprintf(format, v...))
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
	return ratelimit.NewRedis(redisStore.Client(), cfg.CachePrefix, cfg.RateLimit, maxRateBuckets, log)
}

// maxRateBuckets bounds the buckets kept in process (a few hundred bytes each): a caller whose
// bucket is forgotten starts again with a full one.
const maxRateBuckets = 10_000

// newAuthenticator derives callers' credentials; with a service token they must present one of
// the API keys, unless the operator opened the facade.
func newAuthenticator(cfg config, secret []byte) *graph.Authenticator {
	auth := graph.NewAuthenticator(cfg.UpstreamToken, secret)
	if cfg.APIKeys != nil {
		auth.RequireKeys(cfg.APIKeys)
	}
	return auth
}

// parts are what run builds for the routes.
type parts struct {
	client  *upstream.Client
	cache   *cache.Cache // nil: caching is off
	auth    *graph.Authenticator
	limiter *ratelimit.Limiter // nil: no rate limit
	redis   *redisstore.Store  // nil: no REDIS_URL
	metrics *metrics.Metrics
	tracer  *tracing.Tracing // nil: tracing is off
	logs    io.Writer        // where the access log writes its lines
	demo    bool             // the built-in demo upstream serves
}

// newHandler wires the GraphQL handler over the parts, and the HTTP layer's routes around it.
func newHandler(cfg config, p parts, log *slog.Logger) http.Handler {
	var (
		fetch       graph.HistoryFetcher = p.client
		invalidator graph.Invalidator    = noCache{}
		changes     graph.ChangeTracker  // nil: no response cache
		status      = map[string]func() string{"cache": func() string { return "off" }, "rateLimit": func() string { return "off" }}
		o           = graph.Options{
			AdminToken: cfg.AdminToken, Zone: cfg.TimeZone, ResponseCacheBytes: cfg.CacheResponseBytes, Timeout: cfg.OperationTimeout, Limits: cfg.Limits,
			Introspection: cfg.Introspection, Suggestions: cfg.Suggestions, Manifest: cfg.Manifest, Safelist: cfg.Safelist,
			Observer: p.metrics, OperationNames: cfg.OperationNames,
		}
		names = graph.OperationNamer(cfg.OperationNames)
	)
	if p.cache != nil {
		fetch, invalidator, changes, status["cache"] = p.cache, p.cache, p.cache, p.cache.Status
	}
	if p.limiter != nil {
		o.RateLimiter, status["rateLimit"] = p.limiter, p.limiter.Status
	}
	var probes []func(context.Context)
	if p.redis != nil {
		// Queries clients register, shared by the replicas; a day is long enough for a
		// client to keep sending the hash, and whoever misses registers the query again.
		o.Persisted = persisted.NewRedisCache(p.redis.Client(), cfg.CachePrefix, 24*time.Hour, int(cfg.MaxRequestBytes))
		// A Redis found down is asked again by /readyz, through its breaker, so that it is
		// seen back even while no query uses it.
		probes = append(probes, func(ctx context.Context) {
			if p.redis.Status() != "ok" {
				p.redis.Ping(ctx)
			}
		})
	}
	o.Invalidator, o.Changes = invalidator, changes
	if p.tracer != nil {
		o.Spans, o.Extensions = p.tracer, []gqlgraphql.HandlerExtension{p.tracer.Extension(names)}
	}
	h := httpapi.Options{
		CORSOrigins: cfg.CORSOrigins, MaxRequestBytes: cfg.MaxRequestBytes, Playground: cfg.Playground,
		WebhookSecret: cfg.WebhookSecret, Metrics: cfg.MetricsAddr == "",
	}
	if p.demo {
		h.DemoToken = "demo-token"
	}
	return httpapi.NewHandler(h, httpapi.Parts{
		GraphQL: graph.NewHandler(fetch, p.auth, o, log), Auth: p.auth, Invalidator: invalidator, Upstream: p.client,
		Status: status, Probes: probes, Metrics: p.metrics.Handler(), Tracer: p.tracer, Log: log, Lines: p.logs,
	})
}

// noCache is the invalidator when caching is off: there is nothing to drop.
type noCache struct{}

func (noCache) Invalidate(context.Context, string) error { return nil }
