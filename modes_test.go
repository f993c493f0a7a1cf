package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
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

// TestCORS: browsers on allowed origins may call /graphql with an Authorization header; the
// answers vary by Origin and never allow credentials (cookies).
func TestCORS(t *testing.T) {
	url, _ := countingDemo(t)
	for _, tt := range []struct {
		name, origin, want string // want: Access-Control-Allow-Origin, "" for none
		env                map[string]string
	}{
		{"demo: any origin", "https://anywhere.example", "*", nil},
		{"production: none by default", "https://desk.example.com", "", map[string]string{"UPSTREAM_URL": url}},
		{"production: a listed origin", "https://desk.example.com", "https://desk.example.com", map[string]string{"UPSTREAM_URL": url, "CORS_ORIGINS": "https://desk.example.com, https://bi.example.com"}},
		{"production: an origin not listed", "https://evil.example", "", map[string]string{"UPSTREAM_URL": url, "CORS_ORIGINS": "https://desk.example.com"}},
	} {
		base, _ := startTestServer(t, tt.env)
		pre, _ := http.NewRequest(http.MethodOptions, base+"/graphql", nil)
		pre.Header.Set("Origin", tt.origin)
		pre.Header.Set("Access-Control-Request-Method", "POST")
		pre.Header.Set("Access-Control-Request-Headers", "authorization, content-type")
		resp, err := http.DefaultClient.Do(pre)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		h := resp.Header
		if got := h.Get("Access-Control-Allow-Origin"); got != tt.want {
			t.Errorf("%s: preflight Access-Control-Allow-Origin %q, want %q", tt.name, got, tt.want)
		}
		if tt.want != "" {
			if resp.StatusCode != http.StatusNoContent || !strings.Contains(strings.ToLower(h.Get("Access-Control-Allow-Headers")), "authorization") ||
				!strings.Contains(h.Get("Access-Control-Allow-Methods"), "POST") {
				t.Errorf("%s: preflight %d %v, want 204 allowing POST with Authorization", tt.name, resp.StatusCode, h)
			}
		}
		req, _ := http.NewRequest(http.MethodPost, base+"/graphql", bytes.NewReader([]byte(`{"query":"{ __typename }"}`)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Origin", tt.origin)
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		h = resp.Header
		if got := h.Get("Access-Control-Allow-Origin"); got != tt.want || resp.StatusCode != http.StatusOK {
			t.Errorf("%s: POST %d, Access-Control-Allow-Origin %q, want %q", tt.name, resp.StatusCode, got, tt.want)
		}
		if tt.want != "" && !strings.Contains(strings.Join(h.Values("Vary"), ","), "Origin") {
			t.Errorf("%s: POST Vary %v, want Origin", tt.name, h.Values("Vary"))
		}
		if h.Get("Access-Control-Allow-Credentials") != "" {
			t.Errorf("%s: credentials allowed", tt.name)
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
