package graph

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/enneo-facade/facade/upstream"
	"github.com/enneo-facade/facade/upstream/cache"
	"github.com/enneo-facade/facade/upstream/demo"
)

// demoUpstream serves the demo upstream's generated histories over real HTTP, counting calls.
func demoUpstream(t *testing.T) *testUpstream {
	h := demo.NewHandler()
	return newTestUpstream(t, func(w http.ResponseWriter, r *http.Request, _ string) { h.ServeHTTP(w, r) })
}

// newMemCachedAPI serves the /graphql handler with an in-process cache (fresh for a minute)
// and the response cache in front of up; the mutation takes the token "admin-token".
func newMemCachedAPI(t *testing.T, up *testUpstream) (*httptest.Server, *cache.Cache) {
	t.Helper()
	return newMemCachedAPIWith(t, up, Options{})
}

// newMemCachedAPIWith is newMemCachedAPI with more handler options.
func newMemCachedAPIWith(t *testing.T, up *testUpstream, o Options) (*httptest.Server, *cache.Cache) {
	t.Helper()
	client, err := upstream.New(upstream.Options{BaseURL: up.srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	histories, err := cache.New(client, cache.NewMemoryStore(64<<20), cache.Options{TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(histories.Close)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	o.Invalidator, o.Changes, o.AdminToken = histories, histories, "admin-token"
	api := httptest.NewServer(NewHandler(histories, NewAuthenticator("", []byte("test-secret")), o, log))
	t.Cleanup(api.Close)
	return api, histories
}

// reply is an HTTP answer of /graphql.
type reply struct {
	status int
	header http.Header
	body   string
}

// httpGet sends query (and vars) with GET, with the extra URL parameters and headers given.
func httpGet(t *testing.T, api, token, query string, vars map[string]any, params url.Values, header http.Header) reply {
	t.Helper()
	v := url.Values{"query": {query}}
	if vars != nil {
		b, _ := json.Marshal(vars)
		v.Set("variables", string(b))
	}
	for k, vs := range params {
		v[k] = vs
	}
	req, _ := http.NewRequest(http.MethodGet, api+"?"+v.Encode(), nil)
	return exchange(t, req, token, header)
}

// httpPost sends query with POST and the headers given.
func httpPost(t *testing.T, api, token, query string, vars map[string]any, header http.Header) reply {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, api, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	return exchange(t, req, token, header)
}

func exchange(t *testing.T, req *http.Request, token string, header http.Header) reply {
	t.Helper()
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

// jsonData returns the data of a JSON reply, numbers as they are written.
func jsonData(t *testing.T, a reply) map[string]any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(a.body))
	dec.UseNumber()
	var r struct {
		Data   map[string]any `json:"data"`
		Errors []any          `json:"errors"`
	}
	if err := dec.Decode(&r); err != nil || a.status != http.StatusOK || len(r.Errors) > 0 || r.Data == nil {
		t.Fatalf("JSON reply %d %s: %v", a.status, a.body, err)
	}
	return r.Data
}

// The test's own reading of JSON values, for the rows it expects.
func obj(v any) map[string]any { m, _ := v.(map[string]any); return m }
func list(v any) []any         { l, _ := v.([]any); return l }

func text(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case json.Number:
		return string(v)
	case bool:
		return strconv.FormatBool(v)
	case []any:
		parts := make([]string, len(v))
		for i, e := range v {
			parts[i] = text(e)
		}
		return strings.Join(parts, ";")
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// Each CSV reply is read back with encoding/csv and compared with rows the test builds from the
// JSON reply to the same query, with loops written for each query's shape.
func TestCSVMatchesTheJSONAnswer(t *testing.T) {
	api, _ := newMemCachedAPI(t, demoUpstream(t))
	cases := []struct {
		name   string
		query  string
		vars   map[string]any
		header []string
		rows   func(data map[string]any) [][]string
	}{{
		name: "a list of contracts, their tickets and the tickets' intents, with aliases and lists of scalars",
		query: `query($ids: [ID!]!) { contracts(ids: $ids) { cid: id productName
			history { tickets(first: 4) { id subject bodyPlain createdAt intents { code intentTags: tags } } } } }`,
		vars: map[string]any{"ids": []string{"746839", "empty", "100001"}},
		header: []string{"cid", "productName", "history.tickets.id", "history.tickets.subject", "history.tickets.bodyPlain",
			"history.tickets.createdAt", "history.tickets.intents.code", "history.tickets.intents.intentTags"},
		rows: func(data map[string]any) [][]string {
			var rows [][]string
			for _, c := range list(data["contracts"]) {
				contract := []string{text(obj(c)["cid"]), text(obj(c)["productName"])}
				tickets := list(obj(obj(c)["history"])["tickets"])
				if len(tickets) == 0 {
					rows = append(rows, append(contract, "", "", "", "", "", ""))
				}
				for _, tk := range tickets {
					m := obj(tk)
					ticket := append(slices.Clone(contract), text(m["id"]), text(m["subject"]), text(m["bodyPlain"]), text(m["createdAt"]))
					if len(list(m["intents"])) == 0 {
						rows = append(rows, append(ticket, "", ""))
					}
					for _, in := range list(m["intents"]) {
						rows = append(rows, append(slices.Clone(ticket), text(obj(in)["code"]), text(obj(in)["intentTags"])))
					}
				}
			}
			return rows
		},
	}, {
		name:   "one contract's tickets with their customer and tags (JSON values as JSON)",
		query:  `{ contract(id: "746839") { id history { tickets { id customer { firstname lastname } tags { name properties } } } } }`,
		header: []string{"id", "history.tickets.id", "history.tickets.customer.firstname", "history.tickets.customer.lastname", "history.tickets.tags.name", "history.tickets.tags.properties"},
		rows: func(data map[string]any) [][]string {
			var rows [][]string
			c := obj(data["contract"])
			for _, tk := range list(obj(c["history"])["tickets"]) {
				m := obj(tk)
				ticket := []string{text(c["id"]), text(m["id"]), text(obj(m["customer"])["firstname"]), text(obj(m["customer"])["lastname"])}
				if len(list(m["tags"])) == 0 {
					rows = append(rows, append(ticket, "", ""))
				}
				for _, tag := range list(m["tags"]) {
					props, _ := json.Marshal(obj(tag)["properties"]) // a JSON value: its JSON text
					rows = append(rows, append(slices.Clone(ticket), text(obj(tag)["name"]), string(props)))
				}
			}
			return rows
		},
	}, {
		name:   "historyStats rows",
		query:  `{ historyStats(contractIds: ["746839", "100001", "C-1001"], now: "2024-06-01T00:00:00Z") { rows { contractId stats { count open timeToClose { medianSeconds p90Seconds } dueBreaches { openOverdue } } } } }`,
		header: []string{"rows.contractId", "rows.stats.count", "rows.stats.open", "rows.stats.timeToClose.medianSeconds", "rows.stats.timeToClose.p90Seconds", "rows.stats.dueBreaches.openOverdue"},
		rows: func(data map[string]any) [][]string {
			var rows [][]string
			for _, r := range list(obj(data["historyStats"])["rows"]) {
				s := obj(obj(r)["stats"])
				ttc := obj(s["timeToClose"])
				rows = append(rows, []string{text(obj(r)["contractId"]), text(s["count"]), text(s["open"]),
					text(ttc["medianSeconds"]), text(ttc["p90Seconds"]), text(obj(s["dueBreaches"])["openOverdue"])})
			}
			return rows
		},
	}, {
		name:   "buckets of one contract",
		query:  `{ contract(id: "100001") { history { stats { byStatus { key n: count } } } } }`,
		header: []string{"history.stats.byStatus.key", "history.stats.byStatus.n"},
		rows: func(data map[string]any) [][]string {
			var rows [][]string
			for _, b := range list(obj(obj(obj(data["contract"])["history"])["stats"])["byStatus"]) {
				rows = append(rows, []string{text(obj(b)["key"]), text(obj(b)["n"])})
			}
			return rows
		},
	}, {
		name:   "a scalar",
		query:  `{ __typename }`,
		header: []string{"__typename"},
		rows:   func(data map[string]any) [][]string { return [][]string{{text(data["__typename"])}} },
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want := c.rows(jsonData(t, httpPost(t, api.URL, "alice-token", c.query, c.vars, nil)))
			if len(want) == 0 {
				t.Fatal("the JSON reply has no rows: the case shows nothing")
			}
			for _, via := range []struct {
				name string
				send func() reply
			}{
				{"GET ?format=csv", func() reply {
					return httpGet(t, api.URL, "alice-token", c.query, c.vars, url.Values{"format": {"csv"}}, nil)
				}},
				{"POST Accept: text/csv", func() reply {
					return httpPost(t, api.URL, "alice-token", c.query, c.vars, http.Header{"Accept": {"text/csv"}})
				}},
			} {
				a := via.send()
				if a.status != http.StatusOK || a.header.Get("Content-Type") != "text/csv; charset=utf-8; header=present" {
					t.Fatalf("%s: %d %s %s", via.name, a.status, a.header.Get("Content-Type"), a.body)
				}
				if !utf8.ValidString(a.body) || !strings.HasSuffix(a.body, "\r\n") {
					t.Errorf("%s: not UTF-8 lines ending in CRLF: %q", via.name, a.body)
				}
				r := csv.NewReader(strings.NewReader(a.body))
				r.FieldsPerRecord = len(c.header)
				records, err := r.ReadAll()
				if err != nil {
					t.Fatalf("%s: %v in %q", via.name, err, a.body)
				}
				if !slices.Equal(records[0], c.header) {
					t.Errorf("%s: header %q, want %q", via.name, records[0], c.header)
				}
				if got := records[1:]; !slices.EqualFunc(got, want, slices.Equal) {
					t.Errorf("%s: rows\n%q\nwant\n%q", via.name, got, want)
				}
			}
		})
	}
}

// The demo's texts need RFC 4180's quoting: commas and line breaks within one quoted field,
// the line breaks as they are. (TestCSVMatchesTheJSONAnswer reads them back whole.)
func TestCSVQuotesText(t *testing.T) {
	api, _ := newMemCachedAPI(t, demoUpstream(t))
	q := `{ contract(id: "746839") { history { tickets(first: 3) { bodyPlain } } } }`
	a := httpGet(t, api.URL, "alice-token", q, nil, url.Values{"format": {"csv"}}, nil)
	if !strings.HasPrefix(a.body, "history.tickets.bodyPlain\r\n\"Sehr geehrte Damen und Herren,\n\ngibt es für mich") {
		t.Fatalf("a body with a comma and line breaks is not one quoted field: %q", a.body)
	}
}

// TestCSVKeepsValuesAsTheyAre: records end with CR LF (RFC 4180), and a value's own line breaks
// stay as the JSON answer has them, so that a table read back (encoding/csv here, pandas in CI)
// holds the same text. csv.Writer's UseCRLF wrote every LF inside a value as CR LF.
func TestCSVKeepsValuesAsTheyAre(t *testing.T) {
	api, _ := newMemCachedAPI(t, demoUpstream(t))
	q := `query($ids: [ID!]!) { contracts(ids: $ids) { history { tickets { id bodyPlain } } } }`
	vars := map[string]any{"ids": []string{"746839", "100001", "100002"}}
	want := map[string]string{}
	for _, c := range list(jsonData(t, httpPost(t, api.URL, "tok", q, vars, nil))["contracts"]) {
		for _, tk := range list(obj(obj(c)["history"])["tickets"]) {
			want[text(obj(tk)["id"])] = text(obj(tk)["bodyPlain"])
		}
	}
	a := httpPost(t, api.URL, "tok", q, vars, http.Header{"Accept": {"text/csv"}})
	r := csv.NewReader(strings.NewReader(a.body))
	records, err := r.ReadAll()
	if err != nil || len(records) != len(want)+1 {
		t.Fatalf("%d records (%v), want %d: %q", len(records), err, len(want)+1, a.body)
	}
	multiLine := 0
	for _, rec := range records[1:] {
		id, body := rec[0], rec[1]
		if body != want[id] {
			t.Errorf("ticket %s: bodyPlain read back %q, want %q", id, body, want[id])
		}
		if strings.Contains(body, "\n") {
			multiLine++
			if quoted := `"` + strings.ReplaceAll(body, `"`, `""`) + `"` + "\r\n"; !strings.Contains(a.body, quoted) {
				t.Errorf("ticket %s: the table does not hold its text as it is, ended by CR LF: %q", id, body)
			}
		}
	}
	if multiLine < 8 {
		t.Errorf("%d multi-line values, want at least 8 to show it", multiLine)
	}
	if n := strings.Count(a.body, "\r\n"); n != len(records) {
		t.Errorf("%d CR LF in the table, want one per record (%d)", n, len(records))
	}
}

func TestCSVRefusals(t *testing.T) {
	up := demoUpstream(t)
	api, _ := newMemCachedAPI(t, up)
	cases := []struct {
		name, query string
		method      string
		params      url.Values
		status      int
		code        string
		message     string // a part of it
		calls       bool   // whether it may reach the upstream
	}{
		{"two root fields", `{ a: contract(id: "1") { id } b: contract(id: "2") { id } }`, "GET", nil,
			http.StatusBadRequest, CodeBadUserInput, "selects 2 (a, b)", false},
		{"two lists side by side", `{ contract(id: "1") { history { tickets { tags { name } intents { code } } } } }`, "POST", nil,
			http.StatusBadRequest, CodeBadUserInput, "both history.tickets.tags and history.tickets.intents", false},
		{"lists side by side under objects", `{ historyStats(contractIds: ["1"]) { totals { byStatus { key } } rows { contractId } } }`, "GET", nil,
			http.StatusBadRequest, CodeBadUserInput, "both totals.byStatus and rows", false},
		{"an invalid query", `{ contract(id: "1") { nope } }`, "GET", nil,
			http.StatusBadRequest, "GRAPHQL_VALIDATION_FAILED", "nope", false},
		{"a contract that is not found", `{ contract(id: "not-found") { id } }`, "GET", nil,
			http.StatusNotFound, CodeNotFound, "contract not found", true},
		{"a failing contract among others", `{ historyStats(contractIds: ["1", "server-error"]) { rows { contractId } } }`, "POST", nil,
			http.StatusBadGateway, CodeUpstreamError, "", true},
		{"an unknown format", `{ __typename }`, "GET", url.Values{"format": {"xml"}},
			http.StatusBadRequest, CodeBadUserInput, "csv or json", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := up.total()
			var a reply
			if c.method == "GET" {
				params := c.params
				if params == nil {
					params = url.Values{"format": {"csv"}}
				}
				a = httpGet(t, api.URL, "alice-token", c.query, nil, params, nil)
			} else {
				a = httpPost(t, api.URL, "alice-token", c.query, nil, http.Header{"Accept": {"text/csv"}})
			}
			var r gqlResponse
			if err := json.Unmarshal([]byte(a.body), &r); err != nil || len(r.Errors) == 0 {
				t.Fatalf("%d %q: want a JSON reply with errors (%v)", a.status, a.body, err)
			}
			if a.status != c.status || !strings.HasPrefix(a.header.Get("Content-Type"), "application/json") {
				t.Errorf("status %d, Content-Type %q; want %d, JSON", a.status, a.header.Get("Content-Type"), c.status)
			}
			if code := r.Errors[0].Extensions["code"]; code != c.code || !strings.Contains(r.Errors[0].Message, c.message) {
				t.Errorf("error %q (%v), want %s with %q", r.Errors[0].Message, code, c.code, c.message)
			}
			if c.method == "GET" && a.header.Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control %q, want no-store", a.header.Get("Cache-Control"))
			}
			if n := up.total() - before; !c.calls && n != 0 {
				t.Errorf("%d upstream calls for a request refused before it runs", n)
			}
		})
	}
	// Over GET a mutation is refused before the format matters.
	a := httpGet(t, api.URL, "admin-token", `mutation { invalidateContractHistory(contractId: "1") }`, nil, url.Values{"format": {"csv"}}, nil)
	if a.status != http.StatusMethodNotAllowed {
		t.Errorf("a mutation over GET as CSV: %d %s, want 405", a.status, a.body)
	}
}

// versionedUpstream answers contract "v" with a subject that names the version it is at.
func versionedUpstream(t *testing.T, version *atomic.Int64) *testUpstream {
	return newTestUpstream(t, func(w http.ResponseWriter, r *http.Request, id string) {
		switch id {
		case "not-found":
			w.WriteHeader(http.StatusNotFound)
		default:
			fmt.Fprintf(w, `{"tickets":[{"id":1,"contractId":%q,"subject":"version %d"}]}`, id, version.Load())
		}
	})
}

var maxAge = regexp.MustCompile(`^private, max-age=(\d+)$`)

func TestGETAnswersAreCacheable(t *testing.T) {
	var version atomic.Int64
	up := versionedUpstream(t, &version)
	api, _ := newMemCachedAPI(t, up)
	const q = `{ contract(id: "v") { history { tickets { id subject } } } }`
	fresh := func(a reply) {
		t.Helper()
		m := maxAge.FindStringSubmatch(a.header.Get("Cache-Control"))
		if m == nil {
			t.Fatalf("Cache-Control %q, want private with a max-age", a.header.Get("Cache-Control"))
		}
		// CACHE_TTL is a minute, plus up to 10% so that entries do not expire together.
		if secs, _ := strconv.Atoi(m[1]); secs < 1 || secs > 66 {
			t.Errorf("max-age %d, want the history's freshness, at most 66 s", secs)
		}
		if !slices.Contains(a.header.Values("Vary"), "Accept, Authorization") {
			t.Errorf("Vary %q, want Accept and Authorization", a.header.Values("Vary"))
		}
	}

	first := httpGet(t, api.URL, "alice-token", q, nil, nil, nil)
	tag := first.header.Get("ETag")
	if first.status != http.StatusOK || !strings.HasPrefix(tag, `W/"`) {
		t.Fatalf("%d, ETag %q: want 200 with a weak ETag", first.status, tag)
	}
	fresh(first)
	// Answered by the response cache this time: the same ETag, as fresh.
	again := httpGet(t, api.URL, "alice-token", q, nil, nil, nil)
	if again.header.Get("ETag") != tag || !strings.Contains(again.body, `"cache":"hit"`) {
		t.Errorf("again: ETag %q, body %s; want %q from the response cache", again.header.Get("ETag"), again.body, tag)
	}
	fresh(again)
	if up.callsFor("v") != 1 {
		t.Fatalf("%d upstream calls, want 1", up.callsFor("v"))
	}

	for _, inm := range []string{tag, `"other", ` + tag, strings.TrimPrefix(tag, "W/"), "*"} {
		a := httpGet(t, api.URL, "alice-token", q, nil, nil, http.Header{"If-None-Match": {inm}})
		if a.status != http.StatusNotModified || a.body != "" || a.header.Get("ETag") != tag {
			t.Errorf("If-None-Match %s: %d %q (ETag %q), want 304 without a body", inm, a.status, a.body, a.header.Get("ETag"))
		}
		fresh(a)
	}
	// The tag of the answer as the HTTP layer encoded it (W/"…-gzip"): the same data.
	for _, encoding := range []string{"-gzip", "-zstd"} {
		held := strings.TrimSuffix(tag, `"`) + encoding + `"`
		a := httpGet(t, api.URL, "alice-token", q, nil, nil, http.Header{"If-None-Match": {held}})
		if a.status != http.StatusNotModified || a.body != "" || a.header.Get("ETag") != held {
			t.Errorf("If-None-Match %s: %d %q (ETag %q), want 304 with the tag held", held, a.status, a.body, a.header.Get("ETag"))
		}
	}
	if a := httpGet(t, api.URL, "alice-token", q, nil, nil, http.Header{"If-None-Match": {strings.TrimSuffix(tag, `"`) + `-br"`}}); a.status != http.StatusOK {
		t.Errorf("an encoding the HTTP layer never makes: %d, want 200", a.status)
	}
	if a := httpGet(t, api.URL, "alice-token", q, nil, nil, http.Header{"If-None-Match": {`W/"other"`}}); a.status != http.StatusOK || a.body == "" {
		t.Errorf("another ETag: %d, want 200 with the reply", a.status)
	}
	// Another caller's reply has an ETag of its own.
	if a := httpGet(t, api.URL, "bob-token", q, nil, nil, http.Header{"If-None-Match": {tag}}); a.status != http.StatusOK || a.header.Get("ETag") == tag {
		t.Errorf("another token with alice's ETag: %d, ETag %q; want 200 and another ETag", a.status, a.header.Get("ETag"))
	}
	// The same data as CSV is another representation.
	csvAnswer := httpGet(t, api.URL, "alice-token", q, nil, url.Values{"format": {"csv"}}, nil)
	csvTag := csvAnswer.header.Get("ETag")
	if csvAnswer.status != http.StatusOK || csvTag == "" || csvTag == tag {
		t.Errorf("CSV: %d, ETag %q; want 200 with an ETag other than JSON's %q", csvAnswer.status, csvTag, tag)
	}
	fresh(csvAnswer)
	if a := httpGet(t, api.URL, "alice-token", q, nil, url.Values{"format": {"csv"}}, http.Header{"If-None-Match": {csvTag}}); a.status != http.StatusNotModified || a.body != "" {
		t.Errorf("CSV with its ETag: %d %q, want 304", a.status, a.body)
	}

	// The history changes and Enneo says so: the mutation's reply is not to be kept, and the
	// old ETag no longer matches.
	version.Store(1)
	m := httpPost(t, api.URL, "admin-token", `mutation { invalidateContractHistory(contractId: "v") }`, nil, nil)
	if m.status != http.StatusOK || m.header.Get("Cache-Control") != "no-store" || !strings.Contains(m.body, `"invalidateContractHistory":true`) {
		t.Fatalf("mutation: %d %q %s, want 200 no-store", m.status, m.header.Get("Cache-Control"), m.body)
	}
	changed := httpGet(t, api.URL, "alice-token", q, nil, nil, http.Header{"If-None-Match": {tag}})
	if changed.status != http.StatusOK || changed.header.Get("ETag") == tag || !strings.Contains(changed.body, "version 1") {
		t.Errorf("after the change: %d, ETag %q, body %s; want 200, a new ETag and version 1", changed.status, changed.header.Get("ETag"), changed.body)
	}

	// Errors are not to be kept, and have no ETag to match.
	e := httpGet(t, api.URL, "alice-token", `{ contract(id: "not-found") { id } }`, nil, nil, http.Header{"If-None-Match": {"*"}})
	if e.status != http.StatusOK || e.header.Get("Cache-Control") != "no-store" || e.header.Get("ETag") != "" || !strings.Contains(e.body, CodeNotFound) {
		t.Errorf("an error: %d, Cache-Control %q, ETag %q, %s; want 200 no-store without an ETag", e.status, e.header.Get("Cache-Control"), e.header.Get("ETag"), e.body)
	}
	if e := httpGet(t, api.URL, "alice-token", `{ contract(id: "v") { nope } }`, nil, nil, nil); e.header.Get("Cache-Control") != "no-store" {
		t.Errorf("an invalid query: Cache-Control %q, want no-store", e.header.Get("Cache-Control"))
	}
	// An reply that needs no history has nothing to be fresh for: asked again, it is
	// revalidated.
	if a := httpGet(t, api.URL, "alice-token", `{ __typename }`, nil, nil, nil); a.header.Get("Cache-Control") != "private, no-cache" || a.header.Get("ETag") == "" {
		t.Errorf("__typename: Cache-Control %q, ETag %q; want private, no-cache with an ETag", a.header.Get("Cache-Control"), a.header.Get("ETag"))
	}
}

// Without a cache a history is fresh for no time.
func TestGETWithoutCacheIsFreshForNoTime(t *testing.T) {
	var version atomic.Int64
	api, _ := newTestAPI(t, versionedUpstream(t, &version), 5*time.Second)
	a := httpGet(t, api.URL, "alice-token", `{ contract(id: "v") { id } }`, nil, nil, nil)
	if a.status != http.StatusOK || a.header.Get("Cache-Control") != "private, max-age=0" || a.header.Get("ETag") == "" {
		t.Errorf("%d, Cache-Control %q, ETag %q; want private, max-age=0 with an ETag", a.status, a.header.Get("Cache-Control"), a.header.Get("ETag"))
	}
	if a := httpGet(t, api.URL, "alice-token", `{ contract(id: "v") { id } }`, nil, nil, http.Header{"If-None-Match": {a.header.Get("ETag")}}); a.status != http.StatusNotModified {
		t.Errorf("with its ETag: %d, want 304", a.status)
	}
}

// responseHits counts the answers of the response cache.
type responseHits struct {
	nopObserver
	n atomic.Int64
}

func (h *responseHits) CacheLookup(layer, result string) {
	if layer == "response" && result == "hit" {
		h.n.Add(1)
	}
}

// What is overdue depends on when it is asked: an aggregate without now is never answered from
// the response cache, and over GET it is to be revalidated; with now it is like any answer.
func TestAggregatesAtTheRequestsTimeAreNotKept(t *testing.T) {
	hits := &responseHits{}
	api, _ := newMemCachedAPIWith(t, demoUpstream(t), Options{Observer: hits})
	for _, c := range []struct {
		query string
		kept  bool
	}{
		{`{ contract(id: "100022") { history { stats { dueBreaches { openOverdue } } } } }`, false},
		{`{ historyStats(contractIds: ["100022"]) { totals { count } } }`, false},
		{`query($now: DateTime) { historyStats(contractIds: ["100022"], now: $now) { totals { count } } }`, false}, // $now unset
		{`{ contract(id: "100022") { history { stats(now: "2025-01-01T00:00:00Z") { dueBreaches { openOverdue } } } } }`, true},
		{`{ historyStats(contractIds: ["100022"], now: 1735689600) { totals { count } } }`, true},
	} {
		before := hits.n.Load()
		var a reply
		for range 2 {
			a = httpGet(t, api.URL, "alice-token", c.query, nil, nil, nil)
		}
		if a.status != http.StatusOK || strings.Contains(a.body, `"errors"`) {
			t.Fatalf("%s: %d %s", c.query, a.status, a.body)
		}
		kept := hits.n.Load() > before
		revalidate := a.header.Get("Cache-Control") == "private, no-cache"
		if kept != c.kept || revalidate == c.kept {
			t.Errorf("%s: answered from the response cache %v, Cache-Control %q; want kept %v", c.query, kept, a.header.Get("Cache-Control"), c.kept)
		}
	}
}
