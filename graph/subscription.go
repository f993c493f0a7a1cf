package graph

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/enneo-facade/facade/graph/live"
	"github.com/enneo-facade/facade/upstream"
)

// Subscriptions (contractChanged) are served as server-sent events: the subscription is made
// once, with its caller's credential, limits and rate limit as any operation's, and then every
// event is executed as an operation of its own (eventRequest): its own loaders, bounds and
// provenance, and its cost taken from the caller's budget. graph/live says when a watched
// contract changed and hands over its new history.

// maxWatched is the most contracts one subscription watches.
const maxWatched = MaxContracts

// contractChanged subscribes the caller at ctx to changes of ids.
func (r *Resolver) contractChanged(ctx context.Context, ids []string) (<-chan *upstream.Contract, error) {
	q := requestFrom(ctx)
	switch {
	case q == nil:
		return nil, errNoLoaders
	case q.cred.Err != nil:
		return nil, q.cred.Err
	case r.live == nil:
		return nil, &codedError{CodeTooManySubs, "this server takes no subscriptions"}
	case len(ids) == 0 || len(ids) > maxWatched:
		return nil, &codedError{CodeBadUserInput, fmt.Sprintf("contractChanged watches 1 to %d ids, got %d", maxWatched, len(ids))}
	}
	for _, id := range ids {
		if !upstream.ValidID(id) {
			return nil, upstream.ErrInvalidID
		}
	}
	slices.Sort(ids)
	events, err := r.live.Subscribe(ctx, q.cred.Upstream, q.cred.rateKey(), slices.Compact(ids))
	var refusal *live.Refusal
	if errors.As(err, &refusal) {
		return nil, &codedError{CodeTooManySubs, refusal.Error()}
	}
	if err != nil {
		return nil, err
	}
	out := make(chan *upstream.Contract)
	if q.personal.audit != nil {
		q.delivered = &contractQueue{}
	}
	go func() {
		defer close(out)
		for e := range events {
			k, _ := contractIn(e.History, e.ContractID)
			q.delivered.push(e.ContractID) // before the executor can receive it
			select {
			case out <- k:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}

// eventRequest is the state of one event of q's subscription: q's caller, limits and cost,
// and loaders, bounds and provenance of its own.
func (q *request) eventRequest() *request {
	e := &request{cred: q.cred, personal: q.personal, requestID: q.requestID, event: q.delivered, ctx: q.ctx, untimed: q.untimed, rates: q.rates, stop: q.stop, live: q.live}
	l := &q.loaders
	e.loaders = loaders{q: e, fetch: l.fetch, obs: l.obs, spans: l.spans, wait: l.wait, ps: l.ps}
	e.op.start, e.op.limits = time.Now(), q.op.limits
	e.op.cost, e.op.costed = q.op.cost, true
	return e
}

// resolveEventField is a subscription's resolver middleware: its events are operations of
// their own, so the bounds are each event's (see eventRequest), found in the field's context.
func resolveEventField(ctx context.Context, next graphql.Resolver) (any, error) {
	if q := requestFrom(ctx); q != nil {
		return q.resolveField(ctx, next)
	}
	return next(ctx)
}

// keepAlive is how often an idle event stream gets a comment, so that proxies and clients see
// it alive.
const keepAlive = 15 * time.Second

// streamSubscription runs rc, a subscription, and writes its events as server-sent events until
// the client leaves or the subscription ends. The operation's deadline does not apply to the
// stream (request.untimed), nor the server's write timeout; each event is bounded as an
// operation of its own.
func streamSubscription(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor, rc *graphql.OperationContext) {
	q := requestFrom(r.Context())
	rw := http.NewResponseController(w)
	rw.SetWriteDeadline(time.Time{})
	ctx := graphql.WithOperationContext(context.WithValue(q.untimed, requestCtx{}, q), rc)
	responses, ctx := exec.DispatchOperation(ctx, rc)
	h := w.Header()
	h.Set("Content-Type", textEventStream+"; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // nginx would hold the events back
	h.Del("Content-Length")
	w.WriteHeader(http.StatusOK)
	// A comment at once: the client sees the stream open before the first change (a
	// compressing writer sends nothing on a flush before the first bytes).
	if _, err := io.WriteString(w, ": subscribed\n\n"); err != nil || rw.Flush() != nil {
		return
	}
	events := subscriptionEvents(ctx, q, responses)
	tick := time.NewTicker(keepAlive)
	defer tick.Stop()
	for {
		var err error
		select {
		case payload, ok := <-events:
			if !ok {
				if ctx.Err() == nil {
					io.WriteString(w, serverSentEvents.end)
				}
				return
			}
			err = serverSentEvents.part(w, payload)
		case <-tick.C:
			_, err = io.WriteString(w, ": keep-alive\n\n")
		case <-ctx.Done():
			return
		case <-q.stop:
			// The server is going away: the stream ends without complete, which graphql-sse's
			// client and EventSource take as a reason to connect again, to another replica.
			return
		}
		if err != nil || rw.Flush() != nil {
			return // the client is gone: ctx ends with the request, and the subscription with it
		}
	}
}

// subscriptionEvents runs a subscription's events, each as an operation of its own
// (eventRequest) charged to its caller, and hands over their payloads until the subscription
// ends (the channel closes) or ctx ends. When the replica stops hearing invalidations, a payload
// with one SUBSCRIPTION_DEGRADED error says so: changes may come late, by polling.
func subscriptionEvents(ctx context.Context, q *request, responses graphql.ResponseHandler) <-chan []byte {
	out := make(chan []byte)
	results := make(chan []byte)
	go func() {
		defer close(results)
		for {
			e := q.eventRequest()
			resp := responses(context.WithValue(ctx, requestCtx{}, e))
			if resp == nil {
				return
			}
			select {
			case results <- e.charge(ctx, resp):
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() {
		defer close(out)
		var deaf bool
		var changed <-chan struct{}
		if q.live != nil {
			deaf, changed = q.live.State()
		}
		for {
			if deaf {
				select {
				case out <- degradedNotice:
				case <-ctx.Done():
					return
				}
				deaf = false // said once, until the state changes again
			}
			select {
			case payload, ok := <-results:
				if !ok {
					return
				}
				select {
				case out <- payload:
				case <-ctx.Done():
					return
				}
			case <-changed:
				deaf, changed = q.live.State()
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}

// degradedNotice is the event that tells subscribers that changes may come late.
var degradedNotice = appendResponse(nil, &graphql.Response{Errors: gqlerror.List{{
	Message:    "live updates may come late: this replica does not hear invalidations now, and reads the watched contracts again every so often until it does",
	Extensions: map[string]any{"code": CodeSubsDegraded},
}}}, false)

// charge takes an event's cost from its caller's budget, and returns the event's payload: its
// answer, or the refusal when the budget cannot pay for it (the subscription goes on).
func (e *request) charge(ctx context.Context, resp *graphql.Response) []byte {
	if e.rates != nil {
		if d := e.rates.Take(ctx, e.cred.rateKey(), e.op.cost); !d.Allowed {
			return appendResponse(nil, &graphql.Response{Errors: gqlerror.List{rateLimited(e.op.cost, d)}}, false)
		}
	}
	return appendResponse(nil, resp, true)
}

// contractQueue is the ids of the contracts a subscription handed to the executor, in order,
// each taken by its event's audit line: the executor marshals the contract with no trace of
// which one it was. nil: no audit.
type contractQueue struct {
	mu  sync.Mutex
	ids []string
}

func (c *contractQueue) push(id string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.ids = append(c.ids, id)
	c.mu.Unlock()
}

// pop takes the oldest id, "" for none.
func (c *contractQueue) pop() string {
	if c == nil {
		return ""
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.ids) == 0 {
		return ""
	}
	id := c.ids[0]
	c.ids = c.ids[1:]
	return id
}
