package graph

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/enneo-facade/facade/graph/ratelimit"
	"github.com/enneo-facade/facade/upstream"
)

// operation is what one operation counts while it runs: its estimated cost, the contracts it
// loaded, the fields it resolved and the bytes of their values, and the errors it met. Once a
// run-time bound is passed, or its deadline, it stops: every field still to come resolves to
// null without any work, so the answer stops growing, and one error says why.
type operation struct {
	start  time.Time // when the request reached the GraphQL layer
	limits Limits
	cost   int64 // estimated before execution (see complexity.Estimate)
	costed bool  // cost is known: the operation got past validation
	// timed is set when an aggregate counts what is overdue at the request's own time (its now
	// argument left out): the answer holds for this request only.
	timed    bool
	throttle *ratelimit.Decision // what the rate limiter said, if one did
	done     func()              // ends the operation's turn (admission); nil before it has one

	fields   atomic.Int64
	bytes    atomic.Int64
	stopped  atomic.Bool
	why      atomic.Pointer[codedError]
	reported atomic.Bool
	// partErrors is set when a part of an incremental answer before the last had errors.
	partErrors atomic.Bool

	mu        sync.Mutex
	contracts map[string]struct{} // distinct contracts loaded
	errors    map[string]int      // presented errors by code, for the one log line
	worst     loggedError
}

// loggedError is the most severe error of an operation, for its log line.
type loggedError struct {
	level      slog.Level
	code, path string
	err        error
}

var (
	errTooManyFields = &codedError{CodeResponseTooBig, "the answer was cut short: it reached the limit of fields one operation may resolve; select fewer fields or contracts"}
	errTooManyBytes  = &codedError{CodeResponseTooBig, "the answer was cut short: it reached the limit of bytes one answer may hold; select fewer text fields (bodies) or contracts"}
	errOutOfTime     = &codedError{CodeOperationTime, "the answer was cut short: the operation ran out of time"}
	errGone          = &codedError{CodeCancelled, "the request was cancelled"}
	// errCut is what a non-null field returns once the operation has stopped: its null
	// propagates to its nearest nullable parent, and the error presenter drops it.
	errCut = &codedError{CodeResponseTooBig, "cut"}
)

// stop stops the operation for why, unless it stopped already.
func (op *operation) stop(why *codedError) {
	if op.why.CompareAndSwap(nil, why) {
		op.stopped.Store(true)
	}
}

// stopAtDeadline stops the operation when ctx ends, and returns the function that stops
// watching it.
func (op *operation) stopAtDeadline(ctx context.Context) func() bool {
	return context.AfterFunc(ctx, func() { op.stopIfEnded(ctx) })
}

// stopIfEnded stops the operation if ctx has ended. A batch calls it too: the AfterFunc runs on
// a goroutine of its own, and a batch that ended with the deadline must not hand its histories
// to fields before the operation knows it is out of time.
func (op *operation) stopIfEnded(ctx context.Context) {
	switch err := ctx.Err(); {
	case err == nil:
	case errors.Is(err, context.DeadlineExceeded):
		op.stop(errOutOfTime)
	default:
		op.stop(errGone)
	}
}

// cut is what a field resolved after the stop returns: the one error that says why for the
// first such field, null for the others. A null in a non-null field would wipe out its parent
// too, so a non-null scalar (an id) is still resolved, and a non-null object is cut quietly.
func (op *operation) cut(ctx context.Context, next graphql.Resolver) (any, error) {
	if op.reported.CompareAndSwap(false, true) {
		return nil, op.why.Load()
	}
	if fc := graphql.GetFieldContext(ctx); fc != nil && fc.Field.Definition != nil && fc.Field.Definition.Type.NonNull {
		if len(fc.Field.Selections) == 0 {
			return next(ctx)
		}
		return nil, errCut
	}
	return nil, nil
}

// admit counts the contracts an operation is about to load against its limit: an id over the
// limit gets TOO_MANY_CONTRACTS in errs instead of being loaded.
func (op *operation) admit(ids []string, errs []error) {
	op.mu.Lock()
	defer op.mu.Unlock()
	if op.contracts == nil {
		op.contracts = make(map[string]struct{}, len(ids))
	}
	for i, id := range ids {
		if errs[i] != nil {
			continue
		}
		if _, ok := op.contracts[id]; ok {
			continue
		}
		if len(op.contracts) >= op.limits.Contracts {
			errs[i] = &codedError{CodeTooManyContract, fmt.Sprintf("the operation loads more than %d distinct contracts, the most one operation may load", op.limits.Contracts)}
			continue
		}
		op.contracts[id] = struct{}{}
	}
}

// resolveField runs around every field of the request's operation (MutateOperationContext
// sets it as the operation's resolver middleware, so no field looks its request up in the
// context): it holds the operation to its run-time bounds, and a field whose upstream value
// could not be decoded resolves to null with an UPSTREAM_BAD_RESPONSE error at its path, its
// siblings unharmed.
func (q *request) resolveField(ctx context.Context, next graphql.Resolver) (any, error) {
	op := &q.op
	if op.stopped.Load() {
		return op.cut(ctx, next)
	}
	if op.fields.Add(1) > op.limits.Fields {
		op.stop(errTooManyFields)
		return op.cut(ctx, next)
	}
	if q.lenient.Load() { // a history with undecodable values was loaded
		fc := graphql.GetFieldContext(ctx)
		if obj, ok := parentObject(fc).(interface{ Undecodable(string) bool }); ok && obj.Undecodable(fc.Field.Name) {
			return nil, &fieldError{object: fc.Object, field: fc.Field.Name}
		}
	}
	res, err := next(ctx)
	if n := valueBytes(res); n > 0 && op.bytes.Add(n) > op.limits.Bytes {
		op.stop(errTooManyBytes)
		return op.cut(ctx, func(context.Context) (any, error) { return res, err })
	}
	if err == nil && res != nil && q.watchesFields() {
		res = q.personalField(ctx, res)
	}
	return res, err
}

// valueBytes is about what a field's value adds to the answer, where that can be much: text
// (bodies of tickets are HTML) and free-form JSON. Other values are bounded by the count of
// fields.
func valueBytes(v any) int64 {
	switch v := v.(type) {
	case *string:
		if v != nil {
			return int64(len(*v))
		}
	case *upstream.Text:
		if v != nil {
			return int64(len(*v))
		}
	case json.RawMessage:
		return int64(len(v))
	case []string:
		var n int
		for _, s := range v {
			n += len(s) + 3
		}
		return int64(n)
	}
	return 0
}

// severity is how an error of each code is logged: at debug, not at all (the caller's own
// mistake, answered in full), at info (refused by a limit), warn (the upstream failing) or
// error (ours).
func severity(code string) (slog.Level, bool) {
	switch code {
	case CodeCancelled:
		return slog.LevelDebug, true
	case CodeInternal:
		return slog.LevelError, true
	case CodeNotFound, CodeBadUserInput, CodeUnauthenticated, CodeIntrospectionOff,
		CodeParseFailed, CodeValidationFailed, CodePersistedNotFound,
		CodeBadRequest, CodeMethodNotAllowed, CodeNotAcceptable, CodeRequestTooLarge, CodeUnsupportedMedia:
		return 0, false
	case CodeTooManyTokens, CodeQueryTooDeep, CodeTooManyAliases, CodeTooManyRoot, CodeTooManyDirects, CodeTooManyRepeats,
		CodeQueryTooComplex, CodeTooManyContract, CodeResponseTooBig, CodeOperationTime, CodeRateLimited, CodeOverloaded, CodeNotInSafelist:
		return slog.LevelInfo, true
	}
	return slog.LevelWarn, true
}

// limitCodes are the codes of the limits the operation met, each once.
func (op *operation) limitCodes() []string {
	op.mu.Lock()
	defer op.mu.Unlock()
	var codes []string
	for code := range op.errors {
		if level, ok := severity(code); ok && level == slog.LevelInfo {
			codes = append(codes, code)
		}
	}
	return codes
}

// note counts an error the operation met; the most severe one is logged with the counts.
func (op *operation) note(code, path string, err error) {
	level, logged := severity(code)
	op.mu.Lock()
	defer op.mu.Unlock()
	if op.errors == nil {
		op.errors = map[string]int{}
	}
	op.errors[code]++
	if logged && (op.worst.code == "" || level > op.worst.level) {
		op.worst = loggedError{level: level, code: code, path: path, err: err}
	}
}

// logErrors writes one line for all the errors of the operation: their counts by code, the most
// severe one's code, path and kind (no contract id, no value), and the caller's API key by name. No line when none of them is worth
// one.
func (op *operation) logErrors(ctx context.Context, log *slog.Logger, caller string) {
	op.mu.Lock()
	defer op.mu.Unlock()
	w := op.worst
	if w.code == "" || !log.Enabled(ctx, w.level) {
		return
	}
	attrs := []slog.Attr{slog.Any("errors", op.errors), slog.String("code", w.code)}
	if caller != "" {
		attrs = append(attrs, slog.String("caller", caller))
	}
	if w.path != "" {
		attrs = append(attrs, slog.String("path", w.path))
	}
	if w.err != nil {
		attrs = append(attrs, errAttr(w.code, w.err))
	}
	log.LogAttrs(ctx, w.level, "operation errors", attrs...)
}

// costReport is extensions.cost, as Shopify's GraphQL API has it: what the operation was
// estimated to cost and, with a rate limit, the state of the caller's bucket after it, so that a
// client can pace itself.
type costReport struct {
	RequestedQueryCost int64           `json:"requestedQueryCost"`
	ThrottleStatus     *throttleStatus `json:"throttleStatus,omitempty"`
}

type throttleStatus struct {
	MaximumAvailable   int64 `json:"maximumAvailable"`
	CurrentlyAvailable int64 `json:"currentlyAvailable"`
	RestoreRate        int64 `json:"restoreRate"`
}

func newCostReport(cost int64, rates RateLimiter, d *ratelimit.Decision) costReport {
	r := costReport{RequestedQueryCost: cost}
	if rates != nil && d != nil {
		l := rates.Limit()
		r.ThrottleStatus = &throttleStatus{MaximumAvailable: l.Burst, CurrentlyAvailable: d.Remaining, RestoreRate: l.PerSecond}
	}
	return r
}

// reportCost adds extensions.cost to an answer, once the cost is known.
func (op *operation) reportCost(resp *graphql.Response, rates RateLimiter) {
	if !op.costed {
		return
	}
	if resp.Extensions == nil {
		resp.Extensions = map[string]any{}
	}
	resp.Extensions["cost"] = newCostReport(op.cost, rates, op.throttle)
}

// withoutSuggestions cuts "Did you mean ...?" from validation errors: gqlgen's option drops it
// from unknown fields only, not from unknown arguments or types.
func withoutSuggestions(resp *graphql.Response) {
	for _, e := range resp.Errors {
		if i := strings.Index(e.Message, " Did you mean "); i >= 0 {
			e.Message = e.Message[:i]
		}
	}
}

// errAttr is what a log line says of err: an internal error in full (ours, to debug), any other
// by its kind only, since its message names the contract, whose id came from the caller.
func errAttr(code string, err error) slog.Attr {
	switch {
	case err == nil:
		return slog.Attr{} // handlers drop it
	case code == CodeInternal:
		return slog.String("err", err.Error())
	}
	return slog.String("upstream", upstream.Kind(err))
}

// maxAnswerErrors bounds the errors one answer lists; the rest are counted in one more.
const maxAnswerErrors = 100

// trimErrors keeps the first maxAnswerErrors of an answer's errors, and says how many it left
// out.
func trimErrors(resp *graphql.Response) {
	if n := len(resp.Errors); n > maxAnswerErrors {
		more := &gqlerror.Error{
			Message:    fmt.Sprintf("%d more errors are left out of this answer", n-maxAnswerErrors),
			Extensions: map[string]any{"code": CodeTooManyErrorsInReply},
		}
		resp.Errors = append(resp.Errors[:maxAnswerErrors:maxAnswerErrors], more)
	}
}
