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

// The codes clients see in extensions.code; one fixed vocabulary (docs/errors.md).
const (
	CodeUnauthenticated     = "UNAUTHENTICATED"
	CodeForbidden           = "FORBIDDEN"
	CodeNotFound            = "NOT_FOUND"
	CodeBadUserInput        = "BAD_USER_INPUT"
	CodeUpstreamRateLimited = "UPSTREAM_RATE_LIMITED"
	CodeUpstreamTimeout     = "UPSTREAM_TIMEOUT"
	CodeUpstreamUnavailable = "UPSTREAM_UNAVAILABLE"
	CodeUpstreamError       = "UPSTREAM_ERROR"
	CodeUpstreamBadResponse = "UPSTREAM_BAD_RESPONSE"
	CodeCancelled           = "CANCELLED"
	CodeRateLimited         = "RATE_LIMITED"
	CodeInternal            = "INTERNAL"
)

// The codes of HTTP requests refused before they reach GraphQL, each with its status.
const (
	CodeBadRequest       = "BAD_REQUEST"            // 400: not a GraphQL request this API reads (not JSON, a batch, no query)
	CodeMethodNotAllowed = "METHOD_NOT_ALLOWED"     // 405: a method /graphql does not take, or a mutation over GET
	CodeNotAcceptable    = "NOT_ACCEPTABLE"         // 406: Accept names no type the API writes
	CodeRequestTooLarge  = "REQUEST_TOO_LARGE"      // 413: a body over MAX_REQUEST_BYTES
	CodeUnsupportedMedia = "UNSUPPORTED_MEDIA_TYPE" // 415: a POST body that is not application/json
)

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
	if l := loadersFrom(ctx); l != nil {
		l.op.note(code, path, err)
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
