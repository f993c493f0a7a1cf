package tracing_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/redis/go-redis/extra/redisotel/v9"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/enneo-facade/facade/graph"
	"github.com/enneo-facade/facade/graph/tracing"
	"github.com/enneo-facade/facade/upstream"
	"github.com/enneo-facade/facade/upstream/cache"
	"github.com/enneo-facade/facade/upstream/redisstore"
	"github.com/enneo-facade/facade/upstream/redisstore/redistest"
)

// TestSpanTree sends one operation through the whole traced stack, with a cache on a real Redis
// and a real upstream, under an incoming traceparent: the spans form one tree (the request, the
// operation and its phases, the batch, the upstream attempt, whose traceparent reaches the
// upstream, and Redis), and none holds the contract id, the variables or the token.
func TestSpanTree(t *testing.T) {
	exporter := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exporter))
	tr := tracing.New(tp, false)

	var mu sync.Mutex
	var sentParent string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		sentParent = r.Header.Get("Traceparent")
		mu.Unlock()
		w.Write([]byte(`{"tickets":[{"id":1,"subject":"s","customer":{"contracts":[{"id":"746839"}]}}]}`))
	}))
	t.Cleanup(up.Close)
	client, err := upstream.New(upstream.Options{BaseURL: up.URL, WrapTransport: tr.WrapTransport()})
	if err != nil {
		t.Fatal(err)
	}
	store, err := redisstore.New(redisstore.Options{URL: redistest.Start(t), Prefix: redistest.Prefix(t), IOTimeout: 5 * time.Second, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	if err := redisotel.InstrumentTracing(store.Client(), redisotel.WithTracerProvider(tp), redisotel.WithDBStatement(false), redisotel.WithDialFilter(true)); err != nil {
		t.Fatal(err)
	}
	histories, err := cache.New(client, store, cache.Options{})
	if err != nil {
		t.Fatal(err)
	}
	api := httptest.NewServer(tr.Handler(graph.NewHandler(histories, graph.NewAuthenticator("", []byte("k")), graph.Options{
		Spans: tr, Extensions: []graphql.HandlerExtension{tr.Extension(graph.OperationNamer([]string{"ContractTickets"}))},
	}, slog.New(slog.DiscardHandler))))
	t.Cleanup(api.Close)

	const (
		traceID  = "4bf92f3577b34da6a3ce929d0e0e4736"
		parentID = "00f067aa0ba902b7"
		iban     = "DE89370400440532013000"
		token    = "hush-token-8e1f"
	)
	body := `{"query":"query ContractTickets($id: ID!) { contract(id: $id) { id history { tickets { subject } } } }","variables":{"id":"746839","iban":"` + iban + `"}}`
	req, _ := http.NewRequest(http.MethodPost, api.URL+"/graphql", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Traceparent", "00-"+traceID+"-"+parentID+"-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	histories.Flush() // the write behind the answer, and its span
	api.Close()       // the server span ends with its handler

	spans := exporter.GetSpans()
	byName := map[string]tracetest.SpanStub{}
	for _, s := range spans {
		if s.SpanContext.TraceID().String() != traceID {
			t.Errorf("span %q is in trace %s, want the incoming %s", s.Name, s.SpanContext.TraceID(), traceID)
		}
		byName[s.Name] = s
		for _, a := range s.Attributes {
			v := a.Value.Emit()
			for _, secret := range []string{"746839", iban, token, "hush"} {
				if strings.Contains(v, secret) || strings.Contains(s.Name, secret) {
					t.Errorf("span %q holds %q in %s=%s", s.Name, secret, a.Key, v)
				}
			}
			if strings.Contains(string(a.Key), "variables") || strings.Contains(v, "query ContractTickets") {
				t.Errorf("span %q holds the operation's text or variables: %s=%s", s.Name, a.Key, v)
			}
		}
	}
	for child, parent := range map[string]string{
		"POST /graphql":                      "",
		"graphql.operation":                  "POST /graphql",
		"graphql.parse":                      "graphql.operation",
		"graphql.validate":                   "graphql.operation",
		"graphql.execute":                    "graphql.operation",
		"history.batch":                      "graphql.execute",
		"GET /contract/{contractId}/history": "history.batch",
	} {
		s, ok := byName[child]
		switch {
		case !ok:
			t.Errorf("no span %q among %d", child, len(spans))
		case parent == "" && s.Parent.SpanID().String() != parentID:
			t.Errorf("%q's parent is %s, want the incoming %s", child, s.Parent.SpanID(), parentID)
		case parent != "" && s.Parent.SpanID() != byName[parent].SpanContext.SpanID():
			t.Errorf("%q's parent is not %q", child, parent)
		}
	}
	attempt := byName["GET /contract/{contractId}/history"]
	mu.Lock()
	if want := "00-" + traceID + "-" + attempt.SpanContext.SpanID().String() + "-01"; sentParent != want {
		t.Errorf("the upstream got traceparent %q, want %q", sentParent, want)
	}
	mu.Unlock()
	redisSpans := 0
	for _, s := range spans {
		for _, a := range s.Attributes {
			if a.Key == "db.system" || a.Key == "db.system.name" {
				redisSpans++
			}
		}
	}
	if redisSpans == 0 {
		t.Errorf("no Redis spans among %v", names(spans))
	}
	if op := byName["graphql.operation"]; !hasAttr(op, "graphql.operation.name", "ContractTickets") {
		t.Errorf("the operation span's attributes: %v", op.Attributes)
	}
}

func hasAttr(s tracetest.SpanStub, key, value string) bool {
	for _, a := range s.Attributes {
		if string(a.Key) == key && a.Value.Emit() == value {
			return true
		}
	}
	return false
}

func names(spans tracetest.SpanStubs) []string {
	var n []string
	for _, s := range spans {
		n = append(n, s.Name)
	}
	return n
}
