package complexity

import (
	"fmt"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"
)

// List sizes the cost estimate assumes where it cannot know them: a history holds tickets in the
// tens (the upstream's example histories hold up to 40), a customer a few contracts, and every
// other list (tags, intents, attachments, agents, options, ...) about ten entries.
const (
	assumedTickets   = 50
	assumedContracts = 5
	assumedList      = 10
)

// Cost is what Estimate finds.
type Cost struct {
	Cost        int64
	Contracts   map[string]struct{} // the distinct ids the root fields name
	Introspects bool                // a root field is __schema or __type
	Timed       bool                // an aggregate is taken at the request's time (no now)
}

// Estimate estimates what op, a validated operation of schema, costs, as GitHub and Apollo do for their rate limits: each object a
// field returns costs 1 and scalars nothing, and a list multiplies what its elements cost by
// its length: contracts(ids) by the number of ids, tickets and the other lists by the assumed
// sizes above. Fragments count as if inlined; introspection and __typename cost nothing (the
// schema's size bounds them). It also collects the ids the root fields name.
// It stops collecting past maxContracts, the most anyone needs to know of, and notes whether an
// aggregate is taken at the request's own time (stats or historyStats without now).
func Estimate(schema *ast.Schema, op *ast.OperationDefinition, vars map[string]any, maxContracts int) Cost {
	w := costWalker{schema: schema, vars: vars, fragments: map[fragmentKey]int64{}, contracts: map[string]struct{}{}, maxContracts: maxContracts}
	c := w.set(op.SelectionSet, true)
	return Cost{Cost: c, Contracts: w.contracts, Introspects: w.introspects, Timed: w.timed}
}

type costWalker struct {
	schema       *ast.Schema
	vars         map[string]any
	fragments    map[fragmentKey]int64
	contracts    map[string]struct{}
	maxContracts int
	introspects  bool
	timed        bool
	page         int64 // the edges of the ticketsConnection being walked
	statsRows    int64 // the rows of the historyStats being walked
}

// fragmentKey is a fragment in the list sizes it is spread under: edges and rows cost what
// the ticketsConnection and historyStats around them set, so a fragment's cost under first: 1
// is not its cost under first: 50.
type fragmentKey struct {
	def             *ast.FragmentDefinition
	page, statsRows int64
}

func (w *costWalker) set(set ast.SelectionSet, root bool) int64 {
	var total int64
	for _, sel := range set {
		switch x := sel.(type) {
		case *ast.Field:
			total = add(total, w.field(x, root))
		case *ast.InlineFragment:
			total = add(total, w.set(x.SelectionSet, root))
		case *ast.FragmentSpread:
			if x.Definition == nil {
				continue
			}
			key := fragmentKey{x.Definition, w.page, w.statsRows}
			if c, ok := w.fragments[key]; ok && !root {
				total = add(total, c)
				continue
			}
			c := w.set(x.Definition.SelectionSet, root)
			if !root { // at the root it also collects ids: walked each time (root fragments are few)
				w.fragments[key] = c
			}
			total = add(total, c)
		}
	}
	return total
}

func (w *costWalker) field(f *ast.Field, root bool) int64 {
	if root && (f.Name == "__schema" || f.Name == "__type") {
		w.introspects = true
	}
	if strings.HasPrefix(f.Name, "__") || f.Definition == nil {
		return 0
	}
	if root && f.ObjectDefinition != nil && (f.ObjectDefinition.Name == "Query" || f.ObjectDefinition.Name == "Subscription") {
		w.collect(f)
	}
	def := w.schema.Types[f.Definition.Type.Name()]
	if def == nil || !def.IsCompositeType() {
		return 0
	}
	n := int64(1)
	if f.Definition.Type.Elem != nil {
		n = w.listSize(f)
	}
	var scan int64 // aggregates read every ticket of the histories they are over
	switch f.ObjectDefinition.Name + "." + f.Name {
	case "ContractHistory.ticketsConnection":
		outer := w.page
		w.page = pageSize(f.ArgumentMap(w.vars), "first", "last")
		defer func() { w.page = outer }()
	case "ContractHistory.stats":
		scan = assumedTickets
		w.timed = w.timed || f.ArgumentMap(w.vars)["now"] == nil
	case "Query.historyStats":
		scan = mul(w.historyStatsIDs(f), assumedTickets)
		w.timed = w.timed || f.ArgumentMap(w.vars)["now"] == nil
	}
	return add(scan, mul(n, add(1, w.set(f.SelectionSet, false))))
}

func (w *costWalker) listSize(f *ast.Field) int64 {
	switch f.ObjectDefinition.Name + "." + f.Name {
	case "Query.contracts":
		return int64(len(asList(f.ArgumentMap(w.vars)["ids"])))
	case "HistoryStats.rows":
		return w.statsRows
	case "ContractHistory.tickets":
		return pageSize(f.ArgumentMap(w.vars), "first")
	case "TicketConnection.edges":
		return w.page
	case "Customer.contracts":
		return assumedContracts
	}
	return assumedList
}

// pageSize is how many tickets a page holds at most: the smallest of the given bounds and
// the assumed length of a history.
func pageSize(args map[string]any, bounds ...string) int64 {
	n := int64(assumedTickets)
	for _, b := range bounds {
		if v, ok := args[b].(int64); ok && v >= 0 {
			n = min(n, v)
		}
	}
	return n
}

// historyStatsIDs counts the contracts of a historyStats field, and remembers it as the length of
// its rows.
func (w *costWalker) historyStatsIDs(f *ast.Field) int64 {
	w.statsRows = int64(len(asList(f.ArgumentMap(w.vars)["contractIds"])))
	return w.statsRows
}

// collect notes the contract ids a root field names.
func (w *costWalker) collect(f *ast.Field) {
	var ids []any
	switch f.Name {
	case "contract":
		ids = asList(f.ArgumentMap(w.vars)["id"])
	case "contracts", "contractChanged":
		ids = asList(f.ArgumentMap(w.vars)["ids"])
	case "historyStats":
		ids = asList(f.ArgumentMap(w.vars)["contractIds"])
	}
	for _, id := range ids {
		if len(w.contracts) > w.maxContracts {
			return
		}
		s, ok := id.(string)
		if !ok {
			s = fmt.Sprint(id)
		}
		w.contracts[s] = struct{}{}
	}
}

// asList reads a list argument: GraphQL takes a single value where a list is expected.
func asList(v any) []any {
	switch l := v.(type) {
	case nil:
		return nil
	case []any:
		return l
	}
	return []any{v}
}
