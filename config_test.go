package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

func TestLoadConfigDefaults(t *testing.T) {
	c, err := loadConfig(nil, env(), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Port != 8080 || c.Upstream.BaseURL != "" || c.Upstream.Timeout != 5*time.Second || c.GraphQL.Timeout != 10*time.Second ||
		c.Upstream.Concurrency != 16 || c.Upstream.Zone.String() != "Europe/Berlin" {
		t.Errorf("defaults = %+v", c)
	}
}

func TestLoadConfigFlagsOverrideEnvironment(t *testing.T) {
	c, err := loadConfig([]string{"--port", "9000", "--upstream-timeout", "2s"},
		env("PORT", "7000", "UPSTREAM_URL", "https://demo.enneo.ai/api/mind", "TIME_ZONE", "UTC"), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Port != 9000 || c.Upstream.Timeout != 2*time.Second || c.Upstream.BaseURL != "https://demo.enneo.ai/api/mind" || c.Upstream.Zone.String() != "UTC" {
		t.Errorf("config = %+v", c)
	}
}

// variables are the settings a bad value can be reported for.
var variables = []string{"PORT", "UPSTREAM_TIMEOUT", "UPSTREAM_CONNECT_TIMEOUT", "OPERATION_TIMEOUT", "SHUTDOWN_TIMEOUT",
	"REDIS_DIAL_TIMEOUT", "REDIS_TIMEOUT", "CACHE_STALE_TTL", "CACHE_TTL", "UPSTREAM_MAX_BYTES", "UPSTREAM_CONCURRENCY",
	"MAX_REQUEST_BYTES", "CACHE_HOT_BYTES", "CACHE_MEMORY_BYTES", "CACHE_RESPONSE_BYTES", "TIME_ZONE",
	"MAX_TOKENS", "MAX_DEPTH", "MAX_ALIASES", "MAX_ROOT_FIELDS", "MAX_DIRECTIVES", "MAX_COST", "MAX_CONTRACTS", "MAX_FIELDS"}

func TestLoadConfigNamesBadValues(t *testing.T) {
	tests := []struct {
		env  []string
		want string
	}{
		{[]string{"PORT", "http"}, "PORT"},
		{[]string{"PORT", "70000"}, "PORT"},
		{[]string{"UPSTREAM_TIMEOUT", "5"}, "UPSTREAM_TIMEOUT"},
		{[]string{"OPERATION_TIMEOUT", "-1s"}, "OPERATION_TIMEOUT"},
		{[]string{"SHUTDOWN_TIMEOUT", "0s"}, "SHUTDOWN_TIMEOUT"},
		{[]string{"REDIS_TIMEOUT", "-150ms"}, "REDIS_TIMEOUT"},
		{[]string{"CACHE_STALE_TTL", "0s"}, "CACHE_STALE_TTL"},
		{[]string{"CACHE_TTL", "-1s"}, "CACHE_TTL"},
		{[]string{"TIME_ZONE", "Mars/Olympus"}, "TIME_ZONE"},
		{[]string{"UPSTREAM_CONCURRENCY", "0"}, "UPSTREAM_CONCURRENCY"},
		{[]string{"CACHE_HOT_BYTES", "-1"}, "CACHE_HOT_BYTES"},
		{[]string{"MAX_DEPTH", "0"}, "MAX_DEPTH"},
		{[]string{"INTROSPECTION", "maybe"}, "INTROSPECTION"},
		{[]string{"SAFELIST", "true"}, "SAFELIST"},
		{[]string{"PERSISTED_OPERATIONS_FILE", "/no/such/manifest.json"}, "PERSISTED_OPERATIONS_FILE"},
		{[]string{"UPSTREAM_TOKEN", "svc"}, "UPSTREAM_TOKEN"},
		{[]string{"API_KEYS_FILE", "keys.txt"}, "API_KEYS_FILE"},
		{[]string{"UPSTREAM_TOKEN", "svc", "API_KEYS_FILE", "/no/such/keys"}, "API_KEYS_FILE"},
		{[]string{"UPSTREAM_TOKEN", "svc", "OPEN_ACCESS", "yes please"}, "OPEN_ACCESS"},
		{[]string{"CORS_ORIGINS", "desk.example.com"}, "CORS_ORIGINS"},
		{[]string{"CORS_ORIGINS", "https://desk.example.com/app"}, "CORS_ORIGINS"},
		{[]string{"MAX_COST", "many"}, "MAX_COST"},
		{[]string{"RATE_LIMIT_BURST", "200000"}, "RATE_LIMIT_PER_SECOND"},
		{[]string{"RATE_LIMIT_BURST", "1000", "RATE_LIMIT_PER_SECOND", "10"}, "below MAX_COST"},
		{[]string{"HEAVY_QUEUE", "0"}, "HEAVY_QUEUE"},
		{[]string{"HEAVY_COST_AT_ONCE", "-5"}, "HEAVY_COST_AT_ONCE"},
	}
	for _, tt := range tests {
		_, err := loadConfig(nil, env(tt.env...), &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("loadConfig(%v) = %v, want an error naming %s", tt.env, err, tt.want)
			continue
		}
		// It names the bad one only (REDIS_TIMEOUT is part of REDIS_DIAL_TIMEOUT's name).
		msg := strings.ReplaceAll(err.Error(), tt.want, "")
		for _, v := range variables {
			if v != tt.want && strings.Contains(msg, v) {
				t.Errorf("loadConfig(%v) = %v: names %s too", tt.env, err, v)
			}
		}
	}
}

func TestSecretsFromEnvironment(t *testing.T) {
	c, err := loadConfig(nil, env("UPSTREAM_TOKEN", "svc-token", "CACHE_KEY_SECRET", "k", "OPEN_ACCESS", "true"), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Upstream.ServiceToken != "svc-token" || c.ScopeSecret != "k" {
		t.Errorf("secrets = %q, %q", c.Upstream.ServiceToken, c.ScopeSecret)
	}
	c, err = loadConfig([]string{"--upstream-token", "flag-token"}, env("UPSTREAM_TOKEN", "svc-token", "OPEN_ACCESS", "true"), &bytes.Buffer{})
	if err != nil || c.Upstream.ServiceToken != "flag-token" {
		t.Errorf("flag token = %q, %v; want the flag to win", c.Upstream.ServiceToken, err)
	}
}

func TestHelpListsEveryVariable(t *testing.T) {
	var out bytes.Buffer
	_, err := loadConfig([]string{"--help"}, env("UPSTREAM_TOKEN", "svc-hush", "CACHE_KEY_SECRET", "key-hush",
		"REDIS_URL", "redis://:redis-hush@cache:6379/0", "UPSTREAM_URL", "https://user:url-hush@enneo.example/api/mind"), &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("err = %v, want flag.ErrHelp", err)
	}
	if strings.Contains(out.String(), "hush") {
		t.Errorf("--help prints a secret:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "redis://:xxxxx@cache:6379/0") {
		t.Errorf("--help does not show REDIS_URL redacted:\n%s", out.String())
	}
	for _, v := range []string{"PORT", "UPSTREAM_URL", "UPSTREAM_TOKEN", "UPSTREAM_TIMEOUT", "OPERATION_TIMEOUT", "TIME_ZONE", "CACHE_KEY_SECRET", "-upstream-url"} {
		if !strings.Contains(out.String(), v) {
			t.Errorf("--help lacks %s:\n%s", v, out.String())
		}
	}
}

func TestBadFlagUsageHidesPasswords(t *testing.T) {
	var out bytes.Buffer
	_, err := loadConfig([]string{"--no-such-flag"}, env("REDIS_URL", "redis://:redis-hush@cache:6379/0"), &out)
	if err == nil {
		t.Fatal("an unknown flag was accepted")
	}
	if strings.Contains(out.String(), "hush") || !strings.Contains(out.String(), "REDIS_URL") {
		t.Errorf("usage after a bad flag:\n%s", out.String())
	}
}

// A bad value is repeated as it was given, so that an operator sees what was read (a quoting
// mistake in a manifest, a unit left out); secrets never are.
func TestLoadConfigRepeatsBadValues(t *testing.T) {
	for _, tt := range []struct {
		env  []string
		want string
	}{
		{[]string{"CACHE_TTL", "60"}, `CACHE_TTL="60": not a duration such as 5s or 250ms`},
		{[]string{"PORT", "http"}, `PORT="http": not a whole number`},
		{[]string{"PORT", "70000"}, `PORT=70000: must be 0 to 65535`},
		{[]string{"OPERATION_TIMEOUT", "-1s"}, `OPERATION_TIMEOUT=-1s: must be positive`},
		{[]string{"MAX_DEPTH", "0"}, `MAX_DEPTH=0: must be positive`},
		{[]string{"UPSTREAM_RETRIES", "-2"}, `UPSTREAM_RETRIES=-2`},
		{[]string{"CACHE_REVALIDATE", "1h"}, `CACHE_REVALIDATE=1h0m0s`},
		{[]string{"INTROSPECTION", "maybe"}, `INTROSPECTION="maybe": must be true or false`},
		{[]string{"LOG_LEVEL", "loud"}, `LOG_LEVEL="loud"`},
		{[]string{"TIME_ZONE", "Mars/Olympus"}, `"Mars/Olympus"`},
		{[]string{"CORS_ORIGINS", "desk.example.com"}, `"desk.example.com"`},
		{[]string{"RATE_LIMIT_BURST", "200000"}, `RATE_LIMIT_BURST=200000 and RATE_LIMIT_PER_SECOND=0`},
	} {
		_, err := loadConfig(nil, env(tt.env...), &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("loadConfig(%v) = %v, want %s", tt.env, err, tt.want)
		}
	}
	_, err := loadConfig(nil, env("CACHE_ENCRYPTION_KEY", "not-a-key-hush"), &bytes.Buffer{})
	if err == nil || strings.Contains(err.Error(), "hush") {
		t.Errorf("a bad CACHE_ENCRYPTION_KEY: %v, want an error that does not repeat it", err)
	}
}

// TestHelpAndTheConfigurationTableAgree: the table of docs/configuration.md names every variable
// --help lists, and no other but Go's own and OpenTelemetry's standard ones, which their
// runtimes read.
func TestHelpAndTheConfigurationTableAgree(t *testing.T) {
	var out bytes.Buffer
	if _, err := loadConfig([]string{"--help"}, env(), &out); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("err = %v, want flag.ErrHelp", err)
	}
	help := map[string]bool{}
	for _, m := range regexp.MustCompile(`\(\$([A-Z0-9_]+)\)`).FindAllStringSubmatch(out.String(), -1) {
		help[m[1]] = true
	}
	doc, err := os.ReadFile("docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	table := map[string]bool{}
	for _, line := range strings.Split(string(doc), "\n") {
		if first, _, ok := strings.Cut(strings.TrimPrefix(line, "| "), " | "); ok && strings.HasPrefix(line, "| `") {
			for _, m := range regexp.MustCompile("`([A-Z][A-Z0-9_]*)`").FindAllStringSubmatch(first, -1) {
				table[m[1]] = true
			}
		}
	}
	if len(help) == 0 || len(table) == 0 {
		t.Fatalf("--help lists %d variables, docs/configuration.md's table %d", len(help), len(table))
	}
	for v := range help {
		if !table[v] {
			t.Errorf("docs/configuration.md's table lacks %s, which --help lists", v)
		}
	}
	for v := range table {
		if !help[v] && v != "GOMEMLIMIT" && v != "GOGC" && !strings.HasPrefix(v, "OTEL_") {
			t.Errorf("docs/configuration.md's table names %s, which --help does not list", v)
		}
	}
}

// TestModes: with UPSTREAM_URL set (production), introspection, the playground and field
// suggestions are off unless configured; in demo mode they are on.
func TestModes(t *testing.T) {
	url, calls := countingDemo(t)
	for _, tt := range []struct {
		name string
		env  map[string]string
		on   bool
	}{
		{"production", map[string]string{"UPSTREAM_URL": url}, false},
		{"production, enabled", map[string]string{"UPSTREAM_URL": url, "INTROSPECTION": "true", "PLAYGROUND": "true", "FIELD_SUGGESTIONS": "true"}, true},
		{"demo", nil, true},
		{"demo, disabled", map[string]string{"INTROSPECTION": "false", "PLAYGROUND": "false", "FIELD_SUGGESTIONS": "false"}, false},
	} {
		base, _ := startTestServer(t, tt.env)
		before := calls.Load()
		_, out := post(t, base, "demo-token", []byte(`{"query":"{ __schema { queryType { name } } }"}`))
		if got := out["data"] != nil && out["errors"] == nil; got != tt.on {
			t.Errorf("%s: introspection answered %v, want %v", tt.name, out, tt.on)
		}
		if codes := codesOf(out); !tt.on && (len(codes) != 1 || codes[0] != "INTROSPECTION_DISABLED") {
			t.Errorf("%s: introspection refused with %v, want INTROSPECTION_DISABLED", tt.name, codes)
		}
		if _, out := post(t, base, "demo-token", []byte(`{"query":"{ __typename }"}`)); out["errors"] != nil {
			t.Errorf("%s: __typename: %v", tt.name, out)
		}
		_, out = post(t, base, "demo-token", []byte(`{"query":"{ contract(id: \"1\") { produktName } }"}`))
		if got := strings.Contains(strings.Join(messagesOf(out), " "), "Did you mean"); got != tt.on {
			t.Errorf("%s: suggestions in %v, want %v", tt.name, messagesOf(out), tt.on)
		}
		_, out = post(t, base, "demo-token", []byte(`{"query":"{ contracts(idz: [\"1\"]) { id } }"}`))
		if got := strings.Contains(strings.Join(messagesOf(out), " "), "Did you mean"); got != tt.on {
			t.Errorf("%s: suggestions for an argument in %v, want %v", tt.name, messagesOf(out), tt.on)
		}
		resp, err := http.Get(base + "/")
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		isPlayground := strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html")
		if resp.StatusCode != http.StatusOK || isPlayground != tt.on {
			t.Errorf("%s: GET / = %d %s, want the playground: %v", tt.name, resp.StatusCode, resp.Header.Get("Content-Type"), tt.on)
		}
		if !tt.on && !strings.Contains(string(page), "PLAYGROUND=true") {
			t.Errorf("%s: GET / says %s, want how to turn the playground on", tt.name, page)
		}
		if n := calls.Load() - before; n != 0 {
			t.Errorf("%s: %d upstream calls, want 0", tt.name, n)
		}
	}
}

func messagesOf(out map[string]any) []string {
	var msgs []string
	errs, _ := out["errors"].([]any)
	for _, e := range errs {
		m, _ := e.(map[string]any)["message"].(string)
		msgs = append(msgs, m)
	}
	return msgs
}

// TestCORSOriginsByMode: in demo mode browsers on any origin may call the facade; in
// production none unless CORS_ORIGINS lists them. (What the HTTP layer does with the origins:
// httpapi's TestCORS.)
func TestCORSOriginsByMode(t *testing.T) {
	for _, tt := range []struct {
		name string
		env  []string
		want []string
	}{
		{"demo: any origin", nil, []string{"*"}},
		{"production: none by default", []string{"UPSTREAM_URL", "http://enneo.example/api/mind"}, nil},
		{"production: the listed origins", []string{"UPSTREAM_URL", "http://enneo.example/api/mind", "CORS_ORIGINS", "https://desk.example.com, https://bi.example.com/"},
			[]string{"https://desk.example.com", "https://bi.example.com"}},
		{"production: any", []string{"UPSTREAM_URL", "http://enneo.example/api/mind", "CORS_ORIGINS", "*"}, []string{"*"}},
	} {
		cfg, err := loadConfig(nil, env(tt.env...), &bytes.Buffer{})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(cfg.HTTP.CORSOrigins, tt.want) {
			t.Errorf("%s: CORS origins %q, want %q", tt.name, cfg.HTTP.CORSOrigins, tt.want)
		}
	}
}

// TestStartupGuide: the first lines run prints tell a new user where the playground is and
// what to send; in production, that the playground and introspection are off and how to turn
// them on.
func TestStartupGuide(t *testing.T) {
	url, _ := countingDemo(t)
	for _, tt := range []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"demo", nil, []string{"playground  http://localhost:", "Authorization: Bearer demo-token", "GraphQL     http://localhost:"}},
		{"production", map[string]string{"UPSTREAM_URL": url}, []string{"playground  off: set PLAYGROUND=true", "introspection off: set INTROSPECTION=true", "GraphQL     http://localhost:"}},
		{"a manifest", map[string]string{"PERSISTED_OPERATIONS_FILE": "testdata/persisted-operations.json"}, []string{"persisted   4 operations"}},
	} {
		ctx, cancel := context.WithCancel(context.Background())
		pr, pw := io.Pipe()
		done := make(chan error, 1)
		go func() {
			done <- run(ctx, []string{"--port", "0"}, func(k string) string { return tt.env[k] }, pw, io.Discard)
			pw.Close()
		}()
		var lines []string
		for sc := bufio.NewScanner(pr); sc.Scan(); {
			lines = append(lines, sc.Text())
			if strings.HasPrefix(strings.TrimSpace(sc.Text()), "GraphQL") {
				break
			}
		}
		cancel()
		go io.Copy(io.Discard, pr)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		out := strings.Join(lines, "\n")
		if !strings.HasPrefix(out, "listening on http://") {
			t.Errorf("%s: first line %q, want the address", tt.name, lines[0])
		}
		for _, w := range tt.want {
			if !strings.Contains(out, w) {
				t.Errorf("%s: start-up says\n%s\nwant %q", tt.name, out, w)
			}
		}
	}
}

// TestServiceModeKeys: with a service token, callers must present one of the API keys of
// API_KEYS_FILE; every other request is UNAUTHENTICATED with no upstream call. Each key is its
// own rate-limit budget, and logs name it, never the key itself.
func TestServiceModeKeys(t *testing.T) {
	var (
		calls  atomic.Int64
		mu     sync.Mutex
		tokens = map[string]bool{}
	)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/contract/") {
			calls.Add(1)
			mu.Lock()
			tokens[r.Header.Get("Authorization")] = true
			mu.Unlock()
		}
		w.Write([]byte(`{"tickets":[{"id":1,"subject":"s"}]}`))
	}))
	t.Cleanup(up.Close)
	const powerbi, grafana = "pbi-Qm9vdHN0cmFwIGtleQ-secret", "graf-c2Vjb25kIGtleQ-secret"
	hash := func(k string) string { s := sha256.Sum256([]byte(k)); return hex.EncodeToString(s[:]) }
	file := filepath.Join(t.TempDir(), "keys")
	os.WriteFile(file, []byte("# name, sha256 of the key\npowerbi sha256:"+hash(powerbi)+"\n\ngrafana "+hash(grafana)+"\n"), 0o600)
	p := startProcess(t, map[string]string{
		"UPSTREAM_URL": up.URL, "UPSTREAM_TOKEN": "svc-token-hush", "API_KEYS_FILE": file, "ADMIN_TOKEN": "admin-hush",
		"MAX_COST": "100", "RATE_LIMIT_BURST": "160", "RATE_LIMIT_PER_SECOND": "1",
	})
	query := []byte(`{"query":"{ contract(id: \"7\") { history { tickets { id } } } }"}`)
	send := func(method, auth string) (*http.Response, map[string]any) {
		req, _ := http.NewRequest(method, p.base+"/graphql", bytes.NewReader(query))
		if method == http.MethodGet {
			req, _ = http.NewRequest(method, p.base+"/graphql?query=%7B__typename%7D", nil)
		}
		req.Header.Set("Content-Type", "application/json")
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		json.NewDecoder(resp.Body).Decode(&out)
		return resp, out
	}
	for _, auth := range []string{"", "Bearer wrong-key", "Basic cG93ZXJiaQ==", "Bearer " + powerbi + "x", "Bearer svc-token-hush"} {
		for _, method := range []string{http.MethodPost, http.MethodGet} {
			resp, out := send(method, auth)
			if codes := codesOf(out); resp.StatusCode != http.StatusUnauthorized || len(codes) != 1 || codes[0] != "UNAUTHENTICATED" || resp.Header.Get("WWW-Authenticate") == "" {
				t.Errorf("%s with %q: %d %v, want 401 UNAUTHENTICATED", method, auth, resp.StatusCode, out)
			}
		}
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("%d upstream calls for refused requests, want 0", n)
	}
	// Each key pays from its own bucket: 160 points, 52 a query.
	for i := range 3 {
		if resp, out := send(http.MethodPost, "Bearer "+powerbi); resp.StatusCode != http.StatusOK || out["errors"] != nil {
			t.Fatalf("powerbi's query %d: %d %v", i+1, resp.StatusCode, out)
		}
	}
	if resp, _ := send(http.MethodPost, "Bearer "+powerbi); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("powerbi's fourth query: %d, want 429", resp.StatusCode)
	}
	if resp, out := send(http.MethodPost, "Bearer "+grafana); resp.StatusCode != http.StatusOK || out["errors"] != nil {
		t.Errorf("grafana while powerbi is limited: %d %v", resp.StatusCode, out)
	}
	mu.Lock()
	if len(tokens) != 1 || !tokens["Bearer svc-token-hush"] {
		t.Errorf("the upstream saw %v, want the service token only", tokens)
	}
	mu.Unlock()
	// The admin token is a key of its own, for the invalidation mutation.
	query = []byte(`{"query":"mutation { invalidateContractHistory(contractId: \"7\") }"}`)
	if resp, out := send(http.MethodPost, "Bearer admin-hush"); resp.StatusCode != http.StatusOK || out["errors"] != nil {
		t.Errorf("the admin's mutation: %d %v", resp.StatusCode, out)
	}
	logs := p.Logs()
	if !strings.Contains(logs, `"caller":"powerbi"`) {
		t.Errorf("no log line names the key powerbi:\n%s", logs)
	}
	for _, secret := range []string{powerbi, grafana, "hush", hash(powerbi)} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log holds %q:\n%s", secret, logs)
		}
	}
}

// TestUpstreamConcurrencyIsConfigurable: UPSTREAM_CONCURRENCY bounds the calls one batch makes at once.
func TestUpstreamConcurrencyIsConfigurable(t *testing.T) {
	var inFlight, most atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		time.Sleep(30 * time.Millisecond)
		w.Write([]byte(`{"tickets":[]}`))
	}))
	defer up.Close()
	base, _ := startTestServer(t, map[string]string{"UPSTREAM_URL": up.URL, "UPSTREAM_CONCURRENCY": "2", "CACHE_TTL": "0"})
	req, _ := http.NewRequest(http.MethodPost, base+"/graphql", strings.NewReader(`{"query":"{ contracts(ids: [\"1\",\"2\",\"3\",\"4\",\"5\",\"6\"]) { id } }"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer t")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if m := most.Load(); m != 2 {
		t.Errorf("at most %d upstream calls in flight, want UPSTREAM_CONCURRENCY=2", m)
	}
}
