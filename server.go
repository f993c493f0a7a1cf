// Command facade serves a GraphQL API over Enneo's contract ticket history REST endpoint: field
// selection, many contracts per request, batched upstream calls and typed, lossless data.
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/http/pprof"
	"net/url"
	"os"
	"os/signal"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unicode/utf8"

	gqlgraphql "github.com/99designs/gqlgen/graphql"
	"github.com/redis/go-redis/extra/redisotel/v9"
	"github.com/redis/go-redis/v9"
	"github.com/rs/cors"

	"github.com/enneo-facade/facade/graph"
	"github.com/enneo-facade/facade/graph/metrics"
	"github.com/enneo-facade/facade/graph/persisted"
	"github.com/enneo-facade/facade/graph/playground"
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
	logs := newBufferedLog(stderr)
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
			EncryptionKey: cfg.CacheEncryptionKey, Concurrency: cfg.UpstreamConcurrency, MaxBodyBytes: cfg.UpstreamMaxBytes,
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

// newHandler holds the one route list.
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
	if p.redis != nil {
		// Queries clients register, shared by the replicas; a day is long enough for a
		// client to keep sending the hash, and whoever misses registers the query again.
		o.Persisted = persisted.NewRedisCache(p.redis.Client(), cfg.CachePrefix, 24*time.Hour, int(cfg.MaxRequestBytes))
	}
	o.Invalidator, o.Changes = invalidator, changes
	if p.tracer != nil {
		o.Spans, o.Extensions = p.tracer, []gqlgraphql.HandlerExtension{p.tracer.Extension(names)}
	}
	api := withCORS(cfg.CORSOrigins, limitRequest(cfg.MaxRequestBytes, graph.NewHandler(fetch, p.auth, o, log)))

	pg := playground.Config{Title: "Enneo contract history", Endpoint: "/graphql", DefaultQuery: exampleQuery}
	if p.demo {
		pg.DefaultHeaders = map[string]string{"Authorization": "Bearer demo-token"}
	}

	mux := http.NewServeMux()
	// Every method: the GraphQL layer answers those it refuses in its own words. (A pattern
	// without a method would conflict with the playground's "GET /".)
	for _, method := range []string{"GET", "POST", "OPTIONS", "HEAD", "PUT", "PATCH", "DELETE"} {
		mux.Handle(method+" /graphql", api)
	}
	if cfg.Playground {
		mux.Handle("GET /", playground.Handler(pg))
	} else {
		mux.Handle("GET /{$}", apiIndex())
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	var probes []func(context.Context)
	if p.redis != nil {
		// A Redis found down is asked again by the probe, through its breaker, so that /readyz
		// sees it back even while no query uses it.
		probes = append(probes, func(ctx context.Context) {
			if p.redis.Status() != "ok" {
				p.redis.Ping(ctx)
			}
		})
	}
	mux.Handle("GET /readyz", readiness(p.client, status, probes))
	if cfg.MetricsAddr == "" {
		mux.Handle("GET /metrics", p.metrics.Handler())
	}
	if cfg.WebhookSecret != "" {
		mux.Handle("POST /webhooks/enneo", enneoWebhook(cfg.WebhookSecret, invalidator, log))
	}
	h := accessLog(log, p.logs, p.auth, p.tracer != nil, mux)
	if p.tracer != nil {
		h = p.tracer.Handler(h) // outside the access log, which logs the trace id
	}
	return h
}

// apiIndex answers / when the playground is off (production, unless PLAYGROUND=true): what is
// served here and how to turn the playground on, rather than a bare 404.
func apiIndex() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{
			"service":    "Enneo contract history GraphQL API",
			"graphql":    "POST or GET /graphql with Authorization: Bearer <token>",
			"playground": "off: set PLAYGROUND=true to serve GraphiQL here (and INTROSPECTION=true for its docs and completion)",
			"schema":     "schema.graphqls in the repository is the schema served",
		})
	})
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

// noCache is the invalidator when caching is off: there is nothing to drop.
type noCache struct{}

func (noCache) Invalidate(context.Context, string) error { return nil }

// enneoWebhook drops a contract's cached history for every scope when Enneo reports a change:
// an Enneo event handler (TicketCreated, TicketUpdated, ...) POSTs {event, contractId, ticketId}
// with Authorization: Bearer <WEBHOOK_SECRET>. It answers as soon as the entries are gone.
func enneoWebhook(secret string, inv graph.Invalidator, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		if subtle.ConstantTimeCompare([]byte(auth), []byte("Bearer "+secret)) != 1 {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "send Authorization: Bearer <WEBHOOK_SECRET>"})
			return
		}
		var ev struct {
			Event      string      `json:"event"`
			ContractID upstream.ID `json:"contractId"`
		}
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&ev); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "the body must be JSON: {\"event\", \"contractId\", \"ticketId\"}"})
			return
		}
		id := string(ev.ContractID)
		if !upstream.ValidID(id) {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "contractId must be 1 to 64 letters, digits, '-' or '_'"})
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := inv.Invalidate(ctx, id); err != nil {
			// Tell Enneo to try again: other replicas may still hold the entry.
			log.WarnContext(ctx, "webhook: the shared cache could not be reached", "contract", id, "err", err)
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "the shared cache could not be reached; retry"})
			return
		}
		log.InfoContext(ctx, "webhook: history invalidated", "event", ev.Event, "contract", id)
		writeJSON(w, http.StatusOK, map[string]string{"invalidated": id})
	})
}

// exampleQuery pre-fills the playground: a web app's list view of one contract's tickets.
const exampleQuery = `# Press the run button to see contract 746839's tickets.
# Demo ids: any id like 100001 or C-1001. Error paths:
# empty, not-found, forbidden, server-error,
# rate-limited, malformed, html, slow, hang.
query ContractTickets {
  contract(id: "746839") {
    id
    productName
    history {
      tickets {
        id
        createdAt
        status
        channel
        subject
        customer {
          firstname
          lastname
        }
      }
    }
  }
}
`

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

// readiness reports ready once serving; it says whether the upstream answers, checked at most
// every few seconds so probes cannot load it, how the cache is ("memory", "ok", "degraded" or
// "off") and how rate limiting is ("shared" in Redis, "local" in process, "degraded" while
// Redis cannot be used and each process decides alone, or "off"). Neither an unreachable
// upstream nor a degraded Redis makes the facade unready: every replica shares them, and taking
// them all out of service helps nobody. probes run with the upstream's check (a Redis found
// down is asked again, so that "degraded" ends when Redis is back, queries or not).
func readiness(client *upstream.Client, status map[string]func() string, probes []func(context.Context)) http.Handler {
	var (
		mu      sync.Mutex
		checked time.Time
		state   string
	)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if time.Since(checked) > 5*time.Second {
			ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
			state = "reachable"
			if err := client.Ping(ctx); err != nil {
				state = "unreachable"
			}
			for _, probe := range probes {
				probe(ctx)
			}
			cancel()
			checked = time.Now()
		}
		report := map[string]string{"status": "ready", "upstream": state, "breaker": client.BreakerState()}
		for name, f := range status {
			report[name] = f()
		}
		writeJSON(w, http.StatusOK, report)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false) // "Bearer <WEBHOOK_SECRET>", not \u003c...
	enc.Encode(v)
}

// statusRecorder remembers the status a handler wrote, for the access log.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// accessLog writes one line per request, at info: its id (a well-formed X-Request-Id it came
// with, else a new one, echoed in the answer), method, path, status and duration, and what the
// GraphQL layer learnt of it (operation name, upstream calls, where its histories came from),
// and the name of the caller's API key where keys are required. Never query strings, headers,
// keys or bodies, which may carry tokens and personal data.
//
// The line is written by hand into the buffered log, not through slog: slog's record, attributes
// and group cost 2.2 µs and 5 allocations a request (BenchmarkWarmQ1), 40% of a cached answer's
// time in the handler; this costs a fifth of it. It is the same JSON slog would write.
//
// With traced, the line carries the request's trace id.
func accessLog(log *slog.Logger, logs io.Writer, auth *graph.Authenticator, traced bool, next http.Handler) http.Handler {
	lines := log.Enabled(context.Background(), slog.LevelInfo) // LOG_LEVEL is read once, at start
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		req := &loggedRequest{statusRecorder: statusRecorder{ResponseWriter: w, status: http.StatusOK}}
		id := r.Header.Get("X-Request-Id")
		if id == "" || !requestID.MatchString(id) {
			id = newRequestID()
		}
		req.id[0] = id
		w.Header()["X-Request-Id"] = req.id[:]
		next.ServeHTTP(req, r)
		if !lines {
			return
		}
		info, rec := &req.info, &req.statusRecorder
		took := time.Since(start)
		buf := lineBuffers.Get().(*[]byte)
		b := append((*buf)[:0], `{"time":"`...)
		b = start.Add(took).AppendFormat(b, time.RFC3339Nano)
		b = append(b, `","level":"INFO","msg":"request","requestId":`...)
		b = appendJSONString(b, id)
		b = append(b, `,"method":`...)
		b = appendJSONString(b, r.Method)
		b = append(b, `,"path":`...)
		b = appendJSONString(b, r.URL.Path)
		b = append(b, `,"status":`...)
		b = strconv.AppendInt(b, int64(rec.status), 10)
		b = append(b, `,"duration":`...)
		b = strconv.AppendInt(b, int64(took), 10)
		if traced {
			if trace := tracing.TraceID(r.Context()); trace != "" {
				b = append(b, `,"traceId":`...)
				b = appendJSONString(b, trace)
			}
		}
		if info.Operation != "" {
			b = append(b, `,"operation":`...)
			b = appendJSONString(b, info.Operation)
			b = append(b, `,"upstreamCalls":`...)
			b = strconv.AppendInt(b, int64(info.UpstreamCalls), 10)
			if info.Response {
				b = append(b, `,"cache":"response"`...)
			} else {
				b = append(b, `,"cache":{"hit":`...)
				b = strconv.AppendInt(b, int64(info.Hits), 10)
				b = append(b, `,"miss":`...)
				b = strconv.AppendInt(b, int64(info.Misses), 10)
				b = append(b, `,"stale":`...)
				b = strconv.AppendInt(b, int64(info.Stale), 10)
				b = append(b, `,"revalidating":`...)
				b = strconv.AppendInt(b, int64(info.Revalidating), 10)
				b = append(b, '}')
			}
		}
		if caller := auth.Caller(r); caller != "" {
			b = append(b, `,"caller":`...)
			b = appendJSONString(b, caller)
		}
		b = append(b, "}\n"...)
		logs.Write(b)
		*buf = b
		lineBuffers.Put(buf)
	})
}

// loggedRequest is accessLog's state of one request, in one allocation: the writer the
// handlers write to, which collects what the GraphQL layer learns of the request.
type loggedRequest struct {
	statusRecorder
	info graph.RequestInfo
	id   [1]string // the X-Request-Id header's value
}

func (l *loggedRequest) RequestInfo() *graph.RequestInfo { return &l.info }

var lineBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// appendJSONString appends s as a JSON string, as encoding/json would but for HTML, which a log
// line need not escape.
func appendJSONString(b []byte, s string) []byte {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\ufffd")
	}
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, `\u00`...)
			b = append(b, "0123456789abcdef"[c>>4], "0123456789abcdef"[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// requestID is what an incoming X-Request-Id must look like to be kept: a UUID, a trace id or
// the like, nothing that could forge a log line.
var requestID = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// newRequestID returns 32 hex digits: 64 random bits drawn once per process, then a count of the
// requests it has seen. Request ids need to be unique, across replicas too, not secret, and a
// counter is cheaper than drawing random bits for each request on the warm path.
func newRequestID() string {
	var b [16]byte
	var h [32]byte
	binary.BigEndian.PutUint64(b[:8], requestIDPrefix)
	binary.BigEndian.PutUint64(b[8:], requestCount.Add(1))
	hex.Encode(h[:], b[:])
	return string(h[:])
}

var (
	requestIDPrefix = mrand.Uint64()
	requestCount    atomic.Uint64
)

// bufferedLog is where log lines go: a buffer, written out when it is full and at least every
// logFlushInterval, so that a line per request does not cost a write each (one per request
// halved the throughput of cached answers). Close writes out the rest.
type bufferedLog struct {
	mu   sync.Mutex
	w    *bufio.Writer
	done chan struct{}
	wg   sync.WaitGroup
}

const logFlushInterval = 200 * time.Millisecond

func newBufferedLog(w io.Writer) *bufferedLog {
	b := &bufferedLog{w: bufio.NewWriterSize(w, 64<<10), done: make(chan struct{})}
	b.wg.Go(func() {
		tick := time.NewTicker(logFlushInterval)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				b.flush()
			case <-b.done:
				b.flush()
				return
			}
		}
	})
	return b
}

func (b *bufferedLog) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.w.Write(p)
}

func (b *bufferedLog) flush() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.w.Flush()
}

// Close writes out what is buffered and stops the flushing.
func (b *bufferedLog) Close() {
	close(b.done)
	b.wg.Wait()
}
