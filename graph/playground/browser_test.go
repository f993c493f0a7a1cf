package playground_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/enneo-facade/facade/graph/playground"
	"github.com/enneo-facade/facade/graph/playground/playgroundtest"
)

// The browser tests need Chromium; without it they skip, except under CI=true
// (see playgroundtest.ChromiumPath). $SCREENSHOT_DIR keeps their screenshots.

const demoToken = "Bearer demo-token"

// TestPlaygroundInChromium opens the playground in headless Chromium against
// a stub GraphQL endpoint and runs the pre-filled query, as a person would:
// the page renders, the headers editor shows the demo Authorization header
// and the query sends it, and the result arrives. The harness fails the test
// on any Content-Security-Policy violation or uncaught exception.
func TestPlaygroundInChromium(t *testing.T) {
	playgroundtest.ChromiumPath(t) // skip before starting servers when there is no browser
	stub, srv := newTestPlayground(t, playground.Config{
		Title:          "Playground test",
		Endpoint:       "/graphql",
		DefaultQuery:   "# Say hello\n{\n  hello\n}\n",
		DefaultHeaders: map[string]string{"Authorization": demoToken},
	})

	shot := filepath.Join(screenshotDir(t), "playground.png")
	result := playgroundtest.RunPrefilledQuery(t, srv.URL+"/", shot)

	if !strings.Contains(result, "world") {
		t.Errorf("result pane = %q, want it to contain %q", result, "world")
	}
	if got := stub.authorization(); got != demoToken {
		t.Errorf("Authorization of the query = %q, want %q from the headers editor", got, demoToken)
	}
	fi, err := os.Stat(shot)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	// A blank window makes a PNG of a few kB; GraphiQL's editors far more.
	if fi.Size() < 20_000 {
		t.Errorf("screenshot %s has %d bytes, want a rendered page (>= 20000)", shot, fi.Size())
	}
	t.Logf("screenshot: %s", shot)
}

// TestPlaygroundKeepsHeadersOutOfStorage checks the promise behind
// shouldPersistHeaders: false. After a run nothing in localStorage holds the
// token (GraphiQL's own history would keep it), and a visitor who comes back
// sees the demo header again, in the editor and in a history entry.
func TestPlaygroundKeepsHeadersOutOfStorage(t *testing.T) {
	playgroundtest.ChromiumPath(t)
	stub, srv := newTestPlayground(t, playground.Config{
		DefaultQuery:   "{ hello }",
		DefaultHeaders: map[string]string{"Authorization": demoToken},
	})

	p := playgroundtest.Open(t, srv.URL+"/")
	defer p.Close()
	if got := p.HeadersText(); !strings.Contains(got, demoToken) {
		t.Errorf("headers editor = %q, want the demo Authorization header", got)
	}
	p.Run()
	// GraphiQL saves its tabs half a second after a change; wait for them,
	// so that the reload below reads what a returning visitor's would.
	storage := p.LocalStorage()
	for deadline := time.Now().Add(playgroundtest.Timeout / 2); storage["graphiql:tabState"] == "" && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
		storage = p.LocalStorage()
	}
	if storage["graphiql:tabState"] == "" || storage["graphiql:queries"] == "" {
		t.Errorf("localStorage = %v, want GraphiQL's tabs and history in it", storage)
	}
	for k, v := range storage {
		if strings.Contains(v, "demo-token") {
			t.Errorf("localStorage[%q] = %q, holds the token", k, v)
		}
	}

	p.Reload()
	if got := p.HeadersText(); !strings.Contains(got, demoToken) {
		t.Errorf("headers editor after reload = %q, want the demo Authorization header", got)
	}
	if got := p.QueryText(); got != "{ hello }" {
		t.Errorf("query editor after reload = %q, want the query of the last visit", got)
	}
	// A history entry sets every editor, headers included, from what it
	// stored; the stored entry has no headers.
	p.Click(`[aria-label="Show History"]`)
	p.Click(".graphiql-history-item-label")
	if got := p.HeadersText(); !strings.Contains(got, demoToken) {
		t.Errorf("headers editor after picking a history entry = %q, want the demo Authorization header", got)
	}
	stub.setAuthorization("")
	if got := p.Run(); !strings.Contains(got, "world") {
		t.Errorf("result pane after reload = %q, want it to contain %q", got, "world")
	}
	if got := stub.authorization(); got != demoToken {
		t.Errorf("Authorization of the query after reload = %q, want %q", got, demoToken)
	}
	p.Screenshot(filepath.Join(screenshotDir(t), "playground-history.png"))
}

// TestPlaygroundPanelsAndDialogs opens what a visitor may open, the
// documentation explorer and the settings and keyboard shortcuts dialogs,
// so that the harness can catch a Content-Security-Policy violation there:
// the dialogs add the page's only inline <style>.
func TestPlaygroundPanelsAndDialogs(t *testing.T) {
	playgroundtest.ChromiumPath(t)
	_, srv := newTestPlayground(t, playground.Config{DefaultQuery: "{ hello }"})

	p := playgroundtest.Open(t, srv.URL+"/")
	defer p.Close()
	p.Click(`[aria-label="Show Documentation Explorer"]`)
	if got := p.Text(".graphiql-doc-explorer"); !strings.Contains(got, "Query") {
		t.Errorf("documentation explorer = %q, want the root type Query", got)
	}
	p.Screenshot(filepath.Join(screenshotDir(t), "playground-docs.png"))
	for _, dialog := range []string{"Open settings dialog", "Open short keys dialog"} {
		p.Click(`[aria-label="` + dialog + `"]`)
		if got := p.Text(".graphiql-dialog"); got == "" {
			t.Errorf("%s: the dialog shows no text", dialog)
		}
		p.Click(".graphiql-dialog-close")
	}
	p.Screenshot(filepath.Join(screenshotDir(t), "playground-dialogs-closed.png"))
}

// newTestPlayground serves the playground at "/" and a stub GraphQL endpoint
// at "/graphql", as the facade's server does.
func newTestPlayground(t *testing.T, cfg playground.Config) (*stubGraphQL, *httptest.Server) {
	t.Helper()
	checkGoroutines(t) // first, so that it runs after every other cleanup
	stub := newStubGraphQL(t)
	mux := http.NewServeMux()
	mux.Handle("/graphql", stub)
	mux.Handle("/", playground.Handler(cfg))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return stub, srv
}

// checkGoroutines fails the test if, once the test and its cleanups are done, a goroutine runs
// that did not before it (go.uber.org/goleak names it): the harness's console reader and
// chromedp's connection to the browser must end with the browser. They end a moment after the
// contexts that stop them, so it waits up to 10 s.
func checkGoroutines(t *testing.T) {
	t.Helper()
	current := goleak.IgnoreCurrent()
	t.Cleanup(func() {
		for deadline := time.Now().Add(10 * time.Second); ; {
			err := goleak.Find(current) // itself retries for a while
			if err == nil {
				return
			}
			if time.Now().After(deadline) {
				t.Error(err)
				return
			}
		}
	})
}

// screenshotDir is $SCREENSHOT_DIR, so CI can keep the screenshots, or else
// a directory that the test removes.
func screenshotDir(t *testing.T) string {
	if d := os.Getenv("SCREENSHOT_DIR"); d != "" {
		return d
	}
	return t.TempDir()
}

// stubGraphQL is the GraphQL endpoint of the browser tests. It answers
// GraphiQL's introspection query with testdata/introspection.json, the
// schema `type Query { hello: String }`, and any other query with
// {"data":{"hello":"world"}}. The file was made once with the npm package
// graphql 16: introspectionFromSchema(buildSchema(...)).
type stubGraphQL struct {
	introspection []byte

	mu   sync.Mutex
	auth string // Authorization of the last query that was not introspection
}

func newStubGraphQL(t *testing.T) *stubGraphQL {
	t.Helper()
	b, err := os.ReadFile("testdata/introspection.json")
	if err != nil {
		t.Fatal(err)
	}
	return &stubGraphQL{introspection: b}
}

func (s *stubGraphQL) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Query string `json:"query"`
	}
	if r.Method != http.MethodPost || json.NewDecoder(r.Body).Decode(&req) != nil {
		http.Error(w, "want a POST with a JSON body", http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if strings.Contains(req.Query, "__schema") {
		w.Write([]byte(`{"data":`))
		w.Write(s.introspection)
		w.Write([]byte(`}`))
		return
	}
	s.setAuthorization(r.Header.Get("Authorization"))
	w.Write([]byte(`{"data":{"hello":"world"}}`))
}

func (s *stubGraphQL) setAuthorization(v string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.auth = v
}

func (s *stubGraphQL) authorization() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.auth
}
