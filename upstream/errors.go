package upstream

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// The errors below are the whole vocabulary the facade needs from the upstream; callers inspect
// them with errors.Is and errors.As. None of them carries an upstream body, a token or personal data.
var (
	// ErrNotFound reports a 404 (a *StatusError matches it): the contract does not exist or is not
	// visible to the token.
	ErrNotFound = errors.New("contract not found")
	// ErrNoCredential reports a call that has neither a caller token nor a service token.
	ErrNoCredential = errors.New("no credential: send an Authorization: Bearer header")
	// ErrInvalidID reports a contract id that must not reach a URL path.
	ErrInvalidID = errors.New("invalid contract id")
	// ErrBadResponse reports a body that is not the JSON the endpoint documents, or is too large.
	ErrBadResponse = errors.New("upstream sent a response that cannot be decoded")
	// ErrTimeout reports an upstream call that did not answer in time.
	ErrTimeout = errors.New("upstream did not answer in time")
	// ErrUnavailable reports an upstream that could not be reached at all.
	ErrUnavailable = errors.New("upstream unreachable")
)

// StatusError reports an upstream answer with an unexpected HTTP status. It keeps the method and
// the URL path (a contract id, no query and no host) for logs; never the body, which may hold
// personal data.
type StatusError struct {
	Method     string
	Path       string
	Status     int
	RetryAfter time.Duration // from a 429's or 503's Retry-After header; zero when absent
}

// Is makes errors.Is(err, ErrNotFound) hold for a 404, so callers need not look at statuses.
func (e *StatusError) Is(target error) bool {
	return target == ErrNotFound && e.Status == http.StatusNotFound
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("upstream %s %s: %d %s", e.Method, e.Path, e.Status, http.StatusText(e.Status))
}

// Kind names what went wrong in err, for logs: a status, a timeout and the like, and never the
// contract id that the error's message holds, which came from a caller.
func Kind(err error) string {
	var se *StatusError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &se):
		return fmt.Sprintf("status %d", se.Status)
	case errors.Is(err, ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "cancelled"
	case errors.Is(err, ErrBreakerOpen):
		return "breaker open"
	case errors.Is(err, ErrUnavailable):
		return "unreachable"
	case errors.Is(err, ErrBadResponse):
		return "bad response"
	case errors.Is(err, ErrInvalidID):
		return "invalid id"
	case errors.Is(err, ErrNoCredential):
		return "no credential"
	}
	return "other"
}
