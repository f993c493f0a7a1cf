package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// TestSinkTakesTheSDKsExports: the OpenTelemetry SDK's own OTLP/HTTP exporter sends to the sink
// without error, and the sink counts what it got.
func TestSinkTakesTheSDKsExports(t *testing.T) {
	s := &sink{}
	srv := httptest.NewServer(s.routes())
	t.Cleanup(srv.Close)
	ctx := context.Background()
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(srv.URL+"/v1/traces"))
	if err != nil {
		t.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	for range 3 {
		_, span := tp.Tracer("test").Start(ctx, "span")
		span.End()
	}
	if err := tp.Shutdown(ctx); err != nil {
		t.Fatalf("the exporter failed against the sink: %v", err)
	}
	resp, err := http.Get(srv.URL + "/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var stats map[string]int64
	if err := json.NewDecoder(resp.Body).Decode(&stats); err != nil {
		t.Fatal(err)
	}
	if stats["exports"] != 3 || stats["bytes"] == 0 {
		t.Errorf("stats = %v, want 3 exports of some bytes", stats)
	}
}
