package upstream

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/enneo-facade/facade/upstream/demo"
)

// newTestClient starts h as the upstream and returns a client for it and a call counter.
func newTestClient(t *testing.T, h http.HandlerFunc, o Options) (*Client, *atomic.Int64) {
	t.Helper()
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	o.BaseURL = srv.URL + "/api/mind"
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return c, &calls
}

// serve answers every request with body as JSON.
func serve(body []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}
}

func TestHistoryRequest(t *testing.T) {
	var gotPath, gotAuth string
	c, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		gotPath, gotAuth = r.URL.EscapedPath(), r.Header.Get("Authorization")
		serve(demo.ExampleHistory())(w, r)
	}, Options{})
	h, err := c.History(context.Background(), "caller-token", "C-1001")
	if err != nil {
		t.Fatal(err)
	}
	if gotPath != "/api/mind/contract/C-1001/history" || gotAuth != "Bearer caller-token" {
		t.Errorf("request = %s with %q, want /api/mind/contract/C-1001/history with the caller's token", gotPath, gotAuth)
	}
	if len(h.Tickets) != 1 || h.Tickets[0].CreatedAt.Location().String() != "Europe/Berlin" {
		t.Errorf("History decoded %d tickets, createdAt zone %v", len(h.Tickets), h.Tickets[0].CreatedAt.Location())
	}
}

func TestServiceTokenReplacesCallerToken(t *testing.T) {
	var gotAuth string
	c, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		gotAuth = r.Header.Get("Authorization")
		w.Write([]byte(`{"tickets":[]}`))
	}, Options{ServiceToken: "service"})
	if _, err := c.History(context.Background(), "", "1"); err != nil {
		t.Fatal(err)
	}
	if gotAuth != "Bearer service" {
		t.Errorf("Authorization = %q, want the service token", gotAuth)
	}
}

func TestHistoryRefusesWithoutCalling(t *testing.T) {
	c, calls := newTestClient(t, serve(demo.ExampleHistory()), Options{})
	tests := []struct {
		token, id string
		want      error
	}{
		{"", "746839", ErrNoCredential},
		{"t", "../admin", ErrInvalidID},
		{"t", "1/history?x=", ErrInvalidID},
		{"t", "a b", ErrInvalidID},
		{"t", "", ErrInvalidID},
		{"t", "%2e%2e", ErrInvalidID},
		{"t", strings.Repeat("9", 65), ErrInvalidID},
	}
	for _, tt := range tests {
		if _, err := c.History(context.Background(), tt.token, tt.id); !errors.Is(err, tt.want) {
			t.Errorf("History(%q, %q) = %v, want %v", tt.token, tt.id, err, tt.want)
		}
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("upstream calls = %d, want 0", n)
	}
}

func TestHistoryStatuses(t *testing.T) {
	const secret = "SECRET-BODY tom@mustermann.de"
	tests := []struct {
		status     int
		retryAfter string
		wantIs     error
		wantWait   time.Duration
	}{
		{401, "", nil, 0},
		{403, "", nil, 0},
		{404, "", ErrNotFound, 0},
		{422, "", nil, 0},
		{429, "7", nil, 7 * time.Second},
		{429, "", nil, 0},
		{500, "", nil, 0},
		{503, "120", nil, 120 * time.Second},
	}
	for _, tt := range tests {
		c, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
			if tt.retryAfter != "" {
				w.Header().Set("Retry-After", tt.retryAfter)
			}
			w.WriteHeader(tt.status)
			w.Write([]byte(`{"error":"` + secret + `"}`))
		}, Options{})
		_, err := c.History(context.Background(), "t", "746839")
		var se *StatusError
		if !errors.As(err, &se) || se.Status != tt.status || se.RetryAfter != tt.wantWait {
			t.Errorf("status %d: err = %v, want a StatusError with Retry-After %v", tt.status, err, tt.wantWait)
		}
		if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
			t.Errorf("status %d: errors.Is(%v, %v) = false", tt.status, err, tt.wantIs)
		}
		if err != nil && strings.Contains(err.Error(), "SECRET") {
			t.Errorf("status %d: error %q repeats the upstream body", tt.status, err)
		}
	}
}

func TestHistoryBadBodies(t *testing.T) {
	tests := []struct {
		name, contentType, body string
	}{
		{"html", "text/html", "<html><body>Wartungsarbeiten tom@mustermann.de</body></html>"},
		{"truncated", "application/json", `{"tickets":[{"id":1,"subject":"tom@mustermann.de`},
		{"no tickets", "application/json", `{"error":"tom@mustermann.de"}`},
		{"tickets not a list", "application/json", `{"tickets":"tom@mustermann.de"}`},
		{"empty", "application/json", ``},
		{"too large", "application/json", `{"tickets":[` + strings.Repeat(`{"id":1},`, 200) + `{"id":1}]}`},
	}
	for _, tt := range tests {
		c, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", tt.contentType)
			w.Write([]byte(tt.body))
		}, Options{MaxBodyBytes: 1024})
		_, err := c.History(context.Background(), "t", "1")
		if !errors.Is(err, ErrBadResponse) {
			t.Errorf("%s: err = %v, want ErrBadResponse", tt.name, err)
		}
		if err != nil && strings.Contains(err.Error(), "mustermann") {
			t.Errorf("%s: error %q repeats the upstream body", tt.name, err)
		}
	}
}

func TestHistoryTimeout(t *testing.T) {
	c, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // a hung upstream
	}, Options{Timeout: 50 * time.Millisecond})
	if _, err := c.History(context.Background(), "t", "1"); !errors.Is(err, ErrTimeout) {
		t.Errorf("err = %v, want ErrTimeout", err)
	}
	// The caller's own deadline counts as a timeout too.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	c.timeout = time.Minute
	if _, err := c.History(ctx, "t", "1"); !errors.Is(err, ErrTimeout) {
		t.Errorf("err = %v, want ErrTimeout", err)
	}
}

func TestHistoryUnavailable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	c, err := New(Options{BaseURL: "http://" + addr})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.History(context.Background(), "t", "1"); !errors.Is(err, ErrUnavailable) {
		t.Errorf("err = %v, want ErrUnavailable", err)
	}
}

func TestRedirectIsNotFollowed(t *testing.T) {
	var leaked atomic.Bool
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		leaked.Store(r.Header.Get("Authorization") != "")
	}))
	defer elsewhere.Close()
	c, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.URL, http.StatusFound)
	}, Options{})
	_, err := c.History(context.Background(), "t", "1")
	var se *StatusError
	if !errors.As(err, &se) || se.Status != http.StatusFound || leaked.Load() {
		t.Errorf("err = %v, token leaked = %v; want a 302 StatusError and no call elsewhere", err, leaked.Load())
	}
}

func TestConnectionsAreReused(t *testing.T) {
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(serve(demo.ExampleHistory()))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	c, err := New(Options{BaseURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		if _, err := c.History(context.Background(), "t", "1"); err != nil {
			t.Fatal(err)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("20 sequential calls opened %d connections, want 1", n)
	}
}

func TestNewRejectsBadBaseURL(t *testing.T) {
	for _, u := range []string{"", "ftp://x", "demo.enneo.ai/api/mind"} {
		if _, err := New(Options{BaseURL: u}); err == nil {
			t.Errorf("New(%q) succeeded, want an error", u)
		}
	}
}
