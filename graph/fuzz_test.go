package graph

import (
	"testing"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
	"github.com/vektah/gqlparser/v2/validator"

	"github.com/enneo-facade/facade/graph/complexity"
	"github.com/enneo-facade/facade/graph/queries"
)

// FuzzCost: for any query text, the checks on its shape and the cost estimate never panic, and
// never overflow; a valid operation costs at least what its root contracts do.
func FuzzCost(f *testing.F) {
	schema := NewExecutableSchema(Config{Resolvers: &Resolver{}}).Schema()
	for _, q := range queries.Legitimate(schema) {
		f.Add(q.Query)
	}
	for _, s := range []string{
		`{ contracts(ids: ["1", "2", "1"]) { history { tickets { customer { contracts { history { tickets { id } } } } } } } }`,
		`{ a: contract(id: "1") { ...F } } fragment F on Contract { history { tickets { id } } ...G } fragment G on Contract { ...F }`,
		`query($ids: [ID!]!) { contracts(ids: $ids) { id } }`,
		`{ __schema { types { fields { type { ofType { name } } } } } }`,
		`{ contracts(ids: "1") { id } }`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		doc, err := parser.ParseQueryWithTokenLimit(&ast.Source{Input: q}, DefaultLimits.Tokens)
		if err != nil {
			return
		}
		if checkShape(doc, DefaultLimits) != nil {
			return // refused before validation, as the handler does
		}
		if errs := validator.Validate(schema, doc); len(errs) > 0 {
			return
		}
		for _, op := range doc.Operations {
			c := complexity.Estimate(schema, op, map[string]any{"ids": []any{"1", "2"}}, DefaultLimits.Contracts)
			if c.Cost < 0 || c.Cost > complexity.Saturated {
				t.Fatalf("%q costs %d", q, c.Cost)
			}
			if len(c.Contracts) > 0 && c.Cost == 0 && !c.Introspects {
				// Every contract a root field names is an object, and costs 1.
				t.Fatalf("%q names contracts %v at no cost", q, c.Contracts)
			}
		}
	})
}
