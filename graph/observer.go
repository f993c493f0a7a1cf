package graph

import (
	"context"
	"time"

	"github.com/99designs/gqlgen/graphql"
)

// Observer is told what the GraphQL layer does, for metrics. Its methods run on the paths they
// describe: they must be cheap and safe for concurrent use.
type Observer interface {
	// Operation is an answered operation: its name (one of Options.OperationNames,
	// "anonymous" or "other"), its outcome ("ok", "errors" with data, "refused" before
	// execution) and how long it took.
	Operation(name, outcome string, took time.Duration)
	// Refused is an operation held to a limit or a rate limit (by its code), or a request
	// without the API key it needs (UNAUTHENTICATED).
	Refused(code string)
	// LoaderBatch is a batch of history loads and how many contracts it held.
	LoaderBatch(size int)
	// CacheLookup is a lookup of the response cache ("response"): "hit" or "miss"; or a hot
	// history found without a batch ("hot", "hit"), once per contract and operation.
	CacheLookup(layer, result string)
}

// Spans starts the spans of what the GraphQL layer does (graph/tracing provides it).
type Spans interface {
	// Batch starts the span of a batch of history loads; the function ends it.
	Batch(ctx context.Context, contracts []string) (context.Context, func())
}

// nopObserver is the Observer of those who set none.
type nopObserver struct{}

func (nopObserver) Operation(string, string, time.Duration) {}
func (nopObserver) Refused(string)                          {}
func (nopObserver) LoaderBatch(int)                         {}
func (nopObserver) CacheLookup(string, string)              {}

// operationNames bounds the label set of operation names: those named in configuration (and
// the persisted operations), "anonymous", and "other" for every name a client may choose.
type operationNames map[string]bool

func newOperationNames(names []string) operationNames {
	m := operationNames{}
	for _, n := range names {
		m[n] = true
	}
	return m
}

// OperationNamer returns how metrics, logs and spans name an operation: as it is when it is one
// of names, else "other", or "anonymous" without one.
func OperationNamer(names []string) func(string) string { return newOperationNames(names).of }

func (m operationNames) of(name string) string {
	switch {
	case name == "":
		return "anonymous"
	case m[name]:
		return name
	}
	return "other"
}

// operationName is the name of the operation at ctx, as its client gave it; "" for none.
func operationName(ctx context.Context) string {
	if !graphql.HasOperationContext(ctx) {
		return ""
	}
	oc := graphql.GetOperationContext(ctx)
	if oc.OperationName == "" && oc.Operation != nil {
		return oc.Operation.Name
	}
	return oc.OperationName
}

// observeOperation reports an operation answered after it reached gqlgen: its name, outcome
// and time, and the limits that refused or stopped it. It returns the name as reported.
func observeOperation(ctx context.Context, obs Observer, names operationNames, q *request, resp *graphql.Response) string {
	name := operationName(ctx)
	outcome := "ok"
	switch {
	case resp.Data == nil && len(resp.Errors) > 0:
		outcome = "refused"
	case len(resp.Errors) > 0, q.op.partErrors.Load():
		outcome = "errors"
	}
	name = names.of(name)
	obs.Operation(name, outcome, time.Since(q.op.start))
	for _, code := range q.op.limitCodes() {
		obs.Refused(code)
	}
	return name
}
