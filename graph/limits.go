package graph

import (
	"context"
	"errors"
	"math"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"

	"github.com/enneo-facade/facade/graph/admission"
	"github.com/enneo-facade/facade/graph/complexity"
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
	Cost       int64 // estimated cost (QUERY_TOO_COMPLEX), see complexity.Estimate
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
// histories one level down 37,202, and docs/web-apps.md's list of 4 contracts with theirs 52,408.
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
	gate   *admission.Gate
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

// shapeCodes are the codes of the shape's limits.
var shapeCodes = map[complexity.Bound]string{
	complexity.Depth: CodeQueryTooDeep, complexity.Aliases: CodeTooManyAliases, complexity.RootFields: CodeTooManyRoot,
	complexity.Directives: CodeTooManyDirects, complexity.Repeats: CodeTooManyRepeats,
}

// checkShape holds doc to l's limits on its shape (complexity.CheckShape), refusing with the
// limit's code.
func checkShape(doc *ast.QueryDocument, l Limits) *gqlerror.Error {
	v := complexity.CheckShape(doc, complexity.ShapeLimits{Depth: l.Depth, Aliases: l.Aliases, RootFields: l.RootFields, Directives: l.Directives})
	if v == nil {
		return nil
	}
	return limitError(shapeCodes[v.Bound], v.Counted, v.Allowed, "%s", v.Message)
}

// MutateOperationContext estimates the validated operation's cost and counts the contracts its
// root fields name, before any resolver runs.
func (o *operationLimits) MutateOperationContext(ctx context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	c := complexity.Estimate(o.schema, oc.Operation, oc.Variables, o.limits.Contracts)
	if c.Introspects && !o.introspection {
		err := gqlerror.Errorf("introspection is off on this server: the schema is documented by whoever runs it")
		err.Extensions = map[string]any{"code": CodeIntrospectionOff}
		return err
	}
	q := requestFrom(ctx)
	if q != nil {
		if err := checkPersonal(oc, q.cred.Personal); err != nil {
			return err
		}
	}
	subscription := oc.Operation.Operation == ast.Subscription
	if q != nil {
		q.op.cost, q.op.costed, q.op.timed = c.Cost, true, c.Timed
		// The run-time bounds, bound to this request once: no field looks it up in the
		// context. gqlgen's own chain is passed over, as no extension intercepts fields. A
		// subscription's events are operations of their own, each with its own bounds.
		oc.ResolverMiddleware = q.resolveField
		if subscription {
			oc.ResolverMiddleware = resolveEventField
		}
	}
	if c.Cost > o.limits.Cost {
		return limitError(CodeQueryTooComplex, c.Cost, o.limits.Cost,
			"the query's estimated cost is %d, more than the %d allowed: select fewer fields or fewer contracts, or split it", c.Cost, o.limits.Cost)
	}
	if n := len(c.Contracts); n > o.limits.Contracts {
		return limitError(CodeTooManyContract, int64(n), int64(o.limits.Contracts),
			"the query names more than %d distinct contracts, the most one operation may load", o.limits.Contracts)
	}
	if q == nil {
		return nil
	}
	if o.rates != nil {
		d := o.rates.Take(ctx, q.cred.rateKey(), c.Cost)
		q.op.throttle = &d
		if !d.Allowed {
			return rateLimited(c.Cost, d)
		}
	}
	if subscription {
		return nil // it holds no turn: its events run one at a time, each one contract's
	}
	// Last, so that an operation its caller's budget refuses takes no turn from others.
	done, err := o.gate.Admit(ctx, c.Cost)
	if err != nil {
		return overloaded(c.Cost, err)
	}
	q.op.done = done
	return nil
}

// overloaded is the refusal of a heavy operation that found no turn (admission.Refusal), or
// whose caller went away while it waited.
func overloaded(cost int64, err error) *gqlerror.Error {
	var r *admission.Refusal
	if !errors.As(err, &r) {
		e := gqlerror.Errorf("%s", errGone.msg)
		e.Extensions = map[string]any{"code": CodeCancelled}
		return e
	}
	secs := int64(math.Ceil(r.RetryAfter.Seconds()))
	e := gqlerror.Errorf("%s; this operation's estimated cost is %d, heavy from %d on: retry after %d s, or ask for less", r.Error(), cost, r.Heavy, secs)
	e.Extensions = map[string]any{"code": CodeOverloaded, "retryAfter": secs, "cost": cost}
	return e
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
