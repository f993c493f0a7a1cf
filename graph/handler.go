package graph

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/enneo-facade/facade/graph/admission"
	"github.com/enneo-facade/facade/graph/audit"
	"github.com/enneo-facade/facade/graph/live"
	"github.com/enneo-facade/facade/graph/persisted"
	"github.com/enneo-facade/facade/graph/personal"
	"github.com/enneo-facade/facade/upstream"
)

// Options tunes the GraphQL handler.
type Options struct {
	// Wait is how long a batch collects keys before it runs (default 1ms). gqlgen starts the
	// resolvers of one level within microseconds of each other, so a short wait gathers them all;
	// histories that are hot in the process skip it (see loadHistories).
	Wait time.Duration
	// Invalidator drops cached histories for the invalidateContractHistory mutation; nil when
	// nothing is cached.
	Invalidator Invalidator
	// AdminToken is the bearer token the mutation requires; empty turns the mutation off.
	AdminToken string
	// Changes tells which contracts were invalidated, for the response cache; nil turns the
	// response cache off (as when nothing is cached).
	Changes ChangeTracker
	// ResponseCacheBytes bounds the response cache (default 8 MiB).
	ResponseCacheBytes int64
	// Live is what subscriptions hear changes from; nil: subscriptions are refused.
	Live *live.Hub
	// WebSocketOrigins may open a WebSocket from a browser: "scheme://host" each, or "*" for
	// any; none: only pages of the server's own host (CORS_ORIGINS).
	WebSocketOrigins []string
	// Stopping is closed when the server begins to shut down: subscriptions' streams end then,
	// without completing, so that their clients subscribe again elsewhere (nil: never).
	Stopping <-chan struct{}
	// Compress is the HTTP layer's compression, which wraps every answer. The response cache
	// runs it itself on the answers it keeps, once a second per entry and Accept-Encoding,
	// instead of leaving it to compress the same bytes for every request; nil: answers go out
	// as they are.
	Compress func(http.Handler) http.Handler
	// Timeout bounds each operation's execution; 0 leaves it unbounded. Answers from the
	// response cache need none.
	Timeout time.Duration
	// Zone is where zoneless DateTime arguments are read and the months of byMonth fall
	// (default upstream.DefaultZone): the upstream's TIME_ZONE.
	Zone *time.Location
	// Limits bound each operation (zero fields: DefaultLimits).
	Limits Limits
	// Introspection lets operations read the schema (__schema, __type); off, they are refused
	// with INTROSPECTION_DISABLED before they run. __typename is always allowed.
	Introspection bool
	// Suggestions keeps "Did you mean ...?" in validation errors, which tell the schema's names
	// to whoever guesses at them.
	Suggestions bool
	// Manifest holds persisted operations, which clients may send by id (documentId, or the
	// hash of automatic persisted queries) instead of their text; nil for none.
	Manifest *persisted.Manifest
	// Safelist runs only the operations of Manifest: any other text is refused with
	// PERSISTED_QUERY_NOT_IN_LIST, and clients cannot register queries of their own.
	Safelist bool
	// Persisted keeps the queries clients register by automatic persisted queries (APQ);
	// nil keeps them in process. Unused with Safelist.
	Persisted graphql.Cache[string]
	// Spans, when set, makes a span of each batch of history loads, and Extensions are added
	// to gqlgen's executor (the tracing of operations).
	Spans      Spans
	Extensions []graphql.HandlerExtension
	// Observer is told of every operation, refusal, batch and response-cache lookup (nil:
	// none). OperationNames are the names it is told as they are; any other is "other".
	Observer       Observer
	OperationNames []string
	// RateLimiter, when set, takes each operation's estimated cost from its caller's budget
	// before it runs, and refuses it with RATE_LIMITED (HTTP 429) when the budget cannot pay.
	RateLimiter RateLimiter
	// Admission holds heavy operations to their turns; nil: a gate with admission's defaults
	// (Limits.Cost per CPU at once).
	Admission *admission.Gate
	// PersonalData is the policy of callers without one of their own (PERSONAL_DATA), for the
	// Authenticator; PseudonymSecret keys masked values' pseudonyms ("": random per process).
	PersonalData    personal.Policy
	PseudonymSecret string
	// AuditLog is where the audit goes (AUDIT_LOG: a file, or stderr), opened as Audit; nil
	// Audit: no audit.
	AuditLog string
	Audit    *audit.Log

	personal personalOptions // NewHandler's, for every request
}

// NewHandler returns the /graphql endpoint: gqlgen's executor over POST and GET (GET runs
// queries only), parsed-query and persisted-query caches, the error presenter, a fresh set of
// history loaders for every executed request, bound to the request's credential, and with
// o.Changes a response cache in front of it all.
func NewHandler(fetch HistoryFetcher, auth *Authenticator, o Options, log *slog.Logger) http.Handler {
	o.Limits = o.Limits.withDefaults()
	if o.Admission == nil {
		o.Admission = admission.New(admission.Options{}.WithDefaults(o.Limits.Cost))
	}
	if o.Zone == nil {
		o.Zone = upstream.DefaultZone()
	}
	if o.Observer == nil {
		o.Observer = nopObserver{}
	}
	o.personal = personalOptions{masker: newMasker(o.PseudonymSecret, auth, log), audit: o.Audit}
	names := newOperationNames(o.OperationNames)
	gql := handler.New(NewExecutableSchema(Config{Resolvers: &Resolver{live: o.Live, invalidator: o.Invalidator, adminToken: o.AdminToken, zone: o.Zone}}))
	gql.AddTransport(transport.Options{})
	gql.AddTransport(newWebSocket(auth, o.WebSocketOrigins, o.Timeout))
	gql.AddTransport(get{})
	gql.AddTransport(post{})
	gql.AddTransport(refusal{}) // last: whatever the others do not take
	if o.Introspection {
		gql.Use(extension.Introspection{})
	}
	gql.SetDisableSuggestion(!o.Suggestions)
	gql.Use(extension.AutomaticPersistedQuery{Cache: persistedQueries(o)})
	if o.Safelist {
		gql.Use(safelist{o.Manifest})
	}
	parsed := lru.New[*ast.QueryDocument](1000)
	gql.SetQueryCache(parsed)
	gql.SetParserTokenLimit(o.Limits.Tokens)
	gql.Use(&operationLimits{limits: o.Limits, parsed: parsed, rates: o.RateLimiter, gate: o.Admission, introspection: o.Introspection})
	for _, ext := range o.Extensions {
		gql.Use(ext)
	}
	gql.SetErrorPresenter(ErrorPresenter(log))
	gql.SetRecoverFunc(Recover(log))
	rc := newResponseCache(o)
	gql.AroundResponses(func(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
		resp := next(ctx)
		q := requestFrom(ctx)
		if resp == nil || q == nil {
			return resp
		}
		if resp.HasNext != nil && *resp.HasNext {
			// A part of an incremental answer (@defer) with more to come: what concerns the
			// operation as a whole (its log line, metrics, cost, provenance) goes with the last.
			if len(resp.Errors) > 0 {
				q.op.partErrors.Store(true)
			}
			trimErrors(resp)
			if !o.Suggestions {
				withoutSuggestions(resp)
			}
			return resp
		}
		q.op.logErrors(ctx, log, q.cred.Key)
		name := observeOperation(ctx, o.Observer, names, q, resp)
		recordRequest(name, q)
		trimErrors(resp)
		if !o.Suggestions {
			withoutSuggestions(resp)
		}
		q.op.reportCost(resp, o.RateLimiter)
		audited := q.writeAudit(operationName(ctx), resp.Data != nil) // its tail, for the response cache
		if rc != nil {
			rc.store(ctx, resp, q, name, audited)
		}
		reportProvenance(resp, q)
		return resp
	})
	var h http.Handler = withRequest(fetch, auth, o, gql)
	if rc != nil {
		h = rc.serve(auth, h) // a cached answer needs neither loaders nor a deadline
	}
	return h
}

// historyReport is reported for each history an operation used, in extensions.histories.
type historyReport struct {
	Cache      string `json:"cache"`
	AgeSeconds int64  `json:"ageSeconds"`
}

// reportProvenance says in extensions.histories where each history the operation used came
// from: {"746839": {"cache": "hit", "ageSeconds": 12}}; "stale" marks an expired entry served
// because the upstream failed.
func reportProvenance(resp *graphql.Response, q *request) {
	if q.used.len() == 0 {
		return
	}
	now := time.Now()
	histories := map[string]historyReport{}
	q.used.each(func(id string, u historyUse) {
		histories[id] = historyReport{Cache: u.cache, AgeSeconds: int64(now.Sub(u.fetched).Seconds())}
	})
	if resp.Extensions == nil {
		resp.Extensions = map[string]any{}
	}
	resp.Extensions["histories"] = histories
}
