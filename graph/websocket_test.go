package graph

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/enneo-facade/facade/graph/live"
)

// wsClient is a graphql-transport-ws client over a real socket, for tests.
type wsClient struct {
	t *testing.T
	c *websocket.Conn
}

func dialWS(t *testing.T, api string, header http.Header) (*wsClient, *http.Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(api, "http"), &websocket.DialOptions{Subprotocols: []string{wsProtocol}, HTTPHeader: header})
	if err != nil {
		return nil, resp, err
	}
	t.Cleanup(func() { c.CloseNow() })
	return &wsClient{t, c}, resp, nil
}

func (w *wsClient) send(m any) {
	w.t.Helper()
	b, _ := json.Marshal(m)
	if err := w.c.Write(w.t.Context(), websocket.MessageText, b); err != nil {
		w.t.Fatal(err)
	}
}

// read returns the next message, or the close status that ended the connection.
func (w *wsClient) read() (wsMessage, websocket.StatusCode) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(w.t.Context(), 10*time.Second)
	defer cancel()
	_, b, err := w.c.Read(ctx)
	if err != nil {
		if s := websocket.CloseStatus(err); s != -1 {
			return wsMessage{}, s
		}
		w.t.Fatalf("read: %v", err)
	}
	var m wsMessage
	if err := json.Unmarshal(b, &m); err != nil {
		w.t.Fatal(err)
	}
	return m, -1
}

func (w *wsClient) expect(typ string) wsMessage {
	w.t.Helper()
	m, closed := w.read()
	if closed != -1 || m.Type != typ {
		w.t.Fatalf("got %s %s (closed %d), want %s", m.Type, m.Payload, closed, typ)
	}
	return m
}

func (w *wsClient) init(token string) {
	w.t.Helper()
	w.send(map[string]any{"type": "connection_init", "payload": map[string]string{"Authorization": "Bearer " + token}})
	w.expect("connection_ack")
}

// TestSubscriptionOverWebSocket: graphql-ws's protocol on /graphql: the caller authenticates in
// connection_init, a subscription gets its events as next messages and ends with the client's
// complete, and a query is answered once.
func TestSubscriptionOverWebSocket(t *testing.T) {
	up := newChangingUpstream(t)
	api, histories, hub := newLiveAPI(t, up.testUpstream, live.Options{})
	ws, _, err := dialWS(t, api.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	ws.init("alice")
	ws.send(map[string]any{"id": "q", "type": "subscribe", "payload": map[string]any{"query": `{ contract(id: "c1") { id history { tickets { subject } } } }`}})
	if m := ws.expect("next"); m.ID != "q" || !strings.Contains(string(m.Payload), `"subject":"alice v1"`) {
		t.Errorf("the query: %s %s", m.ID, m.Payload)
	}
	ws.expect("complete")

	ws.send(map[string]any{"id": "s", "type": "subscribe", "payload": map[string]any{"query": changedQuery}})
	watching(t, hub, 1)
	up.version.Store(2)
	if err := histories.Invalidate(context.Background(), "c1"); err != nil {
		t.Fatal(err)
	}
	if m := ws.expect("next"); m.ID != "s" || !strings.Contains(string(m.Payload), `"subject":"alice v2"`) {
		t.Errorf("the event: %s %s", m.ID, m.Payload)
	}
	ws.send(map[string]any{"id": "s", "type": "complete"})
	watching(t, hub, 0)
	ws.send(map[string]any{"type": "ping"})
	ws.expect("pong")

	// An error before execution is an error message for its id; the connection goes on.
	ws.send(map[string]any{"id": "bad", "type": "subscribe", "payload": map[string]any{"query": `subscription { contractChanged(ids: ["c1"]) { nope } }`}})
	if m := ws.expect("error"); m.ID != "bad" || !strings.Contains(string(m.Payload), CodeValidationFailed) {
		t.Errorf("a bad operation: %s %s", m.ID, m.Payload)
	}
	ws.send(map[string]any{"type": "ping"})
	ws.expect("pong")
}

// TestWebSocketRefusals: the protocol's refusals, each with its close code, and the origins
// a browser may open a socket from.
func TestWebSocketRefusals(t *testing.T) {
	up := newChangingUpstream(t)
	api, _, _ := newLiveAPI(t, up.testUpstream, live.Options{})
	for _, tt := range []struct {
		name  string
		steps func(ws *wsClient)
		want  websocket.StatusCode
	}{
		{"no credential", func(ws *wsClient) { ws.send(map[string]any{"type": "connection_init"}) }, closeForbidden},
		{"subscribe before init", func(ws *wsClient) {
			ws.send(map[string]any{"id": "1", "type": "subscribe", "payload": map[string]any{"query": "{ __typename }"}})
		}, closeUnauthorized},
		{"init twice", func(ws *wsClient) {
			ws.init("alice")
			ws.send(map[string]any{"type": "connection_init", "payload": map[string]string{"Authorization": "Bearer alice"}})
		}, closeTooManyInits},
		{"an id in use", func(ws *wsClient) {
			ws.init("alice")
			ws.send(map[string]any{"id": "1", "type": "subscribe", "payload": map[string]any{"query": changedQuery}})
			ws.send(map[string]any{"id": "1", "type": "subscribe", "payload": map[string]any{"query": changedQuery}})
		}, closeDuplicateID},
		{"not a message", func(ws *wsClient) { ws.send("hello") }, closeBadMessage},
	} {
		ws, _, err := dialWS(t, api.URL, nil)
		if err != nil {
			t.Fatal(err)
		}
		tt.steps(ws)
		for {
			m, closed := ws.read()
			if closed != -1 {
				if closed != tt.want {
					t.Errorf("%s: closed with %d, want %d", tt.name, closed, tt.want)
				}
				break
			}
			if m.Type != "connection_ack" {
				t.Errorf("%s: %s before the close", tt.name, m.Type)
			}
		}
	}
	// Cross-site WebSocket hijacking: a page of another origin is refused at the handshake.
	if _, resp, err := dialWS(t, api.URL, http.Header{"Origin": {"https://evil.example"}}); err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("another origin: %v, want 403", err)
	}
	if _, _, err := dialWS(t, api.URL, http.Header{"Origin": {api.URL}}); err != nil {
		t.Errorf("the server's own origin: %v", err)
	}
}

// TestWebSocketsGoAwayWhenTheServerStops: shutdown closes sockets with 1001, going away, for
// graphql-ws's client to connect again, to another replica.
func TestWebSocketsGoAwayWhenTheServerStops(t *testing.T) {
	stopping := make(chan struct{})
	api, _, hub := newLiveAPI(t, newChangingUpstream(t).testUpstream, live.Options{}, stopping)
	ws, _, err := dialWS(t, api.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	ws.init("alice")
	ws.send(map[string]any{"id": "s", "type": "subscribe", "payload": map[string]any{"query": changedQuery}})
	watching(t, hub, 1)
	close(stopping)
	if _, closed := ws.read(); closed != websocket.StatusGoingAway {
		t.Errorf("closed with %d, want 1001", closed)
	}
	watching(t, hub, 0)
}
