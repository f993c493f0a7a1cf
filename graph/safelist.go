package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/enneo-facade/facade/graph/persisted"
)

func init() { errcode.RegisterErrorType(CodeNotInSafelist, errcode.KindProtocol) }

// persistedQueries is where gqlgen's automatic persisted queries find a query by its hash:
// the manifest first, then what clients registered (in o.Persisted, or in process), or, with a
// safelist, the manifest alone.
func persistedQueries(o Options) graphql.Cache[string] {
	switch {
	case o.Safelist:
		return persisted.Chain(o.Manifest, nil)
	case o.Persisted != nil:
		return persisted.Chain(o.Manifest, o.Persisted)
	}
	return persisted.Chain(o.Manifest, lru.New[string](1000))
}

// safelist refuses every operation whose text is not, byte for byte, one of the manifest's. It
// runs after the persisted-query extension has turned an id into its text, so operations sent by
// id and safelisted operations sent in full both pass.
type safelist struct{ m *persisted.Manifest }

var _ interface {
	graphql.HandlerExtension
	graphql.OperationParameterMutator
} = safelist{}

func (safelist) ExtensionName() string                   { return "Safelist" }
func (safelist) Validate(graphql.ExecutableSchema) error { return nil }

func (s safelist) MutateOperationParameters(ctx context.Context, p *graphql.RawParams) *gqlerror.Error {
	if p.Query == "" || s.m.Allows(p.Query) {
		return nil // no query at all is gqlgen's to report
	}
	err := gqlerror.Errorf("this server runs only its persisted operations: send one by its id (documentId, or extensions.persistedQuery.sha256Hash)")
	err.Extensions = map[string]any{"code": CodeNotInSafelist}
	return err
}
