package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
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

	"github.com/enneo-facade/facade/graph"
	"github.com/enneo-facade/facade/graph/httpapi"
	"github.com/enneo-facade/facade/graph/queries"
	"github.com/enneo-facade/facade/upstream/demo"
)

// countingDemo serves the demo upstream over real HTTP, counting its calls.
func countingDemo(t *testing.T) (url string, calls *atomic.Int64) {
	t.Helper()
	calls = &atomic.Int64{}
	h := demo.NewHandler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, calls
}

func post(t *testing.T, base, token string, body []byte) (status int, out map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err) // not Fatal: callers run on goroutines of their own
		return 0, nil
	}
	defer resp.Body.Close()
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func get(t *testing.T, url, token string) (status int, out map[string]any) {
	t.Helper()
	status, _, body := getRaw(t, url, token)
	json.Unmarshal(body, &out)
	return status, out
}

// getRaw GETs url with token: the answer's status, Content-Type and body.
func getRaw(t *testing.T, url, token string) (status int, contentType string, body []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err) // not Fatal: callers run on goroutines of their own
		return 0, "", nil
	}
	defer resp.Body.Close()
	body, _ = io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), body
}

// subscribes posts a subscription for server-sent events, and says what is wrong unless its
// stream opens with the comment that says it is taken.
func subscribes(t *testing.T, base, token string, body []byte) error {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	first, err := bufio.NewReader(resp.Body).ReadString('\n')
	if resp.StatusCode != http.StatusOK || first != ": subscribed\n" {
		return fmt.Errorf("%d, first line %q (%v), want the stream open", resp.StatusCode, first, err)
	}
	return nil
}

// getCSV GETs a table, and says what is wrong unless it is one with a header and rows.
func getCSV(t *testing.T, url, token string) error {
	t.Helper()
	status, contentType, body := getRaw(t, url, token)
	if status != http.StatusOK || !strings.HasPrefix(contentType, "text/csv") {
		return fmt.Errorf("%d %s: %.600s", status, contentType, body)
	}
	if records, err := csv.NewReader(bytes.NewReader(body)).ReadAll(); err != nil || len(records) < 2 {
		return fmt.Errorf("not a table with rows (%v): %.600s", err, body)
	}
	return nil
}

func codesOf(out map[string]any) []string {
	var codes []string
	errs, _ := out["errors"].([]any)
	for _, e := range errs {
		ext, _ := e.(map[string]any)["extensions"].(map[string]any)
		code, _ := ext["code"].(string)
		codes = append(codes, code)
	}
	return codes
}

// TestAttacksAreRefused sends graph/queries' attack corpus to the whole service over real
// HTTP: each is refused with its code and costs no upstream call. (How fast, and what it does
// to memory, bench/attack measures.)
func TestAttacksAreRefused(t *testing.T) {
	url, calls := countingDemo(t)
	base, _ := startTestServer(t, map[string]string{"UPSTREAM_URL": url})
	for _, a := range queries.Attacks() {
		before := calls.Load()
		status, out := post(t, base, "demo-token", a.Body)
		if n := calls.Load() - before; n != 0 {
			t.Errorf("%s: %d upstream calls, want 0", a.Name, n)
		}
		if a.Status != 0 {
			if status != a.Status {
				t.Errorf("%s: status %d, want %d", a.Name, status, a.Status)
			}
			continue
		}
		codes := codesOf(out)
		if len(codes) == 0 || !slices.Contains(a.Codes, codes[0]) || out["data"] != nil && codes[0] != "BAD_USER_INPUT" {
			raw, _ := json.Marshal(out)
			t.Errorf("%s: %d %.400s, want %v", a.Name, status, raw, a.Codes)
		}
	}
}

// TestLegitimateQueriesPassTheDefaultLimits: every legitimate query of graph/queries, the
// playground's own query and every example in README.md and docs/*.md get data under the default
// limits, sent all at once over six connections (a browser's per host), twice: a single client
// meets no refusal of admission's either.
func TestLegitimateQueriesPassTheDefaultLimits(t *testing.T) {
	base, _ := startTestServer(t, map[string]string{"ADMIN_TOKEN": "admin-token", "PERSISTED_OPERATIONS_FILE": "testdata/persisted-operations.json"})
	schema := graph.NewExecutableSchema(graph.Config{Resolvers: &graph.Resolver{}}).Schema()
	type example struct {
		name, token string
		body        []byte
		allowed     []string // codes of errors the example shows on purpose
	}
	var all []example
	for _, q := range queries.Legitimate(schema) {
		b, _ := json.Marshal(map[string]any{"query": q.Query, "variables": q.Variables})
		all = append(all, example{q.Name, "demo-token", b, nil})
	}
	b, _ := json.Marshal(map[string]any{"query": httpapi.ExampleQuery})
	all = append(all, example{"the playground's query", "demo-token", b, nil})
	for _, d := range docExamples(t) {
		token := "demo-token"
		if bytes.Contains(d.body, []byte("mutation")) {
			token = "admin-token"
		}
		// The list view of many contracts shows how a contract that is not found fails alone.
		all = append(all, example{d.name, token, d.body, []string{graph.CodeNotFound}})
	}
	check := func(e example) {
		var (
			status int
			out    map[string]any
		)
		if bytes.Contains(e.body, []byte(`"subscription `)) {
			// A subscription: it is taken when its stream opens (the first comment comes at once).
			if err := subscribes(t, base, e.token, e.body); err != nil {
				t.Errorf("%s: %v", e.name, err)
			}
			return
		}
		if path, ok := strings.CutPrefix(string(e.body), "GET "); ok && strings.Contains(path, "format=csv") {
			if err := getCSV(t, base+path, e.token); err != nil {
				t.Errorf("%s: %v", e.name, err)
			}
			return
		} else if ok {
			status, out = get(t, base+path, e.token)
		} else {
			status, out = post(t, base, e.token, e.body)
		}
		raw, _ := json.Marshal(out)
		bad := status != http.StatusOK || out["data"] == nil
		for _, code := range codesOf(out) {
			bad = bad || !slices.Contains(e.allowed, code)
		}
		if bad {
			t.Errorf("%s: %d %.600s", e.name, status, raw)
		}
	}
	todo := make(chan example)
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() {
			for e := range todo {
				check(e)
			}
		})
	}
	for range 2 {
		for _, e := range all {
			todo <- e
		}
	}
	close(todo)
	wg.Wait()
}

var (
	graphqlBlock = regexp.MustCompile("(?s)```graphql\n(.*?)```")
	exampleVars  = regexp.MustCompile(`(?m)^# variables: (.*)$`)
	// A curl command, over one line or more joined by backslashes: its -d body, or the URL of a
	// GET.
	curlBody = regexp.MustCompile(`curl (?:[^\n]|\\\n)*?localhost:8080/graphql(?:[^\n]|\\\n)*?-d '([^']*)'`)
	curlGet  = regexp.MustCompile(`curl -s 'localhost:8080(/graphql\?[^']*)'`)
)

// docExample is the request body of a GraphQL block or curl command of README.md or docs/*.md
// ("GET <path>" for a curl that GETs), named by its file and place there.
type docExample struct {
	name string
	body []byte
}

// docExamples are the examples of README.md and of every file in docs/, in that order.
func docExamples(t *testing.T) []docExample {
	t.Helper()
	files, err := filepath.Glob("docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	var all []docExample
	for _, file := range append([]string{"README.md"}, files...) {
		bodies := examplesIn(t, file)
		if file == "README.md" && len(bodies) < 3 {
			t.Fatalf("found %d examples in README.md, want its GraphQL blocks and curl commands", len(bodies))
		}
		for i, body := range bodies {
			all = append(all, docExample{fmt.Sprintf("%s example %d", file, i+1), body})
		}
	}
	return all
}

// examplesIn are the request bodies of one file's GraphQL blocks, then its curl commands.
func examplesIn(t *testing.T, file string) [][]byte {
	t.Helper()
	doc, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var bodies [][]byte
	for _, m := range graphqlBlock.FindAllSubmatch(doc, -1) {
		req := map[string]any{"query": string(m[1])}
		if v := exampleVars.FindSubmatch(m[1]); v != nil {
			var vars map[string]any
			if err := json.Unmarshal(v[1], &vars); err != nil {
				t.Fatalf("%s: variables %s: %v", file, v[1], err)
			}
			req["variables"] = vars
		}
		b, _ := json.Marshal(req)
		bodies = append(bodies, b)
	}
	for _, m := range curlBody.FindAllSubmatch(doc, -1) {
		bodies = append(bodies, m[1])
	}
	for _, m := range curlGet.FindAllSubmatch(doc, -1) {
		bodies = append(bodies, append([]byte("GET "), m[1]...))
	}
	return bodies
}
