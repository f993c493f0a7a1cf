package complexity

import (
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
)

// The schema's lists and arguments the estimate knows by name, and nothing else.
const schemaText = `
type Query { contract(id: ID!): Contract  contracts(ids: [ID!]!): [Contract]! }
type Contract { id: ID! history: ContractHistory! }
type ContractHistory { tickets(first: Int): [Ticket!]! }
type Ticket { id: ID! tags: [Tag!]! }
type Tag { name: String }
`

func TestCheckShape(t *testing.T) {
	limits := ShapeLimits{Depth: 3, Aliases: 1, RootFields: 2, Directives: 1}
	for _, tt := range []struct {
		query string
		bound Bound // 0: none passed
	}{
		{`{ contract(id: "1") { history { tickets { id } } } }`, Depth},
		{`{ contract(id: "1") { history { tickets } } }`, 0},
		{`{ a: contract(id: "1") { id } b: contract(id: "2") { id } }`, Aliases},
		{`{ contract(id: "1") { id } contracts(ids: []) { id } x: __typename }`, RootFields},
		{`{ contract(id: "1") @skip(if: false) { id @include(if: true) } }`, Directives},
		{`{ contract(id: "1") { ` + strings.Repeat("id ", MaxRepeats+1) + `} }`, Repeats},
		{`{ contract(id: "1") { ...F } } fragment F on Contract { ...F }`, 0}, // a cycle is validation's
	} {
		doc, err := parser.ParseQuery(&ast.Source{Input: tt.query})
		if err != nil {
			t.Fatal(err)
		}
		v := CheckShape(doc, limits)
		switch {
		case tt.bound == 0 && v != nil:
			t.Errorf("CheckShape(%s) = %+v, want none", tt.query, v)
		case tt.bound != 0 && (v == nil || v.Bound != tt.bound || v.Counted <= v.Allowed || v.Message == ""):
			t.Errorf("CheckShape(%s) = %+v, want bound %d passed", tt.query, v, tt.bound)
		}
	}
}

func TestEstimate(t *testing.T) {
	schema := gqlparser.MustLoadSchema(&ast.Source{Input: schemaText})
	for _, tt := range []struct {
		query     string
		vars      map[string]any
		cost      int64
		contracts int
	}{
		// A contract, its history, 50 assumed tickets.
		{`{ contract(id: "1") { history { tickets { id } } } }`, nil, 52, 1},
		// Three ids, each 1 + its history 1.
		{`query($ids: [ID!]!) { contracts(ids: $ids) { history { id: __typename } } }`, map[string]any{"ids": []any{"1", "2", "1"}}, 6, 2},
		// first: 2 tickets, each with 10 assumed tags.
		{`{ contract(id: "1") { history { tickets(first: 2) { tags { name } } } } }`, nil, 1 + 1 + 2*(1+10), 1},
	} {
		doc, errs := gqlparser.LoadQuery(schema, tt.query)
		if errs != nil {
			t.Fatal(errs)
		}
		c := Estimate(schema, doc.Operations[0], tt.vars, 100)
		if c.Cost != tt.cost || len(c.Contracts) != tt.contracts {
			t.Errorf("Estimate(%s) = %d, %d contracts; want %d, %d", tt.query, c.Cost, len(c.Contracts), tt.cost, tt.contracts)
		}
	}
}
