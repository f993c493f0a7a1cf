package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
)

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
