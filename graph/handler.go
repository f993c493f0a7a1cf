package graph

import (
	"context"
	"log/slog"
	"maps"
	"net/http"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"
)

// NewHandler returns the /graphql endpoint: gqlgen's executor over POST and GET (GET runs
// queries only), parsed-query and persisted-query caches, the error presenter, and a fresh set of
// history loaders for every request, bound to the request's credential.
func NewHandler(fetch HistoryFetcher, auth *Authenticator, o Options, log *slog.Logger) http.Handler {
	gql := handler.New(NewExecutableSchema(Config{Resolvers: &Resolver{invalidator: o.Invalidator, adminToken: o.AdminToken}}))
	gql.AddTransport(transport.Options{})
	gql.AddTransport(transport.GET{})
	gql.AddTransport(transport.POST{})
	gql.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	gql.Use(extension.Introspection{})
	gql.Use(extension.AutomaticPersistedQuery{Cache: lru.New[string](1000)})
	gql.SetErrorPresenter(ErrorPresenter(log))
	gql.SetRecoverFunc(Recover(log))
	gql.AroundFields(UndecodableFields)
	gql.AroundResponses(reportProvenance)
	return withLoaders(fetch, auth, o, gql)
}

// reportProvenance says in extensions.histories where each history the operation used came
// from: {"746839": {"cache": "hit", "ageSeconds": 12}}; "stale" marks an expired entry served
// because the upstream failed.
func reportProvenance(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	resp := next(ctx)
	l := loadersFrom(ctx)
	if resp == nil || l == nil {
		return resp
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.provenance) == 0 {
		return resp
	}
	if resp.Extensions == nil {
		resp.Extensions = map[string]any{}
	}
	resp.Extensions["histories"] = maps.Clone(l.provenance)
	return resp
}
