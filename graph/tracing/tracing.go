// Package tracing traces requests with OpenTelemetry: a span for each HTTP request (continuing
// an incoming W3C traceparent), each GraphQL operation with its parse, validate and execute
// phases, each batch of history loads and each upstream attempt (whose traceparent goes to
// Enneo). Spans carry no personal data and no tokens: no query text, no variables, no query
// strings, and contract ids only when the operator asks for them.
//
// The spans are written by hand on the OpenTelemetry API rather than with otelhttp, whose spans
// record full URLs: a GET's query string holds the variables, an upstream URL the contract id.
package tracing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/redis/go-redis/extra/redisotel/v9"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// Tracing makes the facade's spans with one TracerProvider.
type Tracing struct {
	tracer      trace.Tracer
	provider    trace.TracerProvider
	propagator  propagation.TextMapPropagator
	contractIDs bool
}

// New returns Tracing on tp. With contractIDs, batch spans name their contracts.
func New(tp trace.TracerProvider, contractIDs bool) *Tracing {
	return &Tracing{
		tracer:      tp.Tracer("github.com/enneo-facade/facade"),
		provider:    tp,
		propagator:  propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}),
		contractIDs: contractIDs,
	}
}

// NewOTLP returns Tracing that exports over OTLP/HTTP as the standard OTEL_* variables say
// (OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, headers, timeouts, the
// sampler, the resource's attributes: the SDK reads them itself), and the function that
// stops it, giving the spans still buffered five seconds to be exported (log hears of those
// that were not).
func NewOTLP(ctx context.Context, contractIDs bool, log *slog.Logger) (*Tracing, func(), error) {
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("OTLP exporter: %w", err)
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(attribute.String("service.name", "enneo-facade")))
	if err != nil {
		return nil, nil, err
	}
	// OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES, where set, win.
	if env, err := resource.New(ctx, resource.WithFromEnv()); err == nil {
		if merged, err := resource.Merge(res, env); err == nil {
			res = merged
		}
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	stop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := tp.Shutdown(ctx); err != nil {
			log.Warn("traces could not all be exported", "err", err)
		}
	}
	return New(tp, contractIDs), stop, nil
}

// Provider is the TracerProvider the spans are made with, for other instrumentation (Redis).
func (t *Tracing) Provider() trace.TracerProvider { return t.provider }

// InstrumentRedis traces rdb's commands with go-redis' own hooks, their arguments (keys,
// values) kept out of spans; nothing on a nil t (tracing off).
func (t *Tracing) InstrumentRedis(rdb redis.UniversalClient) error {
	if t == nil {
		return nil
	}
	return redisotel.InstrumentTracing(rdb, redisotel.WithTracerProvider(t.provider),
		redisotel.WithDBStatement(false), redisotel.WithCallerEnabled(false), redisotel.WithDialFilter(true))
}

// TraceID returns the id of the trace ctx is in, for log lines; "" outside one.
func TraceID(ctx context.Context) string {
	if sc := trace.SpanContextFromContext(ctx); sc.HasTraceID() {
		return sc.TraceID().String()
	}
	return ""
}

// Handler makes a server span for each request, named by its method and path (never its query
// string), continuing the trace of an incoming traceparent.
func (t *Tracing) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := t.propagator.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		ctx, span := t.tracer.Start(ctx, r.Method+" "+r.URL.Path, trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(attribute.String("http.request.method", r.Method), attribute.String("url.path", r.URL.Path)))
		defer span.End()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r.WithContext(ctx))
		span.SetAttributes(attribute.Int("http.response.status_code", rec.status))
		if rec.status >= 500 {
			span.SetStatus(codes.Error, http.StatusText(rec.status))
		}
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// Transport makes a client span for each attempt at the upstream and sends its traceparent
// along. The span names the route, not the path, which holds the contract id.
func (t *Tracing) Transport(next http.RoundTripper) http.RoundTripper {
	return roundTripper{t: t, next: next}
}

type roundTripper struct {
	t    *Tracing
	next http.RoundTripper
}

func (rt roundTripper) RoundTrip(r *http.Request) (*http.Response, error) {
	ctx, span := rt.t.tracer.Start(r.Context(), r.Method+" /contract/{contractId}/history", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("http.request.method", r.Method), attribute.String("server.address", r.URL.Hostname())))
	defer span.End()
	if rt.t.contractIDs {
		span.SetAttributes(attribute.String("url.path", r.URL.Path))
	}
	r = r.Clone(ctx)
	rt.t.propagator.Inject(ctx, propagation.HeaderCarrier(r.Header))
	resp, err := rt.next.RoundTrip(r)
	switch {
	case err != nil:
		// The error's text holds the URL, with the contract id: only its kind is recorded.
		span.SetStatus(codes.Error, errorKind(err))
	default:
		span.SetAttributes(attribute.Int("http.response.status_code", resp.StatusCode))
		if resp.StatusCode >= 500 {
			span.SetStatus(codes.Error, http.StatusText(resp.StatusCode))
		}
	}
	return resp, err
}

func errorKind(err error) string {
	switch {
	case errors.Is(err, context.Canceled):
		return "cancelled"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	}
	return "no answer"
}

// WrapTransport returns Transport, or nil for a nil Tracing (tracing off).
func (t *Tracing) WrapTransport() func(http.RoundTripper) http.RoundTripper {
	if t == nil {
		return nil
	}
	return t.Transport
}

// Batch starts the span of a batch of history loads; end ends it.
func (t *Tracing) Batch(ctx context.Context, contracts []string) (_ context.Context, end func()) {
	attrs := []attribute.KeyValue{attribute.Int("contracts.count", len(contracts))}
	if t.contractIDs {
		attrs = append(attrs, attribute.StringSlice("contract.ids", contracts))
	}
	ctx, span := t.tracer.Start(ctx, "history.batch", trace.WithAttributes(attrs...))
	return ctx, func() { span.End() }
}

// Extension is the gqlgen extension that makes each operation's spans: the operation, and its
// parse, validate (as gqlgen timed them) and execute phases. operationName bounds the name
// recorded, as metrics do.
func (t *Tracing) Extension(operationName func(string) string) graphql.HandlerExtension {
	return extension{t: t, name: operationName}
}

type extension struct {
	t    *Tracing
	name func(string) string
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationInterceptor
} = extension{}

func (extension) ExtensionName() string                   { return "Tracing" }
func (extension) Validate(graphql.ExecutableSchema) error { return nil }

func (e extension) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	oc := graphql.GetOperationContext(ctx)
	name := oc.OperationName
	if name == "" && oc.Operation != nil {
		name = oc.Operation.Name
	}
	attrs := []attribute.KeyValue{attribute.String("graphql.operation.name", e.name(name))}
	if oc.Operation != nil {
		attrs = append(attrs, attribute.String("graphql.operation.type", string(oc.Operation.Operation)))
	}
	start := oc.Stats.OperationStart
	if start.IsZero() {
		start = time.Now()
	}
	ctx, op := e.t.tracer.Start(ctx, "graphql.operation", trace.WithTimestamp(start), trace.WithAttributes(attrs...))
	e.phase(ctx, "graphql.parse", oc.Stats.Parsing)
	e.phase(ctx, "graphql.validate", oc.Stats.Validation)
	ctx, exec := e.t.tracer.Start(ctx, "graphql.execute")
	responses := next(ctx)
	return func(ctx context.Context) *graphql.Response {
		resp := responses(ctx)
		if resp != nil && len(resp.Errors) > 0 {
			op.SetAttributes(attribute.Int("graphql.errors", len(resp.Errors)))
		}
		exec.End()
		op.End()
		return resp
	}
}

// phase records a phase gqlgen timed, after the fact.
func (e extension) phase(ctx context.Context, name string, t graphql.TraceTiming) {
	if t.Start.IsZero() || t.End.IsZero() {
		return
	}
	_, span := e.t.tracer.Start(ctx, name, trace.WithTimestamp(t.Start))
	span.End(trace.WithTimestamp(t.End))
}
