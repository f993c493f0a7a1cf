package graph

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"mime"
	"mime/multipart"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/formatter"

	"github.com/enneo-facade/facade/graph/queries"
)

// deferQueries are operations with @defer: on a history (what gqlgen defers), in a list, nested
// in a deferred fragment, through a named fragment, with labels, beside a contract that fails,
// with if: false, and on fields gqlgen resolves at once.
type deferQuery struct {
	name, query string
	vars        map[string]any
	whole       string // the query without @defer, where withoutDeferText cannot make it
}

var deferQueries = []deferQuery{
	{"issue", `{ contract(id: "100022") { id productName ... @defer { history { tickets { id } } } } }`, nil, ""},
	{"list, nested, labelled", `query Desk($ids: [ID!]!) {
		contracts(ids: $ids) {
			id
			... on Contract @defer(label: "history") {
				history { tickets { id subject intents { code ...Tags @defer(label: "tags") } } }
			}
		}
	}
	fragment Tags on Intent { tags }`, map[string]any{"ids": []string{"100001", "746839", "not-found", "C-1001"}}, ""},
	{"deep", `{ contract(id: "746839") { id history { tickets { id customer { contracts { id ... @defer { history { tickets { id status } } } } } } } } }`, nil, ""},
	{"two unlabelled", `{ contract(id: "100003") { ... @defer { history { tickets { id } } } ... @defer { status history { contractId } } } }`, nil, ""},
	{"if false", `query($d: Boolean!) { contract(id: "100004") { id ... @defer(if: $d) { history { tickets { id } } } } }`, map[string]any{"d": false},
		`{ contract(id: "100004") { id ... { history { tickets { id } } } } }`},
	{"nothing deferrable", `{ contract(id: "100005") { id ... @defer { productName status } } }`, nil, ""},
}

// TestDeferOverMultipart: for each form of incremental delivery a client may ask for, over
// multipart/mixed and as server-sent events, the parts of every deferQueries operation, merged as
// the client merges them, equal the answer to the same operation without @defer; twice, the
// second time from the caches. The first part holds no null where deferred fields will go.
func TestDeferOverMultipart(t *testing.T) {
	api, _ := newMemCachedAPI(t, demoUpstream(t))
	for _, accept := range []string{
		"multipart/mixed;deferSpec=20220824,application/json",
		"multipart/mixed;incrementalSpec=v0.2,application/json",
		"multipart/mixed",
		"text/event-stream",
		"text/event-stream;incrementalSpec=v0.2",
		"application/json;q=0.5, text/event-stream",
	} {
		for _, q := range deferQueries {
			want := q.wholeAnswer(t, api.URL)
			for round := range 2 {
				t.Run(fmt.Sprintf("%s/%s/%d", accept, q.name, round), func(t *testing.T) {
					got := mustStream(t, api.URL, accept, q.query, q.vars)
					if !reflect.DeepEqual(got.data, want.data) {
						t.Errorf("merged data:\n%s\nwant:\n%s", mustJSON(got.data), mustJSON(want.data))
					}
					if !reflect.DeepEqual(got.errors, want.errors) {
						t.Errorf("errors %v, want %v", got.errors, want.errors)
					}
					if strings.Contains(q.query, "history { tickets") && strings.Contains(q.name, "issue") {
						if _, ok := obj(got.first["contract"])["history"]; ok {
							t.Errorf("first part has history: %s", mustJSON(got.first))
						}
						if got.parts < 2 {
							t.Errorf("%d parts, want the deferred one too", got.parts)
						}
					}
				})
			}
		}
	}
}

// TestDeferForJSONOnlyClients: a client that takes only JSON gets the deferred fields inline,
// in one answer equal to the one without @defer, and the second time from the response cache,
// which keeps only that complete answer, also for a client that takes JSON or parts; over GET
// with its ETag as well.
func TestDeferForJSONOnlyClients(t *testing.T) {
	hits := &responseHits{}
	api, _ := newMemCachedAPIWith(t, demoUpstream(t), Options{Observer: hits})
	for _, accept := range []string{"", "application/json", "application/graphql-response+json"} {
		for _, q := range deferQueries {
			want := q.wholeAnswer(t, api.URL)
			for round := range 2 {
				before := hits.n.Load()
				a := httpPost(t, api.URL, "tok", q.query, q.vars, http.Header{"Accept": {accept}})
				got := decodeAnswer(t, a.body)
				if strings.Contains(a.body, "hasNext") || !strings.HasPrefix(a.header.Get("Content-Type"), "application/") {
					t.Fatalf("%s %s: %s %s", accept, q.name, a.header.Get("Content-Type"), a.body)
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%s %s round %d:\n%s\nwant:\n%s", accept, q.name, round, a.body, mustJSON(want.data))
				}
				if fromCache := hits.n.Load() > before; round == 1 && len(want.errors) == 0 && !fromCache {
					t.Errorf("%s %s: the second answer was not the response cache's", accept, q.name)
				}
			}
		}
	}
	// A client that would take parts but takes JSON too (urql asks so for every query) gets the
	// whole answer the cache holds.
	for _, q := range deferQueries {
		if len(q.wholeAnswer(t, api.URL).errors) > 0 {
			continue // not kept: executed, so in parts
		}
		before := hits.n.Load()
		a := httpPost(t, api.URL, "tok", q.query, q.vars, http.Header{"Accept": {"multipart/mixed, application/json"}})
		if got := decodeAnswer(t, a.body); !reflect.DeepEqual(got, q.wholeAnswer(t, api.URL)) || a.header.Get("Content-Type") != "application/json" {
			t.Errorf("%s to a client that takes parts or JSON: %s %s", q.name, a.header.Get("Content-Type"), a.body)
		}
		if hits.n.Load() == before {
			t.Errorf("%s to a client that takes parts or JSON: not the response cache's", q.name)
		}
	}
	q := deferQueries[0]
	a := httpGet(t, api.URL, "tok", q.query, nil, nil, nil)
	b := httpGet(t, api.URL, "tok", q.query, nil, nil, http.Header{"If-None-Match": {a.header.Get("ETag")}})
	want := q.wholeAnswer(t, api.URL)
	if got := decodeAnswer(t, a.body); !reflect.DeepEqual(got, want) || b.status != http.StatusNotModified {
		t.Errorf("GET: %s, then %d", a.body, b.status)
	}
}

// TestDeferredPartsEndAtTheDeadline: a deferred fragment whose upstream hangs is cut at the
// operation's deadline; the answer ends with its error instead of waiting for ever.
func TestDeferredPartsEndAtTheDeadline(t *testing.T) {
	up := newTestUpstream(t, func(w http.ResponseWriter, r *http.Request, id string) {
		if id == "stuck" {
			<-r.Context().Done()
			return
		}
		w.Write(historyWithSibling(id, "stuck"))
	})
	api, _ := newTestAPIWith(t, up, time.Minute, Options{Timeout: 300 * time.Millisecond})
	for _, accept := range []string{"multipart/mixed;deferSpec=20220824", "multipart/mixed;incrementalSpec=v0.2"} {
		got := mustStream(t, api.URL, accept, `{ contract(id: "c1") { id history { tickets { customer { contracts { id ... @defer { history { tickets { id } } } } } } } } }`, nil)
		codes := map[string]bool{}
		for _, e := range got.errors {
			codes[e] = true
		}
		if !slices.ContainsFunc(got.errors, func(e string) bool {
			return strings.Contains(e, CodeOperationTime) || strings.Contains(e, CodeUpstreamTimeout)
		}) {
			t.Errorf("%s: errors %v, want the deadline's", accept, got.errors)
		}
	}
}

// decoded is an answer's data, and its errors as "path code" strings, sorted.
type decoded struct {
	data   map[string]any
	errors []string
}

func decodeAnswer(t *testing.T, body string) decoded {
	t.Helper()
	var r struct {
		Data   map[string]any `json:"data"`
		Errors []gqlErr       `json:"errors"`
	}
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatalf("%s: %v", body, err)
	}
	return decoded{data: r.Data, errors: errorKeys(r.Errors)}
}

type gqlErr struct {
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

func errorKeys(errs []gqlErr) []string {
	var out []string
	for _, e := range errs {
		out = append(out, fmt.Sprint(e.Path, " ", e.Extensions["code"]))
	}
	sort.Strings(out)
	return out
}

// postWhole posts query and decodes its JSON answer.
func postWhole(t *testing.T, api, query string, vars map[string]any) decoded {
	t.Helper()
	return decodeAnswer(t, httpPost(t, api, "tok", query, vars, nil).body)
}

// wholeAnswer is the answer to q without @defer.
func (q deferQuery) wholeAnswer(t *testing.T, api string) decoded {
	t.Helper()
	if q.whole != "" {
		return postWhole(t, api, q.whole, nil)
	}
	return postWhole(t, api, withoutDeferText(q.query), q.vars)
}

// withoutDeferText is query without its @defer directives.
func withoutDeferText(query string) string {
	for _, d := range []string{` @defer(label: "history")`, ` @defer(label: "tags")`, ` @defer(if: $d)`, ` @defer`} {
		query = strings.ReplaceAll(query, d, "")
	}
	return query
}

// streamed is a multipart answer merged as a client merges it.
type streamed struct {
	decoded
	first map[string]any // the first part's data
	parts int
}

// mustStream posts query accepting accept, reads the multipart answer with mime/multipart
// and merges its parts in the form its Content-Type names: deferSpec=20220824 by path and
// label, incrementalSpec=v0.2 by the ids of pending fragments. It fails on a part after
// hasNext: false, on a fragment never completed, and on an answer that does not end.
func mustStream(t *testing.T, api, accept, query string, vars map[string]any) streamed {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, api, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", accept)
	req.Header.Set("Authorization", "Bearer tok")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	media, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if media == "application/json" && strings.Contains(accept, "application/json") && resp.StatusCode == http.StatusOK {
		// A whole answer, as a client that takes JSON too may get (from the response cache).
		b, _ := io.ReadAll(resp.Body)
		d := decodeAnswer(t, string(b))
		return streamed{decoded: d, first: d.data, parts: 1}
	}
	var payloads [][]byte
	switch {
	case err != nil || resp.StatusCode != http.StatusOK:
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("%d %s: %s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	case media == "multipart/mixed":
		if want := strings.Contains(accept, "v0.2"); (params["incrementalspec"] == "v0.2") != want {
			t.Fatalf("Content-Type %s for Accept %s", resp.Header.Get("Content-Type"), accept)
		}
		mr := multipart.NewReader(resp.Body, params["boundary"])
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("part %d: %v", len(payloads), err)
			}
			if ct := p.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Fatalf("part %d: Content-Type %q", len(payloads), ct)
			}
			b, _ := io.ReadAll(p)
			payloads = append(payloads, b)
		}
	case media == "text/event-stream":
		payloads = mustEvents(t, resp.Body)
	default:
		t.Fatalf("Content-Type %s", resp.Header.Get("Content-Type"))
	}
	v02 := strings.Contains(accept, "v0.2")
	var (
		s       streamed
		errs    []gqlErr
		pending = map[string][]any{}
		done    bool
	)
	for _, payload := range payloads {
		if done {
			t.Fatalf("part %d after hasNext: false", s.parts)
		}
		var pl struct {
			Data    map[string]any `json:"data"`
			Errors  []gqlErr       `json:"errors"`
			HasNext *bool          `json:"hasNext"`
			Pending []struct {
				ID   string `json:"id"`
				Path []any  `json:"path"`
			} `json:"pending"`
			Incremental []struct {
				ID     string         `json:"id"`
				Data   map[string]any `json:"data"`
				Path   []any          `json:"path"`
				Errors []gqlErr       `json:"errors"`
			} `json:"incremental"`
			Completed []struct {
				ID     string   `json:"id"`
				Errors []gqlErr `json:"errors"`
			} `json:"completed"`
		}
		if err := json.Unmarshal(payload, &pl); err != nil {
			t.Fatalf("part %d: %v", s.parts, err)
		}
		if s.parts == 0 {
			s.data, s.first = pl.Data, clone(pl.Data)
		}
		s.parts++
		errs = append(errs, pl.Errors...)
		for _, pd := range pl.Pending {
			if !v02 {
				t.Fatalf("pending in deferSpec=20220824")
			}
			pending[pd.ID] = pd.Path
		}
		for _, inc := range pl.Incremental {
			path := inc.Path
			if v02 {
				var ok bool
				if path, ok = pending[inc.ID]; !ok {
					t.Fatalf("incremental for %q, which is not pending", inc.ID)
				}
			}
			mergeAt(t, s.data, path, inc.Data)
			errs = append(errs, inc.Errors...)
		}
		for _, c := range pl.Completed {
			if _, ok := pending[c.ID]; !ok {
				t.Fatalf("completed %q, which is not pending", c.ID)
			}
			delete(pending, c.ID)
			errs = append(errs, c.Errors...)
		}
		done = pl.HasNext == nil || !*pl.HasNext
	}
	if !done || len(pending) > 0 {
		t.Fatalf("the answer ended with hasNext %v and %d fragments pending", !done, len(pending))
	}
	s.errors = errorKeys(errs)
	return s
}

// mustEvents reads a stream of server-sent events as GraphQL over SSE has it: the data of each
// next event, then one complete event that ends it.
func mustEvents(t *testing.T, r io.Reader) [][]byte {
	t.Helper()
	raw, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	var payloads [][]byte
	events := strings.Split(string(raw), "\n\n")
	if last := events[len(events)-1]; last != "" {
		t.Fatalf("the stream does not end with a whole event: %q", last)
	}
	events = events[:len(events)-1]
	for i, e := range events {
		name, data, ok := strings.Cut(e, "\ndata: ")
		switch {
		case !ok:
			t.Fatalf("event %d without data: %q", i, e)
		case name == "event: next" && i < len(events)-1:
			payloads = append(payloads, []byte(data))
		case name == "event: complete" && i == len(events)-1 && data == "":
		default:
			t.Fatalf("event %d of %d: %q", i, len(events), e)
		}
	}
	return payloads
}

// mergeAt merges data into the object at path of into, as clients do (deeply).
func mergeAt(t *testing.T, into map[string]any, path []any, data map[string]any) {
	t.Helper()
	var at any = into
	for _, p := range path {
		switch p := p.(type) {
		case string:
			at = obj(at)[p]
		case float64:
			at = list(at)[int(p)]
		}
	}
	target := obj(at)
	if target == nil {
		t.Fatalf("nothing to merge into at %v", path)
	}
	deepMerge(target, data)
}

func deepMerge(into, from map[string]any) {
	for k, v := range from {
		if m, ok := v.(map[string]any); ok {
			if old, ok := into[k].(map[string]any); ok {
				deepMerge(old, m)
				continue
			}
		}
		if l, ok := v.([]any); ok {
			if old, ok := into[k].([]any); ok && len(old) == len(l) {
				for i := range l {
					if a, ok := old[i].(map[string]any); ok {
						if b, ok := l[i].(map[string]any); ok {
							deepMerge(a, b)
							continue
						}
					}
					old[i] = l[i]
				}
				continue
			}
		}
		into[k] = v
	}
}

func clone(m map[string]any) map[string]any {
	b, _ := json.Marshal(m)
	var out map[string]any
	json.Unmarshal(b, &out)
	return out
}

func mustJSON(v any) string {
	b, _ := json.MarshalIndent(v, "", " ")
	return string(b)
}

// The fields gqlgen defers are those concurrentFields derives from the resolvers: its
// generated code resolves exactly those with ResolveConcurrently.
func TestConcurrentFieldsAreGqlgens(t *testing.T) {
	var generated []string
	object, field := "", ""
	for _, line := range strings.Split(string(mustReadFile(t, "generated.go")), "\n") {
		if m := objectFunc.FindStringSubmatch(line); m != nil {
			object = m[1]
		}
		if m := fieldCase.FindStringSubmatch(line); m != nil {
			field = m[1]
		}
		if strings.Contains(line, "out.ResolveConcurrently(") {
			generated = append(generated, object+"."+field)
		}
	}
	derived := slices.Collect(maps.Keys(concurrentFields))
	slices.Sort(generated)
	slices.Sort(derived)
	if !slices.Equal(generated, derived) || len(derived) == 0 {
		t.Errorf("concurrentFields %v, generated.go resolves %v concurrently", derived, generated)
	}
}

var (
	objectFunc = regexp.MustCompile(`^func \(ec \*executionContext\) _(\w+)\(ctx context\.Context, sel ast\.SelectionSet`)
	fieldCase  = regexp.MustCompile(`^\s*case "(\w+)":`)
)

// TestWithoutDeferLeavesTheDocument: dropping @defer for one request copies what it changes;
// the parsed document, shared through the query cache, keeps its directives. Over HTTP: the
// same text answered whole, then in parts.
func TestWithoutDeferLeavesTheDocument(t *testing.T) {
	api, _ := newTestAPI(t, demoUpstream(t), 0) // no response cache: each answer is executed
	q := deferQueries[1]
	for range 2 {
		postWhole(t, api.URL, q.query, q.vars)
		if s := mustStream(t, api.URL, "multipart/mixed", q.query, q.vars); s.parts < 2 {
			t.Fatalf("%d parts after a JSON answer to the same text: its @defer was lost", s.parts)
		}
	}
	doc, errs := gqlparser.LoadQuery(parsedSchema, q.query)
	if errs != nil {
		t.Fatal(errs)
	}
	rc := &graphql.OperationContext{Doc: doc, Operation: doc.Operations[0]}
	format := func(doc *ast.QueryDocument) string {
		var b bytes.Buffer
		formatter.NewFormatter(&b).FormatQueryDocument(doc)
		return b.String()
	}
	before := format(doc)
	withoutDefer(rc)
	if format(doc) != before || strings.Contains(format(rc.Doc), "@defer") || rc.Doc == doc || !hasDefer(doc, doc.Operations[0]) {
		t.Error("withoutDefer changed the document it was given")
	}
	if hasDefer(rc.Doc, rc.Operation) || !slices.Contains(rc.Doc.Operations, rc.Operation) {
		t.Errorf("withoutDefer left a @defer, or an operation outside its document")
	}
}

// BenchmarkHasDefer is what every executed operation pays to learn whether it defers: q2,
// every field of a history.
func BenchmarkHasDefer(b *testing.B) {
	doc, errs := gqlparser.LoadQuery(parsedSchema, queries.Q2)
	if errs != nil {
		b.Fatal(errs)
	}
	for b.Loop() {
		if hasDefer(doc, doc.Operations[0]) {
			b.Fatal("q2 defers")
		}
	}
}
