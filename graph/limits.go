package graph

import (
	"context"
	"fmt"
	"math"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"

	"github.com/enneo-facade/facade/graph/ratelimit"
)

// Limits bound what one operation may ask for and do. The checks on its text run before
// validation (whose rule for overlapping fields is quadratic in fields of one name), the checks
// that need types and variables after it, and both before any resolver; the run-time bounds
// hold while it executes. A zero field takes its DefaultLimits value.
type Limits struct {
	Tokens     int   // lexical tokens of the query (TOO_MANY_TOKENS), counted by the parser
	Depth      int   // nesting of fields (QUERY_TOO_DEEP)
	Aliases    int   // aliased fields (TOO_MANY_ALIASES)
	RootFields int   // fields at the top of an operation (TOO_MANY_ROOT_FIELDS)
	Directives int   // directives anywhere (TOO_MANY_DIRECTIVES)
	Cost       int64 // estimated cost (QUERY_TOO_COMPLEX), see costOf
	Contracts  int   // distinct contracts one operation loads (TOO_MANY_CONTRACTS)
	Fields     int64 // fields resolved at run time (RESPONSE_TOO_LARGE)
	Bytes      int64 // estimated bytes of the answer's data at run time (RESPONSE_TOO_LARGE)
}

// DefaultLimits admit every legitimate query we know of with room to spare (the test
// TestLegitimateQueriesPassTheDefaultLimits sends them) and refuse the attacks of
// graph/queries: the largest legitimate query text is ~400 tokens, the deepest is GraphiQL's
// introspection query at 15 fields (data queries reach 8), a dashboard of 20 aliased
// contracts costs 1,040, the BI tools' historyStats over 100 contracts with every aggregate
// 12,474, every field of one contract's history 24,202, the same with its customers' contract
// histories one level down 37,202, and the README's list of 4 contracts with theirs 52,408.
var DefaultLimits = Limits{
	Tokens:     2000,
	Depth:      20,
	Aliases:    30,
	RootFields: 30,
	Directives: 50,
	Cost:       100_000,
	Contracts:  200,
	Fields:     100_000,
	Bytes:      16 << 20,
}

// maxRepeats bounds how often one response name may be selected in one selection set
// (fragments counted as inlined). Validation compares every pair of fields of one name, so
// 1,000 repeats of one field cost it 50 ms and conflicting ones tens of thousands of errors;
// legitimate queries repeat a name only where fragments overlap.
const maxRepeats = 10

// The codes of the limits, in extensions.code.
const (
	CodeTooManyTokens   = "TOO_MANY_TOKENS"
	CodeQueryTooDeep    = "QUERY_TOO_DEEP"
	CodeTooManyAliases  = "TOO_MANY_ALIASES"
	CodeTooManyRoot     = "TOO_MANY_ROOT_FIELDS"
	CodeTooManyDirects  = "TOO_MANY_DIRECTIVES"
	CodeTooManyRepeats  = "TOO_MANY_REPEATED_FIELDS"
	CodeQueryTooComplex = "QUERY_TOO_COMPLEX"
	CodeTooManyContract = "TOO_MANY_CONTRACTS"
	CodeResponseTooBig  = "RESPONSE_TOO_LARGE"
	CodeOperationTime   = "OPERATION_TIMEOUT"
	// CodeIntrospectionOff refuses __schema and __type where introspection is off.
	CodeIntrospectionOff = "INTROSPECTION_DISABLED"
)

func init() {
	// A refused operation is a request error, like one that fails validation: GraphQL over
	// HTTP answers it with 400 for application/graphql-response+json.
	for _, code := range []string{CodeTooManyTokens, CodeQueryTooDeep, CodeTooManyAliases, CodeTooManyRoot,
		CodeTooManyDirects, CodeTooManyRepeats, CodeQueryTooComplex, CodeTooManyContract, CodeIntrospectionOff} {
		errcode.RegisterErrorType(code, errcode.KindProtocol)
	}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits
	pick := func(v *int, def int) {
		if *v <= 0 {
			*v = def
		}
	}
	pick(&l.Tokens, d.Tokens)
	pick(&l.Depth, d.Depth)
	pick(&l.Aliases, d.Aliases)
	pick(&l.RootFields, d.RootFields)
	pick(&l.Directives, d.Directives)
	pick(&l.Contracts, d.Contracts)
	if l.Cost <= 0 {
		l.Cost = d.Cost
	}
	if l.Fields <= 0 {
		l.Fields = d.Fields
	}
	if l.Bytes <= 0 {
		l.Bytes = d.Bytes
	}
	return l
}

// limitError is a refusal with its code and what was counted against what is allowed.
func limitError(code string, counted, limit int64, format string, args ...any) *gqlerror.Error {
	err := gqlerror.Errorf(format, args...)
	err.Extensions = map[string]any{"code": code, "counted": counted, "limit": limit}
	return err
}

// operationLimits is the gqlgen extension that applies Limits before execution.
type operationLimits struct {
	limits Limits
	// parsed is gqlgen's cache of parsed and validated queries: a query in it has passed the
	// checks on its text already.
	parsed graphql.Cache[*ast.QueryDocument]
	schema *ast.Schema
	rates  RateLimiter // nil: no rate limit
	// introspection lets operations select __schema and __type.
	introspection bool
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationParameterMutator
	graphql.OperationContextMutator
} = (*operationLimits)(nil)

func (*operationLimits) ExtensionName() string { return "OperationLimits" }

func (o *operationLimits) Validate(es graphql.ExecutableSchema) error {
	o.schema = es.Schema()
	return nil
}

// MutateOperationParameters checks the query's text before gqlgen validates it: the parser
// stops at the token limit, and the shape of what parsed is held to the limits on depth,
// aliases, root fields, directives and repeated fields.
func (o *operationLimits) MutateOperationParameters(ctx context.Context, p *graphql.RawParams) *gqlerror.Error {
	if p.Query == "" {
		return nil // gqlgen says what is missing
	}
	if n := countValues(p.Variables, maxVariableValues+1); n > maxVariableValues {
		// Coercing them against the operation's variables would cost more than anything else
		// here (50,000 ids: 20 ms); no argument takes that many.
		err := gqlerror.Errorf("the variables hold more than %d values, more than any argument takes", maxVariableValues)
		err.Extensions = map[string]any{"code": CodeBadUserInput}
		return err
	}
	if _, ok := o.parsed.Get(ctx, p.Query); ok {
		return nil
	}
	doc, err := parser.ParseQueryWithTokenLimit(&ast.Source{Input: p.Query}, o.limits.Tokens)
	if err != nil {
		if e, ok := err.(*gqlerror.Error); ok && strings.HasPrefix(e.Message, "exceeded token limit") {
			return limitError(CodeTooManyTokens, int64(o.limits.Tokens)+1, int64(o.limits.Tokens),
				"the query has more than %d tokens", o.limits.Tokens)
		}
		return nil // gqlgen parses it again and reports the syntax error
	}
	return checkShape(doc, o.limits)
}

// MutateOperationContext estimates the validated operation's cost and counts the contracts its
// root fields name, before any resolver runs.
func (o *operationLimits) MutateOperationContext(ctx context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	c := costOf(o.schema, oc.Operation, oc.Variables, o.limits.Contracts)
	if c.introspects && !o.introspection {
		err := gqlerror.Errorf("introspection is off on this server: the schema is documented by whoever runs it")
		err.Extensions = map[string]any{"code": CodeIntrospectionOff}
		return err
	}
	l := loadersFrom(ctx)
	if l != nil {
		l.op.cost, l.op.costed, l.op.timed = c.cost, true, c.timed
	}
	if c.cost > o.limits.Cost {
		return limitError(CodeQueryTooComplex, c.cost, o.limits.Cost,
			"the query's estimated cost is %d, more than the %d allowed: select fewer fields or fewer contracts, or split it", c.cost, o.limits.Cost)
	}
	if n := len(c.contracts); n > o.limits.Contracts {
		return limitError(CodeTooManyContract, int64(n), int64(o.limits.Contracts),
			"the query names more than %d distinct contracts, the most one operation may load", o.limits.Contracts)
	}
	if o.rates == nil || l == nil {
		return nil
	}
	d := o.rates.Take(ctx, l.cred.rateKey(), c.cost)
	l.op.throttle = &d
	if !d.Allowed {
		return rateLimited(c.cost, d)
	}
	return nil
}

// rateLimited is the refusal of an operation its caller's budget cannot pay for now.
func rateLimited(cost int64, d ratelimit.Decision) *gqlerror.Error {
	secs := int64(math.Ceil(d.RetryAfter.Seconds()))
	err := gqlerror.Errorf("rate limited: this operation costs %d points and %d are left; retry after %d s", cost, d.Remaining, secs)
	err.Extensions = map[string]any{"code": CodeRateLimited, "retryAfter": secs, "cost": cost}
	return err
}

// maxVariableValues bounds the values in a request's variables: the longest list an argument
// takes is contracts(ids:)'s 100.
const maxVariableValues = 1000

// countValues counts the values in vars, lists' and objects' elements included, up to stop.
func countValues(vars map[string]any, stop int) int {
	n := 0
	var walk func(v any)
	walk = func(v any) {
		if n >= stop {
			return
		}
		n++
		switch x := v.(type) {
		case []any:
			for _, e := range x {
				walk(e)
			}
		case map[string]any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	for _, e := range vars {
		walk(e)
	}
	return n
}

// saturated keeps counts of fragments spread many times over from overflowing.
const saturated = 1 << 50

func add(a, b int64) int64 { return min(a+b, saturated) }

func mul(a, b int64) int64 {
	if a == 0 || b == 0 {
		return 0
	}
	if a > saturated/b {
		return saturated
	}
	return a * b
}

// shape is what checkShape counts in a selection set, fragments inlined.
type shape struct {
	depth, aliases, directives int64
	names                      map[string]int64 // response names at the top, with repeats
}

func (s *shape) merge(t shape) {
	s.depth = max(s.depth, t.depth)
	s.aliases = add(s.aliases, t.aliases)
	s.directives = add(s.directives, t.directives)
}

// shapeWalker walks a document that has parsed but is not yet validated: fragments are found by
// name, and a cycle or an unknown name counts as empty (validation reports them).
type shapeWalker struct {
	doc       *ast.QueryDocument
	fragments map[string]*shape // nil while being walked
	repeated  *gqlerror.Error
}

// checkShape holds every operation of doc (and every fragment, which validation checks too) to
// the limits on depth, aliases, root fields, directives and repeated fields.
func checkShape(doc *ast.QueryDocument, l Limits) *gqlerror.Error {
	w := &shapeWalker{doc: doc, fragments: map[string]*shape{}}
	for _, f := range doc.Fragments {
		w.fragment(f.Name)
	}
	for _, op := range doc.Operations {
		s := w.set(op.SelectionSet)
		if w.repeated != nil {
			return w.repeated
		}
		s.directives = add(s.directives, int64(len(op.Directives)))
		var root int64
		for _, n := range s.names {
			root = add(root, n)
		}
		name := op.Name
		if name == "" {
			name = "the operation"
		}
		switch {
		case s.depth > int64(l.Depth):
			return limitError(CodeQueryTooDeep, s.depth, int64(l.Depth),
				"%s nests fields %d deep, more than the %d allowed", name, s.depth, l.Depth)
		case s.aliases > int64(l.Aliases):
			return limitError(CodeTooManyAliases, s.aliases, int64(l.Aliases),
				"%s has %d aliases (fragments counted as inlined), more than the %d allowed", name, s.aliases, l.Aliases)
		case root > int64(l.RootFields):
			return limitError(CodeTooManyRoot, root, int64(l.RootFields),
				"%s has %d root fields, more than the %d allowed", name, root, l.RootFields)
		case s.directives > int64(l.Directives):
			return limitError(CodeTooManyDirects, s.directives, int64(l.Directives),
				"%s has %d directives (fragments counted as inlined), more than the %d allowed", name, s.directives, l.Directives)
		}
	}
	return w.repeated
}

func (w *shapeWalker) fragment(name string) shape {
	if s, ok := w.fragments[name]; ok {
		if s == nil {
			return shape{} // a cycle
		}
		return *s
	}
	def := w.doc.Fragments.ForName(name)
	if def == nil {
		return shape{}
	}
	w.fragments[name] = nil
	s := w.set(def.SelectionSet)
	s.directives = add(s.directives, int64(len(def.Directives)))
	w.fragments[name] = &s
	return s
}

func (w *shapeWalker) set(set ast.SelectionSet) shape {
	s := shape{names: map[string]int64{}}
	count := func(name string, n int64) {
		c := add(s.names[name], n)
		s.names[name] = c
		if c > maxRepeats && w.repeated == nil {
			w.repeated = limitError(CodeTooManyRepeats, c, maxRepeats,
				"%q is selected %d times in one selection set (fragments counted as inlined), more than the %d allowed", name, c, maxRepeats)
		}
	}
	for _, sel := range set {
		if w.repeated != nil {
			return s
		}
		switch x := sel.(type) {
		case *ast.Field:
			child := w.set(x.SelectionSet)
			child.depth++
			if x.Alias != "" && x.Alias != x.Name {
				child.aliases = add(child.aliases, 1)
			}
			child.directives = add(child.directives, int64(len(x.Directives)))
			s.merge(child)
			name := x.Alias
			if name == "" {
				name = x.Name
			}
			count(name, 1)
		case *ast.InlineFragment:
			child := w.set(x.SelectionSet)
			child.directives = add(child.directives, int64(len(x.Directives)))
			s.merge(child)
			for name, n := range child.names {
				count(name, n)
			}
		case *ast.FragmentSpread:
			child := w.fragment(x.Name)
			child.directives = add(child.directives, int64(len(x.Directives)))
			s.merge(child)
			for name, n := range child.names {
				count(name, n)
			}
		}
	}
	return s
}

// List sizes the cost estimate assumes where it cannot know them: a history holds tickets in the
// tens (the upstream's example histories hold up to 40), a customer a few contracts, and every
// other list (tags, intents, attachments, agents, options, ...) about ten entries.
const (
	assumedTickets   = 50
	assumedContracts = 5
	assumedList      = 10
)

// cost is what costOf finds.
type cost struct {
	cost        int64
	contracts   map[string]struct{} // the distinct ids the root fields name
	introspects bool                // a root field is __schema or __type
	timed       bool                // an aggregate is taken at the request's time (no now)
}

// costOf estimates what op costs, as GitHub and Apollo do for their rate limits: each object a
// field returns costs 1 and scalars nothing, and a list multiplies what its elements cost by
// its length: contracts(ids) by the number of ids, tickets and the other lists by the assumed
// sizes above. Fragments count as if inlined; introspection and __typename cost nothing (the
// schema's size bounds them). It also collects the ids the root fields name.
// It stops collecting past maxContracts, the most anyone needs to know of, and notes whether an
// aggregate is taken at the request's own time (stats or historyStats without now).
func costOf(schema *ast.Schema, op *ast.OperationDefinition, vars map[string]any, maxContracts int) cost {
	w := costWalker{schema: schema, vars: vars, fragments: map[fragmentKey]int64{}, contracts: map[string]struct{}{}, maxContracts: maxContracts}
	c := w.set(op.SelectionSet, true)
	return cost{cost: c, contracts: w.contracts, introspects: w.introspects, timed: w.timed}
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
	if root && f.ObjectDefinition != nil && f.ObjectDefinition.Name == "Query" {
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
	case "contracts":
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
