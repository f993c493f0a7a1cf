package graph

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/coder/websocket"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// GraphQL over WebSocket, as graphql-ws has it (the graphql-transport-ws subprotocol), on
// /graphql. gqlgen's own WebSocket transport runs every operation of a connection on the one
// context its init made, and offers no hook before an operation's context is made: this facade
// keeps each operation's caller state (request: credential, budget, bounds, loaders) in its own,
// so the protocol's six messages are spoken here, over coder/websocket, and each operation runs
// as an HTTP request's does. The caller authenticates in connection_init's payload
// (connectionParams: {"Authorization": "Bearer <token>"}), since a browser cannot set headers
// on a WebSocket; upgrades from origins CORS_ORIGINS does not allow are refused (cross-site
// WebSocket hijacking).

const wsProtocol = "graphql-transport-ws"

// Close codes of graphql-transport-ws.
const (
	closeBadMessage   websocket.StatusCode = 4400
	closeUnauthorized websocket.StatusCode = 4401
	closeForbidden    websocket.StatusCode = 4403
	closeSubprotocol  websocket.StatusCode = 4406
	closeInitTimeout  websocket.StatusCode = 4408
	closeDuplicateID  websocket.StatusCode = 4409
	closeTooManyInits websocket.StatusCode = 4429
)

// wsInitWait is how long a connection may take to send connection_init.
const wsInitWait = 10 * time.Second

type webSocket struct {
	auth    *Authenticator
	timeout time.Duration // of a query or mutation (Options.Timeout)
	accept  websocket.AcceptOptions
}

// newWebSocket serves graphql-ws to browsers on origins (["*"]: any; none: the server's own).
func newWebSocket(auth *Authenticator, origins []string, timeout time.Duration) *webSocket {
	t := &webSocket{auth: auth, timeout: timeout, accept: websocket.AcceptOptions{Subprotocols: []string{wsProtocol}}}
	for _, o := range origins {
		if o == "*" {
			t.accept.InsecureSkipVerify = true // any origin, as CORS_ORIGINS=* says
		}
		t.accept.OriginPatterns = append(t.accept.OriginPatterns, o) // scheme://host
	}
	return t
}

// isWebSocket reports whether r asks to upgrade to a WebSocket: it authenticates in the
// protocol, not in its headers.
func isWebSocket(r *http.Request) bool {
	return r.Method == http.MethodGet && strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

var _ graphql.Transport = (*webSocket)(nil)

func (t *webSocket) Supports(r *http.Request) bool { return isWebSocket(r) }

func (t *webSocket) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	q := requestFrom(r.Context())
	c, err := websocket.Accept(w, r, &t.accept)
	if err != nil {
		return // Accept answered: 403 for an origin not allowed, 400 for a bad handshake
	}
	defer c.CloseNow()
	if c.Subprotocol() != wsProtocol {
		c.Close(closeSubprotocol, "Subprotocol not acceptable: use graphql-transport-ws")
		return
	}
	ctx, cancel := context.WithCancel(q.untimed)
	defer cancel()
	conn := &wsConn{t: t, c: c, exec: exec, base: q, ctx: ctx, ops: map[string]context.CancelFunc{}}
	conn.serve()
}

// wsConn is one connection: its caller, once initialised, and its operations by id.
type wsConn struct {
	t    *webSocket
	c    *websocket.Conn
	exec graphql.GraphExecutor
	base *request // the upgrade's: its options, loaders' fetcher and projections
	ctx  context.Context

	cred Credential
	mu   sync.Mutex
	ops  map[string]context.CancelFunc
	wg   sync.WaitGroup
}

type wsMessage struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

func (cn *wsConn) serve() {
	defer func() {
		cn.mu.Lock()
		for _, cancel := range cn.ops {
			cancel()
		}
		cn.mu.Unlock()
		cn.wg.Wait()
	}()
	messages := make(chan wsMessage)
	go func() {
		defer close(messages)
		for {
			var m wsMessage
			_, b, err := cn.c.Read(cn.ctx)
			if err != nil {
				return
			}
			if json.Unmarshal(b, &m) != nil || m.Type == "" {
				cn.c.Close(closeBadMessage, "Invalid message received")
				return
			}
			select {
			case messages <- m:
			case <-cn.ctx.Done():
				return
			}
		}
	}()
	initWait := time.NewTimer(wsInitWait)
	defer initWait.Stop()
	ping := time.NewTicker(keepAlive)
	defer ping.Stop()
	acked := false
	for {
		select {
		case <-initWait.C:
			if !acked {
				cn.c.Close(closeInitTimeout, "Connection initialisation timeout")
				return
			}
		case <-ping.C:
			pctx, cancel := context.WithTimeout(cn.ctx, keepAlive)
			err := cn.c.Ping(pctx)
			cancel()
			if err != nil {
				return
			}
		case <-cn.base.stop:
			cn.c.Close(websocket.StatusGoingAway, "the server is shutting down: connect again")
			return
		case <-cn.ctx.Done():
			return
		case m, ok := <-messages:
			if !ok {
				return
			}
			switch m.Type {
			case "connection_init":
				if acked {
					cn.c.Close(closeTooManyInits, "Too many initialisation requests")
					return
				}
				if !cn.init(m.Payload) {
					return
				}
				acked = true
				cn.send(wsMessage{Type: "connection_ack"})
			case "ping":
				cn.send(wsMessage{Type: "pong", Payload: m.Payload})
			case "pong":
			case "subscribe":
				if !acked {
					cn.c.Close(closeUnauthorized, "Unauthorized")
					return
				}
				if !cn.start(m) {
					return
				}
			case "complete":
				cn.mu.Lock()
				if cancel := cn.ops[m.ID]; cancel != nil {
					cancel()
				}
				cn.mu.Unlock()
			default:
				cn.c.Close(closeBadMessage, "Invalid message received")
				return
			}
		}
	}
}

// init authenticates the connection by connection_init's payload, as a request by its
// Authorization header: {"Authorization": "Bearer <token>"} (or "authorization", or within
// "headers"). A caller who may not use the API is closed with 4403.
func (cn *wsConn) init(payload json.RawMessage) bool {
	var p struct {
		Authorization  string `json:"Authorization"`
		Authorization2 string `json:"authorization"`
		Headers        struct {
			Authorization  string `json:"Authorization"`
			Authorization2 string `json:"authorization"`
		} `json:"headers"`
	}
	if len(payload) > 0 && json.Unmarshal(payload, &p) != nil {
		cn.c.Close(closeBadMessage, "Invalid message received")
		return false
	}
	header := http.Header{}
	for _, v := range []string{p.Authorization, p.Authorization2, p.Headers.Authorization, p.Headers.Authorization2} {
		if v != "" {
			header.Set("Authorization", v)
			break
		}
	}
	cn.cred = cn.t.auth.Credential(&http.Request{Header: header})
	if cn.cred.Err != nil {
		cn.base.loaders.obs.Refused(CodeUnauthenticated)
		cn.c.Close(closeForbidden, "Forbidden: send Authorization: Bearer <token> in connectionParams")
		return false
	}
	return true
}

// start runs a subscribe message's operation on its own; it refuses an id already running.
func (cn *wsConn) start(m wsMessage) bool {
	var params graphql.RawParams
	if m.ID == "" || json.Unmarshal(m.Payload, &params) != nil {
		cn.c.Close(closeBadMessage, "Invalid message received")
		return false
	}
	ctx, cancel := context.WithCancel(cn.ctx)
	cn.mu.Lock()
	if _, dup := cn.ops[m.ID]; dup {
		cn.mu.Unlock()
		cancel()
		cn.c.Close(closeDuplicateID, "Subscriber for "+m.ID+" already exists")
		return false
	}
	cn.ops[m.ID] = cancel
	cn.mu.Unlock()
	cn.wg.Go(func() {
		defer func() {
			cn.mu.Lock()
			delete(cn.ops, m.ID)
			cn.mu.Unlock()
			cancel()
		}()
		cn.operation(ctx, m.ID, &params)
	})
	return true
}

// operation runs one operation as an HTTP request's runs (its own request state, limits and
// rate limit) and sends its results: a subscription's events as they come, anything else once.
func (cn *wsConn) operation(ctx context.Context, id string, params *graphql.RawParams) {
	o := cn.base
	q := &request{cred: cn.cred, personal: o.personal, requestID: o.requestID, untimed: ctx, rates: o.rates, stop: o.stop, live: o.live}
	l := &o.loaders
	q.loaders = loaders{q: q, fetch: l.fetch, obs: l.obs, spans: l.spans, wait: l.wait, ps: l.ps}
	q.op.start, q.op.limits = time.Now(), o.op.limits
	q.ctx = ctx
	ctx = graphql.StartOperationTrace(context.WithValue(ctx, requestCtx{}, q))
	params.ReadTime = graphql.TraceTiming{Start: graphql.Now(), End: graphql.Now()}
	rc, errs := cn.exec.CreateOperationContext(ctx, params)
	if errs != nil {
		resp := cn.exec.DispatchError(graphql.WithOperationContext(ctx, rc), errs)
		cn.sendErrors(id, resp.Errors)
		return
	}
	ctx = graphql.WithOperationContext(ctx, rc)
	if rc.Operation.Operation != ast.Subscription {
		defer func() {
			if q.op.done != nil {
				q.op.done()
			}
		}()
		if hasDefer(rc.Doc, rc.Operation) {
			withoutDefer(rc) // one answer, deferred fields inline
		}
		if t := cn.t.timeout; t > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, t)
			defer cancel()
			q.ctx = ctx
		}
		defer q.op.stopAtDeadline(ctx)()
		responses, ctx := cn.exec.DispatchOperation(ctx, rc)
		cn.next(id, appendResponse(nil, responses(ctx), true))
		cn.send(wsMessage{ID: id, Type: "complete"})
		return
	}
	responses, ctx := cn.exec.DispatchOperation(ctx, rc)
	for payload := range subscriptionEvents(ctx, q, responses) {
		cn.next(id, payload)
	}
	if ctx.Err() == nil {
		cn.send(wsMessage{ID: id, Type: "complete"})
	}
}

func (cn *wsConn) next(id string, payload []byte) {
	cn.send(wsMessage{ID: id, Type: "next", Payload: payload})
}

func (cn *wsConn) sendErrors(id string, errs gqlerror.List) {
	b, err := marshalJSON(errs)
	if err != nil {
		b = []byte(`[{"message":"the errors could not be encoded"}]`)
	}
	cn.send(wsMessage{ID: id, Type: "error", Payload: b})
}

func (cn *wsConn) send(m wsMessage) {
	b, err := json.Marshal(m)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(cn.ctx, keepAlive)
	defer cancel()
	if err := cn.c.Write(ctx, websocket.MessageText, b); err != nil && !errors.Is(err, context.Canceled) {
		cn.c.CloseNow()
	}
}
