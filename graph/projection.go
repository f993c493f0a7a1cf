package graph

import (
	"context"
	"strings"
	"time"
	"weak"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/enneo-facade/facade/upstream"
	"github.com/enneo-facade/facade/upstream/lru"
)

// A history fetched from the upstream for one operation (with caching off, or on a cache miss)
// needs decoding only as far as the operation selects: its projection. Upstream object types are
// GraphQL types of the same name (up to case) whose fields are their JSON fields; the fields
// below are not, and list what their resolvers read instead, as "Type.jsonField".
var resolverNeeds = map[string]map[string][]string{
	"Query": {
		// contractIn finds the contract among the history's tickets' customers' contracts.
		"contract":  {"History.tickets", "Ticket.customer", "Customer.contracts", "Contract.id"},
		"contracts": {"History.tickets", "Ticket.customer", "Customer.contracts", "Contract.id"},
	},
	"Mutation": {"invalidateContractHistory": nil},
	"Contract": {"history": {"Contract.id", "History.tickets"}},
	"ContractHistory": {
		"contractId":        nil,
		"tickets":           {"History.tickets"},
		"ticketsConnection": {"History.tickets", "Ticket.id"}, // ids make the cursors
		"stats":             append([]string{"History.tickets"}, statsNeeds...),
	},
}

// What filters, orders and aggregates read (see graph/model), besides what is selected. The
// projection is the operation's, whatever its variables: a filter argument keeps every field
// a filter may read.
var (
	filterNeeds = []string{"Ticket.status", "Ticket.channel", "Ticket.direction", "Ticket.priority",
		"Ticket.intents", "Intent.code", "Ticket.tags", "Tag.name", "Tag.fullName", "Ticket.createdAt",
		"Ticket.closedAt", "Ticket.isEscalated", "Ticket.subject", "Ticket.bodyPlain"}
	orderNeeds = []string{"Ticket.createdAt", "Ticket.modifiedAt", "Ticket.dueBy", "Ticket.closedAt",
		"Ticket.priority", "Ticket.id"}
	statsNeeds = []string{"Ticket.status", "Ticket.channel", "Ticket.direction", "Ticket.priority",
		"Ticket.intents", "Intent.code", "Ticket.tags", "Tag.name", "Ticket.createdAt", "Ticket.closedAt",
		"Ticket.dueBy"}
	argumentNeeds = map[string][]string{"filter": filterNeeds, "orderBy": orderNeeds}
)

// computedTypes are the types of filtered pages and aggregates: their fields read nothing but
// what their parent field's needs keep.
var computedTypes = map[string]bool{
	"TicketConnection": true, "TicketEdge": true, "PageInfo": true, "TicketStats": true, "Bucket": true,
	"DurationStats": true, "DueBreaches": true, "HistoryStats": true, "ContractStats": true,
}

func init() {
	resolverNeeds["Query"]["historyStats"] = append([]string{"History.tickets"}, statsNeeds...)
}

// projections remembers the projection of each parsed operation; gqlgen's query cache hands
// out the same parsed document for the same query text, so the walk runs once per query. The
// keys are weak: they never keep a document alive that gqlgen's cache has let go.
type projections struct {
	byOperation *lru.Map[weak.Pointer[ast.OperationDefinition], *upstream.Projection]
}

func newProjections() *projections {
	return &projections{byOperation: lru.New[weak.Pointer[ast.OperationDefinition], *upstream.Projection](1000)}
}

// of returns the projection of the operation running in ctx: nil (decode everything) when it
// selects every field, or when one of its fields is not understood here.
func (ps *projections) of(ctx context.Context) *upstream.Projection {
	if !graphql.HasOperationContext(ctx) {
		return nil
	}
	op := graphql.GetOperationContext(ctx).Operation
	if op == nil {
		return nil
	}
	key := weak.Make(op)
	if p, ok := ps.byOperation.Get(key, time.Now()); ok {
		return p
	}
	p := projectionOf(op)
	ps.byOperation.Put(key, p, 1, time.Now().Add(24*time.Hour))
	return p
}

// projectionOf walks op's selections, fragments included, and keeps every upstream field any
// of them selects. Directives (@skip, @include) are ignored: keeping a field a variable then
// skips costs a little time, never data.
func projectionOf(op *ast.OperationDefinition) *upstream.Projection {
	keep := map[string][]string{}
	add := func(typeName, field string) {
		keep[typeName] = append(keep[typeName], field)
	}
	understood := true
	seen := map[*ast.FragmentDefinition]bool{}
	var walk func(set ast.SelectionSet)
	walk = func(set ast.SelectionSet) {
		for _, sel := range set {
			switch s := sel.(type) {
			case *ast.Field:
				if strings.HasPrefix(s.Name, "__") {
					continue // __typename, and introspection, which reads no history
				}
				if s.ObjectDefinition == nil {
					understood = false
					continue
				}
				if deps, ok := resolverNeeds[s.ObjectDefinition.Name][s.Name]; ok {
					for _, a := range s.Arguments {
						deps = append(deps[:len(deps):len(deps)], argumentNeeds[a.Name]...)
					}
					for _, d := range deps {
						t, f, _ := strings.Cut(d, ".")
						add(t, f)
					}
				} else if !computedTypes[s.ObjectDefinition.Name] {
					// An upstream field; anything else fails NewProjection below.
					add(s.ObjectDefinition.Name, s.Name)
				}
				walk(s.SelectionSet)
			case *ast.InlineFragment:
				walk(s.SelectionSet)
			case *ast.FragmentSpread:
				if s.Definition == nil {
					understood = false
				} else if !seen[s.Definition] {
					seen[s.Definition] = true
					walk(s.Definition.SelectionSet)
				}
			}
		}
	}
	walk(op.SelectionSet)
	if !understood {
		return nil
	}
	p, err := upstream.NewProjection(keep)
	if err != nil {
		return nil
	}
	return p
}
