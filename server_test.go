package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/enneo-facade/facade/graph/playground/playgroundtest"
	"github.com/enneo-facade/facade/upstream/redisstore/redistest"
)

// startTestServer runs the whole service on a free port with the environment env (nil: the
// embedded defaults, with the demo upstream) and waits until /readyz answers. stop ends it as
// SIGTERM would and waits for run to return; it also runs at the end of the test.
func startTestServer(t *testing.T, env map[string]string) (base string, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--port", "0"}, func(k string) string { return env[k] }, pw, io.Discard)
		pw.Close()
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("run: %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Errorf("run did not return after its context ended")
			}
		})
	}
	t.Cleanup(stop)
	lines := bufio.NewScanner(pr)
	if !lines.Scan() || !strings.HasPrefix(lines.Text(), "listening on ") {
		t.Fatalf("run printed %q, want its address", lines.Text())
	}
	go io.Copy(io.Discard, pr)
	base = strings.Replace(strings.TrimPrefix(lines.Text(), "listening on "), "[::]", "127.0.0.1", 1)
	for i := 0; ; i++ {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base, stop
			}
		}
		if i == 100 {
			t.Fatalf("/readyz never answered: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

const listQuery = `query($id: ID!) { contract(id: $id) { id productName history { tickets { id status subject createdAt } } } }`

func decodeBody(t *testing.T, resp *http.Response) map[string]any {
	t.Helper()
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

func postQuery(t *testing.T, base, query string, vars map[string]any) (*http.Response, error) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, base+"/graphql", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer e2e-token")
	return http.DefaultClient.Do(req)
}

func TestEndToEnd(t *testing.T) {
	base, _ := startTestServer(t, nil)

	t.Run("POST", func(t *testing.T) {
		resp, err := postQuery(t, base, listQuery, map[string]any{"id": "746839"})
		if err != nil {
			t.Fatal(err)
		}
		out := decodeBody(t, resp)
		if out["errors"] != nil {
			t.Fatalf("errors: %v", out["errors"])
		}
		raw, _ := json.Marshal(out["data"])
		for _, want := range []string{`"id":"746839"`, `"id":"376189"`, `"subject":"I want to relocate and send you a meter reading"`, `"createdAt":"2022-12-13T22:18:06+01:00"`} {
			if !strings.Contains(string(raw), want) {
				t.Errorf("data lacks %s: %s", want, raw)
			}
		}
	})

	t.Run("GET", func(t *testing.T) {
		q := url.Values{"query": {`{ contracts(ids: ["100001", "not-found"]) { id } }`}}
		req, _ := http.NewRequest(http.MethodGet, base+"/graphql?"+q.Encode(), nil)
		req.Header.Set("Authorization", "Bearer e2e-token")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		out := decodeBody(t, resp)
		raw, _ := json.Marshal(out)
		if !strings.Contains(string(raw), `"contracts":[{"id":"100001"},null]`) || !strings.Contains(string(raw), `"code":"NOT_FOUND"`) {
			t.Errorf("GET response = %s", raw)
		}
	})

	t.Run("limits", func(t *testing.T) {
		big := `{"query":"{ __typename }","variables":{"x":"` + strings.Repeat("a", 2<<20) + `"}}`
		resp, err := http.Post(base+"/graphql", "application/json", strings.NewReader(big))
		if err != nil {
			t.Fatal(err)
		}
		if out := decodeBody(t, resp); resp.StatusCode != http.StatusRequestEntityTooLarge || out["errors"] == nil {
			t.Errorf("2 MiB body: %d %v, want 413 with errors", resp.StatusCode, out)
		}
		// The same without a Content-Length (chunked): refused when the read passes the bound.
		resp, err = http.Post(base+"/graphql", "application/json", io.MultiReader(strings.NewReader(big)))
		if err != nil {
			t.Fatal(err)
		}
		if out := decodeBody(t, resp); resp.StatusCode != http.StatusRequestEntityTooLarge || fmt.Sprint(codesOf(out)) != "[REQUEST_TOO_LARGE]" {
			t.Errorf("2 MiB body, chunked: %d %v, want 413 REQUEST_TOO_LARGE", resp.StatusCode, out)
		}
		req, _ := http.NewRequest(http.MethodPut, base+"/graphql", nil)
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("PUT /graphql = %d, want 405", resp.StatusCode)
		}
		// Profiles are never on the public port.
		resp, err = http.Get(base + "/debug/pprof/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET /debug/pprof/ = %d, want 404", resp.StatusCode)
		}
	})

	t.Run("health", func(t *testing.T) {
		for _, path := range []string{"/healthz", "/readyz"} {
			resp, err := http.Get(base + path)
			if err != nil {
				t.Fatal(err)
			}
			out := decodeBody(t, resp)
			if resp.StatusCode != http.StatusOK || out["status"] == nil {
				t.Errorf("%s = %d %v", path, resp.StatusCode, out)
			}
			if path == "/readyz" && (out["cache"] != "memory" || out["upstream"] != "reachable") {
				t.Errorf("/readyz = %v, want the in-process cache and a reachable upstream", out)
			}
		}
	})

	t.Run("playground", func(t *testing.T) {
		dir := os.Getenv("SCREENSHOT_DIR")
		if dir == "" {
			dir = t.TempDir()
		}
		shot := filepath.Join(dir, "playground-e2e.png")
		result := playgroundtest.RunPrefilledQuery(t, base+"/", shot)
		for _, want := range []string{"746839", "376189", "I want to relocate and send you a meter reading"} {
			if !strings.Contains(result, want) {
				t.Errorf("playground result lacks %q:\n%s", want, result)
			}
		}
		if fi, err := os.Stat(shot); err != nil || fi.Size() < 10_000 {
			t.Errorf("screenshot %s: %v", shot, err)
		}
		t.Logf("screenshot: %s", shot)
	})
}

func TestShutdownFinishesInFlightQueries(t *testing.T) {
	base, stop := startTestServer(t, nil)
	type result struct {
		out map[string]any
		err error
	}
	res := make(chan result, 1)
	go func() {
		// The demo's "slow" contract answers after 2 s.
		resp, err := postQuery(t, base, `{ contract(id: "slow") { id history { tickets { id } } } }`, nil)
		if err != nil {
			res <- result{err: err}
			return
		}
		defer resp.Body.Close()
		var out map[string]any
		err = json.NewDecoder(resp.Body).Decode(&out)
		res <- result{out, err}
	}()
	time.Sleep(300 * time.Millisecond) // let the query reach the upstream
	stop()                             // as SIGTERM: returns once in-flight requests are done
	select {
	case r := <-res:
		if r.err != nil || r.out["errors"] != nil || r.out["data"] == nil {
			t.Errorf("in-flight query during shutdown: %v %v", r.out, r.err)
		}
	default:
		t.Errorf("run returned before the in-flight query finished")
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Errorf("the server still answers after shutdown")
	}
}

// freeAddr returns a loopback address no one listens on, for a listener of run's own.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestRunJoinsItsGoroutines: once run returns, nothing it started runs on: not the servers (the
// public one, the demo upstream, metrics and pprof aside), the invalidation watcher on Redis,
// background refreshes nor the log writer. goleak waits for goroutines still winding down, and
// fails on any left.
func TestRunJoinsItsGoroutines(t *testing.T) {
	before := goleak.IgnoreCurrent()
	base, stop := startTestServer(t, map[string]string{
		"REDIS_URL": redistest.Start(t), "CACHE_PREFIX": redistest.Prefix(t), "CACHE_REVALIDATE": "1m",
		"METRICS_ADDR": freeAddr(t), "PPROF_ADDR": freeAddr(t), "RATE_LIMIT_BURST": "200000", "RATE_LIMIT_PER_SECOND": "1000",
	})
	resp, err := postQuery(t, base, listQuery, map[string]any{"id": "1"})
	if err != nil {
		t.Fatal(err)
	}
	if out := decodeBody(t, resp); out["errors"] != nil {
		t.Fatalf("query: %v", out["errors"])
	}
	stop()
	http.DefaultClient.CloseIdleConnections()
	goleak.VerifyNone(t, before)
}
