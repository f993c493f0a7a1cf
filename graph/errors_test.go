package graph

import (
	"context"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/enneo-facade/facade/upstream"
)

// leakMarker stands for upstream error bodies with personal data: it must never reach a client.
const leakMarker = "tom@mustermann.de SECRET-BODY"

func errorUpstream(t *testing.T) *testUpstream {
	return newTestUpstream(t, func(w http.ResponseWriter, r *http.Request, id string) {
		switch id {
		case "e401":
			w.WriteHeader(401)
			w.Write([]byte(`{"error":"token expired for ` + leakMarker + `"}`))
		case "e403":
			w.WriteHeader(403)
		case "e404":
			http.Error(w, `{"error":"Contract e404 of `+leakMarker+` not found"}`, 404)
		case "e429":
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(429)
		case "e500":
			http.Error(w, `{"error":"SQL error near `+leakMarker+`"}`, 500)
		case "e502":
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(502)
			w.Write([]byte("<html>Bad gateway " + leakMarker + "</html>"))
		case "hang":
			<-r.Context().Done()
		case "html":
			w.Header().Set("Content-Type", "text/html")
			w.Write([]byte("<html>" + leakMarker + "</html>"))
		case "trunc":
			w.Write([]byte(`{"tickets":[{"id":1,"subject":"` + leakMarker))
		default:
			w.Write(historyWithSibling(id, "x"))
		}
	})
}

func TestUpstreamErrorsPerContract(t *testing.T) {
	up := errorUpstream(t)
	api, logs := newTestAPI(t, up, 200*time.Millisecond)
	const token = "caller-token-SECRET"
	resp := mustQuery(t, api, token, `{
		ok: contract(id: "42") { id productName }
		e401: contract(id: "e401") { id }
		e403: contract(id: "e403") { id }
		e404: contract(id: "e404") { id }
		e429: contract(id: "e429") { id }
		e500: contract(id: "e500") { id }
		e502: contract(id: "e502") { id }
		hang: contract(id: "hang") { id }
		html: contract(id: "html") { id }
		trunc: contract(id: "trunc") { id }
		bad: contract(id: "../../admin") { id }
		list: contracts(ids: ["43", "e404", "44"]) { id }
	}`, nil)
	tests := []struct {
		path, code string
		status     float64
	}{
		{"e401", CodeUnauthenticated, 401},
		{"e403", CodeForbidden, 403},
		{"e404", CodeNotFound, 404},
		{"e429", CodeUpstreamRateLimited, 429},
		{"e500", CodeUpstreamError, 500},
		{"e502", CodeUpstreamError, 502},
		{"hang", CodeUpstreamTimeout, 0},
		{"html", CodeUpstreamBadResponse, 0},
		{"trunc", CodeUpstreamBadResponse, 0},
		{"bad", CodeBadUserInput, 0},
		{"list.1", CodeNotFound, 404},
	}
	for _, tt := range tests {
		ext := resp.errorAt(tt.path)
		if ext == nil || ext["code"] != tt.code {
			t.Errorf("error at %s = %v, want %s", tt.path, ext, tt.code)
			continue
		}
		if status, _ := ext["upstreamStatus"].(float64); status != tt.status {
			t.Errorf("error at %s: upstreamStatus = %v, want %v", tt.path, ext["upstreamStatus"], tt.status)
		}
		if string(resp.Data[tt.path]) != "null" && !strings.Contains(tt.path, ".") {
			t.Errorf("%s = %s, want null", tt.path, resp.Data[tt.path])
		}
	}
	if ext := resp.errorAt("e429"); ext["retryAfter"] != 7.0 {
		t.Errorf("e429 retryAfter = %v, want 7", ext["retryAfter"])
	}
	if len(resp.Errors) != len(tests) {
		t.Errorf("got %d errors, want %d: %s", len(resp.Errors), len(tests), resp.raw)
	}
	// Siblings of failing contracts are unaffected.
	if got := string(resp.Data["ok"]); got != `{"id":"42","productName":"Flex 42"}` {
		t.Errorf("ok = %s", got)
	}
	if got := string(resp.Data["list"]); got != `[{"id":"43"},null,{"id":"44"}]` {
		t.Errorf("list = %s, want the failing id null in place", got)
	}
	for _, secret := range []string{"mustermann", "SECRET", token} {
		if strings.Contains(resp.raw, secret) {
			t.Errorf("response contains %q: %s", secret, resp.raw)
		}
		if strings.Contains(logs.String(), secret) {
			t.Errorf("logs contain %q: %s", secret, logs)
		}
	}
	if !strings.Contains(logs.String(), "UPSTREAM_ERROR") {
		t.Errorf("upstream failures were not logged: %s", logs)
	}
	if up.callsFor("../../admin") != 0 || up.callsFor("admin") != 0 {
		t.Errorf("an invalid id reached the upstream: %v", up.calls)
	}
}

func TestMissingCredential(t *testing.T) {
	up := errorUpstream(t)
	api, _ := newTestAPI(t, up, 0)
	resp := mustQuery(t, api, "", `{ a: contract(id: "1") { id } b: contracts(ids: ["2"]) { id } }`, nil)
	for _, path := range []string{"a", "b.0"} {
		if ext := resp.errorAt(path); ext == nil || ext["code"] != CodeUnauthenticated {
			t.Errorf("error at %s = %v, want UNAUTHENTICATED: %s", path, ext, resp.raw)
		}
	}
	if n := up.total(); n != 0 {
		t.Errorf("upstream calls without a credential = %d, want 0", n)
	}
	// A query that needs no upstream works without one.
	if resp := mustQuery(t, api, "", `{ __typename }`, nil); len(resp.Errors) > 0 {
		t.Errorf("__typename without a token: %s", resp.raw)
	}
}

func TestCallerTokenIsForwarded(t *testing.T) {
	up := errorUpstream(t)
	api, _ := newTestAPI(t, up, 0)
	mustQuery(t, api, "alice-token", `{ contract(id: "1") { id } }`, nil)
	if _, ok := up.tokens.Load("Bearer alice-token"); !ok {
		t.Errorf("the caller's token did not reach the upstream")
	}
}

func TestCancelledIsNotAnInternalError(t *testing.T) {
	logs := &syncBuffer{}
	present := ErrorPresenter(slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo})))
	err := fmt.Errorf("get history %q: %w", "1", &url.Error{Op: "Get", URL: "http://up/contract/1/history", Err: context.Canceled})
	out := present(context.Background(), err)
	if out.Extensions["code"] != CodeCancelled {
		t.Errorf("code = %v, want %s", out.Extensions["code"], CodeCancelled)
	}
	if logs.String() != "" {
		t.Errorf("a cancelled request was logged above debug: %s", logs.String())
	}
}

// TestOperationTimeout: the operation's deadline bounds its upstream calls, whatever the
// client's own (longer) timeout, so a hung upstream costs a caller Options.Timeout.
func TestOperationTimeout(t *testing.T) {
	up := newTestUpstream(t, func(w http.ResponseWriter, r *http.Request, id string) {
		<-r.Context().Done()
	})
	client, err := upstream.New(upstream.Options{BaseURL: up.srv.URL, Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	for name, o := range map[string]Options{
		"without response cache": {Timeout: 200 * time.Millisecond},
		"with response cache":    {Timeout: 200 * time.Millisecond, Changes: neverChanged{}},
	} {
		api := httptest.NewServer(NewHandler(client, NewAuthenticator("", []byte("k")), o, slog.New(slog.DiscardHandler)))
		t.Cleanup(api.Close)
		start := time.Now()
		resp := mustQuery(t, api, "token", `{ contract(id: "1") { id } }`, nil)
		if ext := resp.errorAt("contract"); ext == nil || ext["code"] != CodeUpstreamTimeout {
			t.Errorf("%s: error = %s, want UPSTREAM_TIMEOUT", name, resp.raw)
		}
		if took := time.Since(start); took > 30*time.Second {
			t.Errorf("%s: took %v: the operation's deadline did not reach the upstream call", name, took)
		}
	}
}

// TestCodesAreOneVocabulary: every code constant of the package is in Codes, once, with its
// meaning, and Codes names nothing else: the vocabulary is listed in one place.
func TestCodesAreOneVocabulary(t *testing.T) {
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, ".", func(fi fs.FileInfo) bool { return !strings.HasSuffix(fi.Name(), "_test.go") }, 0)
	if err != nil {
		t.Fatal(err)
	}
	declared := map[string]string{} // value -> constant
	for _, f := range pkgs["graph"].Files {
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.CONST {
				continue
			}
			for _, spec := range g.Specs {
				for i, name := range spec.(*ast.ValueSpec).Names {
					if !strings.HasPrefix(name.Name, "Code") {
						continue
					}
					if lit, ok := spec.(*ast.ValueSpec).Values[i].(*ast.BasicLit); ok {
						declared[strings.Trim(lit.Value, `"`)] = fset.Position(name.Pos()).String()
					}
				}
			}
		}
	}
	listed := map[string]bool{}
	for _, c := range Codes {
		if listed[c.Code] || c.Means == "" {
			t.Errorf("%s is listed twice or without its meaning", c.Code)
		}
		listed[c.Code] = true
		if _, ok := declared[c.Code]; !ok {
			t.Errorf("%s is listed but no constant declares it", c.Code)
		}
	}
	for code, at := range declared {
		if !listed[code] {
			t.Errorf("%s (%s) is not in Codes", code, at)
		}
	}
	if len(declared) < 30 {
		t.Errorf("found %d code constants", len(declared))
	}
}

var updateDocs = flag.Bool("update-docs", false, "rewrite docs/errors.md's table from Codes")

// TestErrorsDocumentIsCodes: docs/errors.md's table is Codes, row for row, so that the
// vocabulary and what each code means are written once, here.
func TestErrorsDocumentIsCodes(t *testing.T) {
	const path = "../docs/errors.md"
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var table strings.Builder
	table.WriteString("| code | when |\n|---|---|\n")
	for _, c := range Codes {
		fmt.Fprintf(&table, "| `%s` | %s |\n", c.Code, c.Means)
	}
	text := string(doc)
	start := strings.Index(text, "| code | when |\n")
	if start < 0 {
		t.Fatalf("%s has no table of codes", path)
	}
	end := len(text) // the table ends at a blank line, or with the file
	if i := strings.Index(text[start:], "\n\n"); i >= 0 {
		end = start + i + 1
	}
	if text[start:end] == table.String() {
		return
	}
	if *updateDocs {
		if err := os.WriteFile(path, []byte(text[:start]+table.String()+text[end:]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("%s's table is not Codes; run go test ./graph -run ErrorsDocument -update-docs:\n%s", path, table.String())
}
