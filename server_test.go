package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/enneo-facade/facade/graph/playground/playgroundtest"
	"github.com/enneo-facade/facade/upstream/redisstore/redistest"
	"go.uber.org/goleak"
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

// TestPlaygroundSubscribesAndExplores: in a real browser, the playground runs a subscription
// (over server-sent events) and shows the contract when Enneo's webhook says it changed, and
// its Explorer lists the schema's root fields for a person to tick.
func TestPlaygroundSubscribesAndExplores(t *testing.T) {
	playgroundtest.ChromiumPath(t)
	base, _ := startTestServer(t, map[string]string{"WEBHOOK_SECRET": "hook-secret"})
	p := playgroundtest.Open(t, base+"/")
	defer p.Close()
	p.Click(`[aria-label="Show GraphiQL Explorer"]`)
	if got := p.Text(".graphiql-explorer-root"); !strings.Contains(got, "contract") || !strings.Contains(got, "historyStats") {
		t.Errorf("the Explorer shows %q, want the root fields", got)
	}
	p.SetQuery(`subscription Desk { contractChanged(ids: ["746839"]) { id history { tickets { id status } } } }`)
	p.Start()
	var result string
	for i := 0; i < 100 && !strings.Contains(result, "contractChanged"); i++ {
		req, _ := http.NewRequest(http.MethodPost, base+"/webhooks/enneo", strings.NewReader(`{"event":"TicketUpdated","contractId":"746839"}`))
		req.Header.Set("Authorization", "Bearer hook-secret")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		time.Sleep(100 * time.Millisecond) // the subscription may not be made yet: send again
		result = p.ResultText()
	}
	if !strings.Contains(result, `"contractChanged"`) || !strings.Contains(result, "746839") {
		t.Errorf("the playground shows %q, want the contract's event", result)
	}
	p.Screenshot(filepath.Join(t.TempDir(), "playground-subscription.png"))
}

// TestPlaygroundDocsSayWhatIsPersonal: in a real browser, the playground's documentation of a
// contract says which of its fields are personal data, and of which kind.
func TestPlaygroundDocsSayWhatIsPersonal(t *testing.T) {
	playgroundtest.ChromiumPath(t)
	base, _ := startTestServer(t, nil)
	p := playgroundtest.Open(t, base+"/")
	defer p.Close()
	p.Click(`[aria-label="Show Documentation Explorer"]`)
	p.ClickLink("Contract") // among the schema's types
	docs := p.Text(".graphiql-doc-explorer")
	for _, want := range []string{"The contract holder's email address. Personal data (EMAIL).", "The IBAN payments are collected from. Personal data (IBAN)."} {
		if !strings.Contains(docs, want) {
			t.Errorf("the documentation of Contract lacks %q:\n%s", want, docs)
		}
	}
	p.Screenshot(filepath.Join(t.TempDir(), "playground-docs-personal.png"))
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

// freeAddr returns a loopback address no one listens on, for a listener of run's own. The port
// is below Linux's ephemeral range (32768 and up): a port the kernel picked there could be
// handed to some client's connection before run listens on it.
func freeAddr(t *testing.T) string {
	t.Helper()
	for range 100 {
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(20000+rand.IntN(9000)))
		if ln, err := net.Listen("tcp", addr); err == nil {
			ln.Close()
			return addr
		}
	}
	t.Fatal("no free port in 20000-28999")
	return ""
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

var (
	buildOnce    sync.Once
	serverBinary string
	buildErr     error
)

// builtServer builds the facade once per test run, as CI's release build does.
func builtServer(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "facade-test-")
		if err != nil {
			buildErr = err
			return
		}
		serverBinary = filepath.Join(dir, "facade")
		out, err := exec.Command("go", "build", "-o", serverBinary, ".").CombinedOutput()
		if err != nil {
			buildErr = err
			serverBinary = string(out)
		}
	})
	if buildErr != nil {
		t.Fatalf("go build: %v\n%s", buildErr, serverBinary)
	}
	return serverBinary
}

// serverProcess is the facade running as a process of its own.
type serverProcess struct {
	base string
	cmd  *exec.Cmd
	stop func()
	mu   sync.Mutex
	logs strings.Builder // what it wrote to stderr
}

// Logs stops the server, which writes out its buffered log lines, and returns all it logged.
func (p *serverProcess) Logs() string {
	p.stop()
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

func (p *serverProcess) logsSoFar() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

// startProcess runs the built facade on a free port with env (and nothing of the test's own
// environment but PATH and HOME), waits for /readyz, and stops it with SIGTERM at the end.
func startProcess(t *testing.T, env map[string]string) *serverProcess {
	t.Helper()
	p := &serverProcess{}
	ctx, cancel := context.WithCancel(context.Background())
	p.cmd = exec.CommandContext(ctx, builtServer(t), "--port", "0")
	p.cmd.Cancel = func() error { return p.cmd.Process.Signal(os.Interrupt) }
	p.cmd.WaitDelay = 10 * time.Second
	p.cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range env {
		p.cmd.Env = append(p.cmd.Env, k+"="+v)
	}
	stdout, _ := p.cmd.StdoutPipe()
	stderr, _ := p.cmd.StderrPipe()
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		b := make([]byte, 4096)
		for {
			n, err := stderr.Read(b)
			p.mu.Lock()
			p.logs.Write(b[:n])
			p.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	var once sync.Once
	p.stop = func() {
		once.Do(func() {
			cancel()
			<-done
			p.cmd.Wait()
		})
	}
	t.Cleanup(p.stop)
	lines := bufio.NewScanner(stdout)
	if !lines.Scan() || !strings.HasPrefix(lines.Text(), "listening on ") {
		t.Fatalf("the server printed %q, want its address; its log:\n%s", lines.Text(), p.logsSoFar())
	}
	go io.Copy(io.Discard, stdout)
	p.base = strings.Replace(strings.TrimPrefix(lines.Text(), "listening on "), "[::]", "127.0.0.1", 1)
	for i := 0; ; i++ {
		resp, err := http.Get(p.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		if i == 100 {
			t.Fatalf("/readyz never answered: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestBreakerOpenEndToEnd: with the upstream failing, the breaker opens; then a cached history
// is served stale and marked so, another contract gets UPSTREAM_UNAVAILABLE without a call, and
// /readyz stays ready, saying the breaker is open.
func TestBreakerOpenEndToEnd(t *testing.T) {
	var sick atomic.Bool
	var calls atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/contract/") {
			return // /readyz's ping
		}
		calls.Add(1)
		if sick.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte(`{"tickets":[{"id":1,"subject":"s"}]}`))
	}))
	defer up.Close()
	const ttl = 500 * time.Millisecond
	base, _ := startTestServer(t, map[string]string{
		"UPSTREAM_URL": up.URL, "CACHE_TTL": ttl.String(), "UPSTREAM_RETRIES": "0",
		"UPSTREAM_BREAKER_FAILURES": "2", "UPSTREAM_BREAKER_COOLDOWN": "1h",
	})
	type answer struct {
		Data       map[string]any
		Errors     []struct{ Extensions map[string]any }
		Extensions struct {
			Histories map[string]struct{ Cache string }
		}
	}
	query := func(id string) answer {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, base+"/graphql", strings.NewReader(`{"query":"{ contract(id: \"`+id+`\") { history { tickets { id } } } }"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer caller-token")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var a answer
		if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
			t.Fatal(err)
		}
		return a
	}
	code := func(a answer) any {
		if len(a.Errors) == 0 {
			return nil
		}
		return a.Errors[0].Extensions["code"]
	}

	if a := query("cached"); len(a.Errors) != 0 {
		t.Fatalf("healthy upstream: %+v", a)
	}
	sick.Store(true)
	for _, id := range []string{"a", "b"} { // two failures in a row open it
		if c := code(query(id)); c != "UPSTREAM_ERROR" {
			t.Fatalf("contract %s from a failing upstream: code %v, want UPSTREAM_ERROR", id, c)
		}
	}
	before := calls.Load()
	if c := code(query("c")); c != "UPSTREAM_UNAVAILABLE" {
		t.Errorf("breaker open: code %v, want UPSTREAM_UNAVAILABLE", c)
	}
	time.Sleep(ttl + ttl/10 + 50*time.Millisecond) // past the TTL and its jitter: no event tells
	if a := query("cached"); len(a.Errors) != 0 || a.Extensions.Histories["cached"].Cache != "stale" {
		t.Errorf("breaker open, expired entry: %+v, want it served, marked stale", a)
	}
	if n := calls.Load() - before; n != 0 {
		t.Errorf("%d upstream calls while the breaker was open, want 0", n)
	}
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ready map[string]string
	json.NewDecoder(resp.Body).Decode(&ready)
	if resp.StatusCode != http.StatusOK || ready["breaker"] != "open" || ready["status"] != "ready" {
		t.Errorf("/readyz = %d %v, want ready with the breaker open", resp.StatusCode, ready)
	}
}

// TestUnreachableRedisAtStart: with REDIS_URL pointing at a closed port the facade starts, logs a
// warning naming the address (its password hidden), and /readyz says the cache is degraded from
// its first answer, not "ok" until a query fails.
func TestUnreachableRedisAtStart(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	p := startProcess(t, map[string]string{"REDIS_URL": "redis://:hush-hush@" + addr + "/0"})
	resp, err := http.Get(p.base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	var ready map[string]string
	json.NewDecoder(resp.Body).Decode(&ready)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || ready["cache"] != "degraded" {
		t.Errorf("/readyz = %d %v, want ready with the cache degraded", resp.StatusCode, ready)
	}
	var warned bool
	for _, raw := range strings.Split(p.Logs(), "\n") {
		var l struct{ Level, Msg, Addr string }
		if json.Unmarshal([]byte(raw), &l) == nil && l.Level == "WARN" && strings.HasPrefix(l.Msg, "REDIS_URL") {
			warned = strings.Contains(l.Addr, addr) && !strings.Contains(l.Addr, "hush")
		}
	}
	if !warned || strings.Contains(p.Logs(), "hush-hush") {
		t.Errorf("no warning naming %s (with its password hidden) in:\n%s", addr, p.Logs())
	}
}

// TestNoPersonalDataOrTokensInLogsOrErrors: requests whose bodies, variables and headers hold an
// IBAN, an email address and a bearer token, well-formed and not, answered with data, with
// errors or refused: none of the three appears in any log line (at debug level) or in any
// error of any answer.
func TestNoPersonalDataOrTokensInLogsOrErrors(t *testing.T) {
	const (
		iban  = "DE89370400440532013000"
		email = "jane.doe@example.com"
		token = "eyJhbGciOiJIUzI1NiJ9.c2VjcmV0LXBheWxvYWQ.hush-signature"
	)
	p := startProcess(t, map[string]string{"LOG_LEVEL": "debug", "ADMIN_TOKEN": "admin-" + token})
	q := func(query string, vars map[string]any) string {
		b, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
		return string(b)
	}
	secrets := map[string]any{"iban": iban, "email": email, "token": token}
	requests := []struct {
		method, auth, contentType, body string
	}{
		{"POST", "Bearer " + token, "application/json", q(`query($id: ID!, $other: ID) { contract(id: $id) { id } b: contract(id: $other) { id } }`, map[string]any{"id": iban, "other": email})},
		{"POST", "Bearer " + token, "application/json", q(`query($id: ID!) { contract(id: $id) { id } }`, map[string]any{"id": secrets})},
		{"POST", "Bearer " + token, "application/json", q(`query($id: ID!) { contract(id: $id) { id } }`, map[string]any{"id": []any{iban, email, token}})},
		{"POST", "Bearer " + token, "application/json", q(`{ contract(id: "`+email+`") { ibann } }`, secrets)},
		{"POST", "Bearer " + token, "application/json", q(`{ contract(id: "server-error") { id } x: contract(id: "`+iban+`") { history { tickets { id } } } }`, secrets)},
		{"POST", "Bearer " + token, "application/json", q(`{ contract(id: "hang-`+iban+`") { id `+strings.Repeat("id ", 11)+`} }`, secrets)},
		{"POST", "Bearer " + token, "application/json", q(`mutation { invalidateContractHistory(contractId: "`+iban+`") }`, secrets)},
		{"POST", "Bearer " + token, "application/json", `{"query":"{ contract(id: \"` + iban + `\") { id } }","variables":{"email":"` + email + `","token":"` + token},
		{"POST", "Bearer " + token, "application/json", `iban=` + iban + `&email=` + email},
		{"POST", "Bearer " + token, "text/plain", q(`{ contract(id: "`+iban+`") { id } }`, secrets)},
		{"POST", "Token " + token, "application/json", q(`{ contract(id: "`+iban+`") { id } }`, secrets)},
		{"POST", "Bearer", "application/json", q(`{ contract(id: "`+iban+`") { id } }`, secrets)},
		{"GET", "Bearer " + token, "", "?query=" + url.QueryEscape(`query($e: ID) { contract(id: $e) { id } }`) + "&variables=" + url.QueryEscape(`{"e":"`+email+`","iban":"`+iban+`"}`)},
		{"GET", "Bearer " + token, "", "?query=" + url.QueryEscape(`{ contract(id: "`+iban+`") { id `) + "&variables=%7Bbroken"},
		{"POST", "Bearer " + token, "application/json", `{"query":"{ __schema { types { name } } }","extensions":{"persistedQuery":{"version":1,"sha256Hash":"` + iban + `"}}}`},
	}
	for _, r := range requests {
		target := p.base + "/graphql"
		var body io.Reader = strings.NewReader(r.body)
		if r.method == "GET" {
			target, body = target+r.body, nil
		}
		req, _ := http.NewRequest(r.method, target, body)
		req.Header.Set("Authorization", r.auth)
		if r.contentType != "" {
			req.Header.Set("Content-Type", r.contentType)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var out struct {
			Errors json.RawMessage `json:"errors"`
		}
		errs := string(raw) // an answer that is not JSON is checked whole
		if json.Unmarshal(raw, &out) == nil {
			errs = string(out.Errors)
		}
		for _, s := range []string{iban, email, token, "hush"} {
			if strings.Contains(errs, s) {
				t.Errorf("%s %.80s: the answer's errors hold %q: %s", r.method, r.body, s, errs)
			}
		}
	}
	logs := p.Logs()
	if !strings.Contains(logs, `"msg":"request"`) || !strings.Contains(logs, "operation errors") {
		t.Fatalf("the debug log lacks request and error lines:\n%s", logs)
	}
	for _, s := range []string{iban, email, token, "hush"} {
		if strings.Contains(logs, s) {
			t.Errorf("the log holds %q:\n%s", s, logs)
		}
	}
}

// TestRequestLog: one line per request, with its id (kept when the client sent a well-formed
// one, else made, and echoed either way), operation, status, duration, upstream calls and where
// its histories came from.
func TestRequestLog(t *testing.T) {
	p := startProcess(t, map[string]string{"METRICS_OPERATION_NAMES": "ContractTickets", "UPSTREAM_TIMEOUT": "300ms"})
	named := `{"query":"query ContractTickets { contract(id: \"746839\") { history { tickets { id } } } }"}`
	// The demo's hang id: the upstream call fails when UPSTREAM_TIMEOUT ends it, and was made.
	hang := `{"query":"query ContractTickets { contract(id: \"hang\") { history { tickets { id } } } }"}`
	var echoed []string
	for i, id := range []string{"req-1f3a", "req-1f3b", "bad id\"}", "req-hang"} {
		body := named
		if i == 3 {
			body = hang
		}
		req, _ := http.NewRequest(http.MethodPost, p.base+"/graphql", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer log-token")
		req.Header.Set("X-Request-Id", id)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		echoed = append(echoed, resp.Header.Get("X-Request-Id"))
	}
	if echoed[0] != "req-1f3a" || echoed[1] != "req-1f3b" || len(echoed[2]) != 32 || strings.Contains(echoed[2], " ") {
		t.Errorf("X-Request-Id echoed %q, want the first two kept and a new one for the malformed third", echoed)
	}
	type line struct {
		Msg, RequestID, Operation, Path string
		Status, UpstreamCalls           int
		Duration                        int64
		Cache                           json.RawMessage
	}
	var (
		lines []line
		raws  []string
	)
	for _, raw := range strings.Split(p.Logs(), "\n") {
		var l line
		if json.Unmarshal([]byte(raw), &l) == nil && l.Msg == "request" && l.Path == "/graphql" {
			lines, raws = append(lines, l), append(raws, raw)
		}
	}
	// docs/logs.md's example line is one the facade writes: the same members, in the same order.
	if len(raws) > 0 {
		if got, want := jsonKeys(t, raws[0]), documentedLogLine(t); !slices.Equal(got, want) {
			t.Errorf("the facade writes %v, docs/logs.md shows %v", got, want)
		}
	}
	if len(lines) != 4 {
		t.Fatalf("%d request lines for 4 requests: %+v", len(lines), lines)
	}
	for i, want := range []struct {
		cache string
		calls int
	}{{`{"hit":0,"miss":1,"stale":0,"revalidating":0}`, 1}, {`"response"`, 0}, {`"response"`, 0}, {`{"hit":0,"miss":0,"stale":0,"revalidating":0}`, 1}} {
		l := lines[i]
		if l.RequestID != echoed[i] || l.Operation != "ContractTickets" || l.Status != 200 || l.Duration <= 0 ||
			l.UpstreamCalls != want.calls || string(l.Cache) != want.cache {
			t.Errorf("request %d logged %+v (cache %s), want id %s, calls %d, cache %s", i+1, l, l.Cache, echoed[i], want.calls, want.cache)
		}
	}
}

// TestRequestLogCarriesTheTraceID: with tracing on, the request's line names the trace it is in,
// here the one of the caller's traceparent.
func TestRequestLogCarriesTheTraceID(t *testing.T) {
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) // an OTLP collector that takes every export
	}))
	defer sink.Close()
	p := startProcess(t, map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": sink.URL})
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	req, _ := http.NewRequest(http.MethodPost, p.base+"/graphql", strings.NewReader(`{"query":"{ contract(id: \"746839\") { id } }"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer trace-token")
	req.Header.Set("Traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	var found []string
	for _, raw := range strings.Split(p.Logs(), "\n") {
		var l struct{ Msg, Path, TraceID string }
		if json.Unmarshal([]byte(raw), &l) == nil && l.Msg == "request" && l.Path == "/graphql" {
			found = append(found, l.TraceID)
		}
	}
	if len(found) != 1 || found[0] != traceID {
		t.Errorf("request lines' trace ids %q, want one line in trace %s", found, traceID)
	}
}

// scrape reads /metrics into a map from sample (name and labels, as Prometheus writes them) to
// value.
func scrape(t *testing.T, url string) map[string]string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %d", url, resp.StatusCode)
	}
	samples := map[string]string{}
	lines := bufio.NewScanner(resp.Body)
	for lines.Scan() {
		if line := lines.Text(); line != "" && !strings.HasPrefix(line, "#") {
			if i := strings.LastIndexByte(line, ' '); i > 0 {
				samples[line[:i]] = line[i+1:]
			}
		}
	}
	return samples
}

// TestMetricsCountKnownTraffic sends known traffic and reads the counts back from /metrics.
func TestMetricsCountKnownTraffic(t *testing.T) {
	url, _ := countingDemo(t)
	base, _ := startTestServer(t, map[string]string{"UPSTREAM_URL": url, "METRICS_OPERATION_NAMES": "ContractTickets"})
	named := []byte(`{"query":"query ContractTickets { contract(id: \"746839\") { history { tickets { id } } } }"}`)
	for _, body := range [][]byte{
		named, // executed: a miss in every layer, one upstream call
		named, // from the response cache
		[]byte(`{"query":"{ contract(id: \"746839\") { history { tickets { subject } } } }"}`),                                                                            // executed on the hot history
		[]byte(`{"query":"query Other { contract(id: \"not-found\") { id } }"}`),                                                                                          // errors, a 404
		[]byte(`{"query":"{ contract(id: \"1\") { ` + strings.Repeat("history { tickets { customer { contracts { ", 5) + `id` + strings.Repeat(" } } } }", 5) + ` } }"}`), // refused
	} {
		post(t, base, "metrics-token", body)
	}
	got := scrape(t, base+"/metrics")
	for sample, want := range map[string]string{
		`facade_operations_total{operation="ContractTickets",outcome="ok"}`:    "2",
		`facade_operations_total{operation="other",outcome="errors"}`:          "1",
		`facade_operations_total{operation="anonymous",outcome="refused"}`:     "1",
		`facade_operations_total{operation="anonymous",outcome="ok"}`:          "1",
		`facade_operation_duration_seconds_count{operation="ContractTickets"}`: "2",
		`facade_refusals_total{code="QUERY_TOO_DEEP"}`:                         "1",
		`facade_cache_lookups_total{layer="response",result="hit"}`:            "1",
		`facade_cache_lookups_total{layer="response",result="miss"}`:           "4",
		`facade_cache_lookups_total{layer="hot",result="hit"}`:                 "1",
		`facade_cache_lookups_total{layer="hot",result="miss"}`:                "2",
		`facade_cache_lookups_total{layer="store",result="miss"}`:              "2",
		`facade_upstream_calls_total{status="2xx"}`:                            "1",
		`facade_upstream_calls_total{status="4xx"}`:                            "1",
		`facade_upstream_call_duration_seconds_count{status="2xx"}`:            "1",
		`facade_loader_batch_size_count`:                                       "2",
		`facade_upstream_retries_total`:                                        "0",
		`facade_upstream_breaker_state`:                                        "0",
	} {
		if got[sample] != want {
			t.Errorf("%s = %q, want %s", sample, got[sample], want)
		}
	}
	for _, family := range []string{"go_goroutines", "process_resident_memory_bytes"} {
		if _, ok := got[family]; !ok {
			t.Errorf("no %s: Go's and the process's collectors are missing", family)
		}
	}
}

// TestMetricsAside: with METRICS_ADDR, /metrics is served there and not on the public port.
func TestMetricsAside(t *testing.T) {
	addr := freeAddr(t)
	base, _ := startTestServer(t, map[string]string{"METRICS_ADDR": addr})
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("public /metrics = %d, want 404", resp.StatusCode)
	}
	if got := scrape(t, "http://"+addr+"/metrics"); got["facade_upstream_breaker_state"] != "0" {
		t.Errorf("the metrics listener has no breaker state: %v", len(got))
	}
}
