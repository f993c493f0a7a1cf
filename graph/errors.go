package graph

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"reflect"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/enneo-facade/facade/graph/model"
	"github.com/enneo-facade/facade/upstream"
)

// The codes clients see in extensions.code: one vocabulary, kept here and nowhere else, each
// with what it means in Codes (docs/errors.md lists the same).
const (
	CodeUnauthenticated     = "UNAUTHENTICATED"
	CodeForbidden           = "FORBIDDEN"
	CodePersonalForbidden   = "PERSONAL_DATA_FORBIDDEN"
	CodeNotFound            = "NOT_FOUND"
	CodeBadUserInput        = "BAD_USER_INPUT"
	CodeUpstreamRateLimited = "UPSTREAM_RATE_LIMITED"
	CodeUpstreamTimeout     = "UPSTREAM_TIMEOUT"
	CodeUpstreamUnavailable = "UPSTREAM_UNAVAILABLE"
	CodeUpstreamError       = "UPSTREAM_ERROR"
	CodeUpstreamBadResponse = "UPSTREAM_BAD_RESPONSE"
	CodeCancelled           = "CANCELLED"
	CodeRateLimited         = "RATE_LIMITED"
	CodeOverloaded          = "OVERLOADED"
	CodeTooManySubs         = "TOO_MANY_SUBSCRIPTIONS"
	CodeSubsDegraded        = "SUBSCRIPTION_DEGRADED"
	CodeInternal            = "INTERNAL"

	// Requests refused before they reach GraphQL, each with its HTTP status.
	CodeBadRequest       = "BAD_REQUEST"
	CodeMethodNotAllowed = "METHOD_NOT_ALLOWED"
	CodeNotAcceptable    = "NOT_ACCEPTABLE"
	CodeRequestTooLarge  = "REQUEST_TOO_LARGE"
	CodeUnsupportedMedia = "UNSUPPORTED_MEDIA_TYPE"

	// gqlgen's own, for a query that does not parse or validate, and its persisted queries'.
	CodeParseFailed          = "GRAPHQL_PARSE_FAILED"
	CodeValidationFailed     = "GRAPHQL_VALIDATION_FAILED"
	CodePersistedNotFound    = "PERSISTED_QUERY_NOT_FOUND"
	CodeNotInSafelist        = "PERSISTED_QUERY_NOT_IN_LIST"
	CodeIntrospectionOff     = "INTROSPECTION_DISABLED"
	CodeTooManyErrorsInReply = "TOO_MANY_ERRORS"

	// The limits (Limits).
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
)

// Codes are every code of the vocabulary, each with what it means, in Markdown: docs/errors.md's
// table is written from them (TestErrorsDocumentIsCodes; go test ./graph -run ErrorsDocument
// -update-docs rewrites it).
var Codes = []struct{ Code, Means string }{
	{CodeUnauthenticated, "no `Authorization` header, or one that is not `Bearer <token>` (no upstream call is made), or the upstream answered 401; in service mode, no valid API key (HTTP 401)"},
	{CodeForbidden, "the upstream answered 403, or a mutation without the admin token"},
	{CodePersonalForbidden, "the caller's API key may not read personal data the operation selects (`personal=deny`: `extensions.paths` and `extensions.kinds` name the fields), or may not search tickets' text (`filter.text` under `personal=mask` or `deny`); refused before it runs, no upstream call is made (see [Personal data](personal-data.md))"},
	{CodeNotFound, "the upstream answered 404; the contract is `null`"},
	{CodeBadUserInput, "an invalid contract id (1-64 letters, digits, `-`, `_`), more than 100 ids, a negative `first`, `last` or `offset`, a cursor that is not the list's, or a query that cannot be one CSV table"},
	{CodeUpstreamRateLimited, "the upstream answered 429; `extensions.retryAfter` has its `Retry-After` seconds"},
	{CodeUpstreamTimeout, "the upstream did not answer within `UPSTREAM_TIMEOUT` or the operation's time ran out"},
	{CodeUpstreamUnavailable, "the upstream could not be reached"},
	{CodeUpstreamError, "the upstream answered 5xx or another unexpected status"},
	{CodeUpstreamBadResponse, "the body was not the documented JSON, was too large, or a value could not be decoded"},
	{CodeCancelled, "the client went away (or the server is stopping) before the answer; logged at debug only"},
	{CodeInternal, "a bug (logged, shown without detail), or an invalidation that could not reach Redis"},
	{CodeRequestTooLarge, "the request body is larger than `MAX_REQUEST_BYTES` (HTTP 413), by its `Content-Length` or as it is read"},
	{CodeBadRequest, "not a GraphQL request this API reads (HTTP 400): a body that is not a JSON object, a batch (a JSON array of operations), no query or persisted id, `documentId` and `doc_id` that differ, GET parameters that are not JSON, an upgrade to anything but a WebSocket"},
	{CodeUnsupportedMedia, "a POST body that is not `application/json`, e.g. `application/graphql` (HTTP 415)"},
	{CodeNotAcceptable, "an `Accept` header naming no type the API writes, e.g. `text/html` alone, or a subscription without `text/event-stream` (HTTP 406)"},
	{CodeMethodNotAllowed, "a mutation over GET, or a method `/graphql` does not take (HTTP 405, `Allow`)"},
	{CodeParseFailed, "the query does not parse"},
	{CodeValidationFailed, "the query, or its variables, do not validate against the schema"},
	{CodeTooManyTokens, "the query has more lexical tokens than `MAX_TOKENS` ([Limits](limits.md))"},
	{CodeQueryTooDeep, "fields nest deeper than `MAX_DEPTH` ([Limits](limits.md))"},
	{CodeTooManyAliases, "more aliases than `MAX_ALIASES`, fragments counted as inlined ([Limits](limits.md))"},
	{CodeTooManyRoot, "more root fields than `MAX_ROOT_FIELDS` ([Limits](limits.md))"},
	{CodeTooManyDirects, "more directives than `MAX_DIRECTIVES`, fragments counted as inlined ([Limits](limits.md))"},
	{CodeTooManyRepeats, "one response name selected more than 10 times in one selection set ([Limits](limits.md))"},
	{CodeQueryTooComplex, "an estimated cost over `MAX_COST` ([Limits](limits.md))"},
	{CodeTooManyContract, "more distinct contracts than `MAX_CONTRACTS` ([Limits](limits.md))"},
	{CodeResponseTooBig, "the answer reached `MAX_FIELDS` or `MAX_RESPONSE_BYTES` and was cut short ([Limits](limits.md))"},
	{CodeOperationTime, "the operation reached `OPERATION_TIMEOUT` and was cut short ([Limits](limits.md))"},
	{CodePersistedNotFound, "an id or hash the facade does not know (send the text with the hash, or check the manifest)"},
	{CodeNotInSafelist, "with `SAFELIST=true`, an operation that is not in the manifest"},
	{CodeIntrospectionOff, "`__schema` or `__type` where introspection is off (see [Modes](modes.md))"},
	{CodeRateLimited, "the caller's rate limit cannot pay for the operation now (HTTP 429, `Retry-After`, `extensions.retryAfter`)"},
	{CodeOverloaded, "a heavy operation (estimated cost of `HEAVY_COST` or more) found no turn: `HEAVY_QUEUE` of them wait already, or its turn did not come within half its time (HTTP 503, `Retry-After`, `extensions.retryAfter`); cheaper operations are never refused so"},
	{CodeTooManySubs, "a subscription past `SUBSCRIPTIONS_PER_CALLER` of its caller's, or past `SUBSCRIPTIONS_MAX` of the server's (see [Live updates](live.md))"},
	{CodeSubsDegraded, "an event without data telling a subscriber that changes may come late: the replica does not hear invalidations (Redis' feed is lost), and reads the watched contracts again every `SUBSCRIPTION_POLL_INTERVAL` (30 s when unset) until it does (see [Live updates](live.md))"},
	{CodeTooManyErrorsInReply, "the last of an answer's 100 errors, counting those left out"},
}

var errNoLoaders = errors.New("request has no loaders: serve it through NewHandler")

// codedError is an error a resolver words itself, with its code.
type codedError struct{ code, msg string }

func (e *codedError) Error() string { return e.msg }

// fieldError reports an upstream value that could not be decoded; it costs that field only.
type fieldError struct{ object, field string }

func (e *fieldError) Error() string {
	return fmt.Sprintf("the upstream value of %s.%s could not be decoded", e.object, e.field)
}

// ErrorPresenter maps every error a resolver returns onto the vocabulary above. Messages are
// fixed per kind: no upstream body, token or personal data reaches a client. Errors that are not
// categorised become "internal error". An operation's errors are logged together, in one line
// (see operation.logErrors); log gets those met outside an operation.
func ErrorPresenter(log *slog.Logger) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		if errors.Is(err, errCut) {
			return nil // a field after the operation stopped: its error said why already
		}
		var gqlErr *gqlerror.Error
		if errors.As(err, &gqlErr) && gqlErr.Err == nil {
			// Parse and validation errors, refusals by a limit, and errors a resolver shaped
			// already.
			if code, ok := gqlErr.Extensions["code"].(string); ok {
				noteError(ctx, log, code, gqlErr.Path.String(), nil)
			}
			return gqlErr
		}
		out := graphql.DefaultErrorPresenter(ctx, err)
		code, msg, ext := classify(err)
		noteError(ctx, log, code, out.Path.String(), err)
		out.Message = msg
		out.Extensions = map[string]any{"code": code}
		for k, v := range ext {
			out.Extensions[k] = v
		}
		var ce *contractError
		if errors.As(err, &ce) {
			out.Extensions["contractId"], out.Extensions["index"] = ce.id, ce.index
		}
		return out
	}
}

// noteError counts an error for its operation's log line, or logs it at once outside one.
func noteError(ctx context.Context, log *slog.Logger, code, path string, err error) {
	if q := requestFrom(ctx); q != nil {
		q.op.note(code, path, err)
		return
	}
	if level, ok := severity(code); ok {
		log.LogAttrs(ctx, level, "error", slog.String("code", code), slog.String("path", path), errAttr(code, err))
	}
}

func classify(err error) (code, msg string, ext map[string]any) {
	var (
		status *upstream.StatusError
		coded  *codedError
		input  *model.InputError
		field  *fieldError
	)
	switch {
	case errors.As(err, &coded):
		return coded.code, coded.msg, nil
	case errors.As(err, &input):
		return CodeBadUserInput, input.Msg, nil
	case errors.As(err, &field):
		return CodeUpstreamBadResponse, field.Error(), nil
	case errors.Is(err, upstream.ErrInvalidID):
		return CodeBadUserInput, "invalid contract id: use 1 to 64 letters, digits, '-' or '_'", nil
	case errors.Is(err, upstream.ErrNoCredential):
		return CodeUnauthenticated, "this query needs the upstream: send an Authorization: Bearer <token> header", nil
	case errors.Is(err, errNoKey):
		return CodeUnauthenticated, errNoKey.Error(), nil
	case errors.Is(err, errNotBearer):
		return CodeUnauthenticated, errNotBearer.Error(), nil
	case errors.As(err, &status):
		ext := map[string]any{"upstreamStatus": status.Status}
		switch {
		case status.Status == http.StatusUnauthorized:
			return CodeUnauthenticated, "the upstream did not accept the token", ext
		case status.Status == http.StatusForbidden:
			return CodeForbidden, "the token may not read this contract", ext
		case status.Status == http.StatusNotFound:
			return CodeNotFound, "contract not found", ext
		case status.Status == http.StatusTooManyRequests, status.Status == http.StatusServiceUnavailable && status.RetryAfter > 0:
			// A 503 with a Retry-After is the upstream asking for a pause, as a 429 does.
			msg := "the upstream's rate limit was reached"
			if status.RetryAfter > 0 {
				secs := int(math.Ceil(status.RetryAfter.Seconds()))
				ext["retryAfter"] = secs
				msg = fmt.Sprintf("%s; retry after %d s", msg, secs)
			}
			return CodeUpstreamRateLimited, msg, ext
		}
		return CodeUpstreamError, fmt.Sprintf("the upstream failed with status %d", status.Status), ext
	case errors.Is(err, upstream.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return CodeUpstreamTimeout, "the upstream did not answer in time", nil
	case errors.Is(err, context.Canceled):
		// The caller went away (or the server is stopping) before the answer: nobody reads
		// it, and it is no fault of ours or the upstream's.
		return CodeCancelled, "the request was cancelled", nil
	case errors.Is(err, upstream.ErrBreakerOpen):
		return CodeUpstreamUnavailable, "the upstream is failing: calls to it are paused for a few seconds", nil
	case errors.Is(err, upstream.ErrUnavailable):
		return CodeUpstreamUnavailable, "the upstream cannot be reached", nil
	case errors.Is(err, upstream.ErrBadResponse):
		return CodeUpstreamBadResponse, "the upstream sent a response that cannot be decoded", nil
	}
	return CodeInternal, "internal error", nil
}

// Recover turns a resolver panic into an internal error, logged with its value (which is ours,
// not the upstream's).
func Recover(log *slog.Logger) graphql.RecoverFunc {
	return func(ctx context.Context, p any) error {
		log.ErrorContext(ctx, "resolver panic", "panic", fmt.Sprint(p))
		return errors.New("panic")
	}
}

// parentObject finds the object a field is resolved on. gqlgen keeps it as the Result of the
// parent field, except inside a list, where the parent is the element's index and the list is
// one level up.
func parentObject(fc *graphql.FieldContext) any {
	p := fc.Parent
	if p == nil {
		return nil
	}
	if p.Index == nil {
		return p.Result
	}
	if p.Parent == nil || p.Parent.Result == nil {
		return nil
	}
	list := reflect.ValueOf(p.Parent.Result)
	if list.Kind() != reflect.Slice || *p.Index >= list.Len() {
		return nil
	}
	return list.Index(*p.Index).Interface()
}
