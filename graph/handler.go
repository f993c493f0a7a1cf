package graph

import (
	"log/slog"
	"net/http"

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
	gql := handler.New(NewExecutableSchema(Config{Resolvers: &Resolver{}}))
	gql.AddTransport(transport.Options{})
	gql.AddTransport(transport.GET{})
	gql.AddTransport(transport.POST{})
	gql.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	gql.Use(extension.Introspection{})
	gql.Use(extension.AutomaticPersistedQuery{Cache: lru.New[string](1000)})
	gql.SetErrorPresenter(ErrorPresenter(log))
	gql.SetRecoverFunc(Recover(log))
	gql.AroundFields(UndecodableFields)
	return withLoaders(fetch, auth, o, gql)
}
