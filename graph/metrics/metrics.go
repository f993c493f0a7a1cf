// Package metrics counts what the facade does in Prometheus' terms
// (github.com/prometheus/client_golang): it is the Observer of the GraphQL layer and of the
// upstream client, its cache and its Redis store, and serves them all at /metrics with Go's
// runtime and process collectors. Labels are bounded: operation names are those the operator
// configured (or "anonymous" and "other"), never a client's; no label holds a contract id, a
// token or personal data.
package metrics

import (
	"maps"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"
)

// Metrics holds the facade's metrics in a registry of its own.
type Metrics struct {
	reg *prometheus.Registry

	operations  *prometheus.CounterVec
	opDuration  *prometheus.HistogramVec
	refusals    *prometheus.CounterVec
	batchSize   prometheus.Histogram
	lookups     *prometheus.CounterVec
	calls       *prometheus.CounterVec
	callTime    *prometheus.HistogramVec
	retries     prometheus.Counter
	breaker     prometheus.Gauge
	transitions *prometheus.CounterVec
	redisErrors *prometheus.CounterVec

	// The series of the warm path, resolved once: a vector's WithLabelValues hashes its
	// labels and takes a lock at each call, and a cached answer makes three.
	lookupSeries map[[2]string]prometheus.Counter // by layer and result, every one
	mu           sync.Mutex
	opSeries     atomic.Pointer[map[string]*operationSeries] // by name, copied on write
}

// operationSeries are one operation name's series.
type operationSeries struct {
	outcomes map[string]prometheus.Counter
	duration prometheus.Observer
}

// New returns the facade's metrics, with Go's runtime and process collectors.
func New() *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := &Metrics{reg: reg}
	m.operations = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "facade_operations_total",
		Help: "GraphQL operations answered, by operation name and outcome (ok, errors: data with errors, refused: not executed).",
	}, []string{"operation", "outcome"})
	m.opDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "facade_operation_duration_seconds",
		Help:    "Time to answer a GraphQL operation, by operation name.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"operation"})
	m.refusals = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "facade_refusals_total",
		Help: "Operations refused or cut short by a limit or a rate limit, and requests without a required API key, by code.",
	}, []string{"code"})
	m.batchSize = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "facade_loader_batch_size",
		Help:    "Contracts in one batch of history loads.",
		Buckets: []float64{1, 2, 5, 10, 20, 50, 100, 200},
	})
	m.lookups = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "facade_cache_lookups_total",
		Help: "Cache lookups by layer (response, hot, store) and result (hit, miss, stale, revalidating, error).",
	}, []string{"layer", "result"})
	m.calls = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "facade_upstream_calls_total",
		Help: "Attempts at the upstream by status class (2xx, 4xx, 5xx, no_answer: a timeout or a connection error, breaker_open: none made).",
	}, []string{"status"})
	m.callTime = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "facade_upstream_call_duration_seconds",
		Help:    "Time of one attempt at the upstream, from the request to the last byte of the body, by status class.",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
	}, []string{"status"})
	m.retries = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "facade_upstream_retries_total",
		Help: "Attempts at the upstream repeated after a connection error, a 502, 503, 504 or 429.",
	})
	m.breaker = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "facade_upstream_breaker_state",
		Help: "The upstream circuit breaker: 0 closed, 1 half-open, 2 open.",
	})
	m.transitions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "facade_upstream_breaker_transitions_total",
		Help: "Changes of the upstream circuit breaker's state, by the state it went to.",
	}, []string{"to"})
	m.redisErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "facade_redis_errors_total",
		Help: "Redis calls that failed (not those their callers gave up on), by operation.",
	}, []string{"op"})
	for _, c := range []prometheus.Collector{m.operations, m.opDuration, m.refusals, m.batchSize, m.lookups,
		m.calls, m.callTime, m.retries, m.breaker, m.transitions, m.redisErrors} {
		reg.MustRegister(c)
	}
	// Every lookup that can happen, so that each series is there from the start (at 0).
	m.lookupSeries = map[[2]string]prometheus.Counter{}
	for layer, results := range map[string][]string{
		"response": {"hit", "miss"},
		"hot":      {"hit", "miss", "stale", "revalidating"},
		"store":    {"hit", "miss", "stale", "revalidating", "error"},
	} {
		for _, result := range results {
			m.lookupSeries[[2]string{layer, result}] = m.lookups.WithLabelValues(layer, result)
		}
	}
	m.opSeries.Store(&map[string]*operationSeries{})
	return m
}

// Handler serves the metrics in Prometheus' text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// RedisPool adds the connection pool of a Redis client: hits, misses and timeouts of taking a
// connection, and the connections open and idle.
func (m *Metrics) RedisPool(rdb redis.UniversalClient) {
	stat := func(name, help string, value func(*redis.PoolStats) uint32, counter bool) {
		opts := prometheus.Opts{Name: name, Help: help}
		read := func() float64 { return float64(value(rdb.PoolStats())) }
		if counter {
			m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts(opts), read))
		} else {
			m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts(opts), read))
		}
	}
	stat("facade_redis_pool_hits_total", "Connections taken from the Redis pool's idle ones.", func(s *redis.PoolStats) uint32 { return s.Hits }, true)
	stat("facade_redis_pool_misses_total", "Connections the Redis pool had to open.", func(s *redis.PoolStats) uint32 { return s.Misses }, true)
	stat("facade_redis_pool_timeouts_total", "Waits for a Redis pool connection that timed out.", func(s *redis.PoolStats) uint32 { return s.Timeouts }, true)
	stat("facade_redis_pool_connections", "Connections open to Redis.", func(s *redis.PoolStats) uint32 { return s.TotalConns }, false)
	stat("facade_redis_pool_idle_connections", "Idle connections to Redis.", func(s *redis.PoolStats) uint32 { return s.IdleConns }, false)
}

// HeavyOperations adds the heavy operations waiting for their turn and running (the
// admission gate's Waiting and Running).
func (m *Metrics) HeavyOperations(waiting, running func() int64) {
	for state, read := range map[string]func() int64{"waiting": waiting, "running": running} {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "facade_heavy_operations", Help: "Heavy operations (estimated cost of HEAVY_COST or more) waiting for their turn, and running.",
			ConstLabels: prometheus.Labels{"state": state},
		}, func() float64 { return float64(read()) }))
	}
}

// Subscriptions shows the subscriptions the process holds, and the contracts they watch (one
// per contract and credential scope: what a change is read for).
func (m *Metrics) Subscriptions(watched func() (subscriptions, watches int)) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "facade_subscriptions", Help: "Subscriptions (contractChanged) the process holds.",
	}, func() float64 { n, _ := watched(); return float64(n) }))
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "facade_watched_contracts", Help: "Contracts the subscriptions watch, one per credential scope: the reads one change of each costs.",
	}, func() float64 { _, n := watched(); return float64(n) }))
}

// Operation implements graph.Observer.
func (m *Metrics) Operation(name, outcome string, took time.Duration) {
	op := m.operation(name)
	if c, ok := op.outcomes[outcome]; ok {
		c.Inc()
	} else {
		m.operations.WithLabelValues(name, outcome).Inc()
	}
	op.duration.Observe(took.Seconds())
}

// operation returns name's series, resolving them on first use. Names are few (the graph
// layer bounds them), so the map is copied whenever one is added.
func (m *Metrics) operation(name string) *operationSeries {
	if op, ok := (*m.opSeries.Load())[name]; ok {
		return op
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	old := *m.opSeries.Load()
	if op, ok := old[name]; ok {
		return op
	}
	op := &operationSeries{outcomes: map[string]prometheus.Counter{}, duration: m.opDuration.WithLabelValues(name)}
	for _, outcome := range []string{"ok", "errors", "refused"} {
		op.outcomes[outcome] = m.operations.WithLabelValues(name, outcome)
	}
	next := make(map[string]*operationSeries, len(old)+1)
	maps.Copy(next, old)
	next[name] = op
	m.opSeries.Store(&next)
	return op
}

// Refused implements graph.Observer.
func (m *Metrics) Refused(code string) { m.refusals.WithLabelValues(code).Inc() }

// LoaderBatch implements graph.Observer.
func (m *Metrics) LoaderBatch(size int) { m.batchSize.Observe(float64(size)) }

// CacheLookup implements graph.Observer and cache.Observer.
func (m *Metrics) CacheLookup(layer, result string) {
	if c, ok := m.lookupSeries[[2]string{layer, result}]; ok {
		c.Inc()
		return
	}
	m.lookups.WithLabelValues(layer, result).Inc()
}

// UpstreamCall implements upstream.Observer.
func (m *Metrics) UpstreamCall(status int, took time.Duration) {
	class := statusClass(status)
	m.calls.WithLabelValues(class).Inc()
	if status >= 0 {
		m.callTime.WithLabelValues(class).Observe(took.Seconds())
	}
}

// UpstreamRetry implements upstream.Observer.
func (m *Metrics) UpstreamRetry() { m.retries.Inc() }

// BreakerChanged implements upstream.Observer.
func (m *Metrics) BreakerChanged(_, to string) {
	m.transitions.WithLabelValues(to).Inc()
	m.breaker.Set(map[string]float64{"closed": 0, "half-open": 1, "open": 2}[to])
}

// RedisError implements redisstore.Observer.
func (m *Metrics) RedisError(op string) { m.redisErrors.WithLabelValues(op).Inc() }

func statusClass(status int) string {
	switch {
	case status < 0:
		return "breaker_open"
	case status == 0:
		return "no_answer"
	}
	return strconv.Itoa(status/100) + "xx"
}
