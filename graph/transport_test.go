package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/transport"

	"github.com/enneo-facade/facade/upstream"
	"github.com/enneo-facade/facade/upstream/demo"
)

// TestPostAnswersAsGqlgensPost sends the same requests to gqlgen's POST transport and to post:
// status, content type and (decoded) body must agree, for answers with data, with errors, and
// for requests that are not GraphQL at all, but for post's two departures where a request fails
// before execution (GraphQL over HTTP): no data entry, and 200 instead of 422 for
// application/json (and the body of a request that is not JSON is not quoted back: see
// TestPostDoesNotQuoteTheBody).
func TestPostAnswersAsGqlgensPost(t *testing.T) {
	up := newTestUpstream(t, func(w http.ResponseWriter, r *http.Request, id string) {
		if id == "404" {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		w.Write(demo.ExampleHistory())
	})
	client, err := upstream.New(upstream.Options{BaseURL: up.srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	newServer := func(ours bool) *httptest.Server {
		gql := handler.New(NewExecutableSchema(Config{Resolvers: &Resolver{}}))
		if ours {
			gql.AddTransport(post{})
		} else {
			gql.AddTransport(transport.POST{})
		}
		gql.SetErrorPresenter(ErrorPresenter(slog.New(slog.DiscardHandler)))
		gql.AroundResponses(func(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
			resp := next(ctx)
			if q := requestFrom(ctx); resp != nil && q != nil {
				reportProvenance(resp, q) // extensions, after data
			}
			return resp
		})
		srv := httptest.NewServer(withRequest(client, NewAuthenticator("", []byte("k")), Options{}, gql))
		t.Cleanup(srv.Close)
		return srv
	}
	theirs, ours := newServer(false), newServer(true)
	type request struct {
		accept, body    string
		beforeExecution bool
	}
	for _, req := range []request{
		{"", `{"query":"{ contract(id: \"746839\") { id history { tickets { id subject body customer { email } } } } }"}`, false},
		{"application/graphql-response+json", `{"query":"{ a: contract(id: \"746839\") { id } b: contract(id: \"404\") { id } }"}`, false},
		{"application/json", `{"query":"query($id: ID!) { contract(id: $id) { productName } }","variables":{"id":"746839"}}`, false},
		{"", `{"query":"{ contract(id: \"bad id\") { id } }"}`, false},
		{"", `{"query":"mutation { invalidateContractHistory(contractId: \"1\") }"}`, false},
		{"application/json", `{"query":"{ nope }"}`, true},
		{"application/graphql-response+json", `{"query":"{ nope }"}`, true},
		{"application/json", `{"query":"query($id: ID!) { contract(id: $id) { id } }","variables":{"id":[1]}}`, true},
		{"*/*", `{"query":"{ contract(id: \"1\") { id "}`, true},
	} {
		var answers [2]struct {
			status      int
			contentType string
			body        any
		}
		for i, srv := range []*httptest.Server{theirs, ours} {
			r, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(req.body))
			r.Header.Set("Content-Type", "application/json")
			r.Header.Set("Authorization", "Bearer token")
			if req.accept != "" {
				r.Header.Set("Accept", req.accept)
			}
			resp, err := http.DefaultClient.Do(r)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			answers[i].status, answers[i].contentType = resp.StatusCode, resp.Header.Get("Content-Type")
			if err := json.Unmarshal(raw, &answers[i].body); err != nil {
				t.Fatalf("%s: answer is not JSON: %q", req.body, raw)
			}
		}
		if req.beforeExecution {
			want := answers[0].body.(map[string]any)
			if d, ok := want["data"]; !ok || d != nil {
				t.Errorf("%s: gqlgen answered data %v, want null", req.body, d)
			}
			delete(want, "data")
			if answers[0].status == http.StatusUnprocessableEntity && answers[0].contentType == "application/json" {
				answers[0].status = http.StatusOK
				if !strings.Contains(req.body, "query") {
					answers[0].status = http.StatusBadRequest // not a GraphQL request at all
				}
			}
		}
		if !reflect.DeepEqual(answers[0], answers[1]) {
			t.Errorf("%s (Accept %q):\ngqlgen: %+v\npost:   %+v", req.body, req.accept, answers[0], answers[1])
		}
	}
}

// TestRefusals: every request refused before it reaches GraphQL is answered as GraphQL over HTTP
// has it: its status, and a JSON body with one error, its message readable (no HTML escapes),
// its code from the fixed vocabulary, and no data entry.
func TestRefusals(t *testing.T) {
	api, _ := newTestAPI(t, newTestUpstream(t, func(w http.ResponseWriter, r *http.Request, id string) {
		w.Write(historyWithSibling(id, "x"))
	}), 0)
	q := `{"query":"{ contract(id: \"1\") { id } }"}`
	for _, tt := range []struct {
		name, method, contentType, accept, body string
		header                                  http.Header
		status                                  int
		code                                    string
	}{
		{"HTML", "POST", "application/json", "text/html", q, nil, 406, CodeNotAcceptable},
		{"JSON refused by q=0", "POST", "application/json", "application/json;q=0, text/html", q, nil, 406, CodeNotAcceptable},
		{"an upgrade to another protocol", "GET", "", "", "", http.Header{"Connection": {"Upgrade"}, "Upgrade": {"h2c"}}, 400, CodeBadRequest},
		{"a batch", "POST", "application/json", "", "[" + q + "," + q + "]", nil, 400, CodeBadRequest},
		{"application/graphql", "POST", "application/graphql", "", `{ contract(id: "1") { id } }`, nil, 415, CodeUnsupportedMedia},
		{"a form", "POST", "application/x-www-form-urlencoded", "", "query=x", nil, 415, CodeUnsupportedMedia},
		{"no Content-Type", "POST", "", "", q, nil, 415, CodeUnsupportedMedia},
		{"a mutation over GET", "GET", "", "", "", nil, 405, CodeMethodNotAllowed},
		{"PUT", "PUT", "application/json", "", q, nil, 405, CodeMethodNotAllowed},
		{"DELETE", "DELETE", "", "", "", nil, 405, CodeMethodNotAllowed},
		{"no query", "POST", "application/json", "", `{"variables":{}}`, nil, 400, CodeBadRequest},
		{"not JSON", "POST", "application/json", "", `{"query":`, nil, 400, CodeBadRequest},
		{"variables that are not JSON", "GET", "", "", "", nil, 400, CodeBadRequest},
		{"two different documents", "POST", "application/json", "", `{"documentId":"a","doc_id":"b"}`, nil, 400, CodeBadRequest},
		{"an unknown format", "GET", "", "", "", nil, 400, CodeBadUserInput},
	} {
		target := api.URL
		switch tt.name {
		case "a mutation over GET":
			target += "?query=" + url.QueryEscape(`mutation { invalidateContractHistory(contractId: "1") }`)
		case "variables that are not JSON":
			target += "?query=" + url.QueryEscape(`{ __typename }`) + "&variables=%7B"
		case "an unknown format":
			target += "?query=" + url.QueryEscape(`{ __typename }`) + "&format=xml"
		case "an upgrade to another protocol":
			target += "?query=" + url.QueryEscape(`{ __typename }`)
		}
		req, _ := http.NewRequest(tt.method, target, strings.NewReader(tt.body))
		for k, v := range tt.header {
			req.Header[k] = v
		}
		if tt.contentType != "" {
			req.Header.Set("Content-Type", tt.contentType)
		}
		if tt.accept != "" {
			req.Header.Set("Accept", tt.accept)
		}
		req.Header.Set("Authorization", "Bearer token")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var body struct {
			Data   *json.RawMessage `json:"data"`
			Errors []struct {
				Message    string
				Extensions map[string]any
			}
		}
		err = json.Unmarshal(raw, &body)
		switch {
		case resp.StatusCode != tt.status || resp.Header.Get("Content-Type") != "application/json":
			t.Errorf("%s: %d %s, want %d application/json", tt.name, resp.StatusCode, resp.Header.Get("Content-Type"), tt.status)
		case err != nil || len(body.Errors) != 1 || body.Data != nil || strings.Contains(string(raw), `"data"`):
			t.Errorf("%s: body %s, want one error and no data", tt.name, raw)
		case body.Errors[0].Extensions["code"] != tt.code || body.Errors[0].Message == "":
			t.Errorf("%s: %s, want code %s", tt.name, raw, tt.code)
		}
	}

	// Messages are written as they read: "Bearer <token>", not \u003ctoken\u003e.
	for _, auth := range []string{"", "Basic x"} {
		req, _ := http.NewRequest(http.MethodPost, api.URL, strings.NewReader(q))
		req.Header.Set("Content-Type", "application/json")
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(raw), "Bearer <token>") || strings.Contains(string(raw), `\u003c`) {
			t.Errorf("Authorization %q: %s, want the message as it reads", auth, raw)
		}
	}
}

// TestPostDoesNotQuoteTheBody: a body that is not JSON may still carry a token or personal data
// in what would have been its variables; the answer names the problem, never the body.
func TestPostDoesNotQuoteTheBody(t *testing.T) {
	api, logs := newTestAPI(t, newTestUpstream(t, func(http.ResponseWriter, *http.Request, string) {}), 0)
	for _, body := range []string{
		`{"query":"{ contract(id: $id) { id } }","variables":{"iban":"DE89370400440532013000"`,
		`iban=DE89370400440532013000&token=Bearer-hush`,
		`{"query": 1, "variables": {"email": "jane@example.com"}}`,
		`["jane@example.com"]`,
	} {
		resp, err := http.Post(api.URL, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(raw), "the request body") {
			t.Errorf("POST %q = %d %s, want 400 naming the problem", body, resp.StatusCode, raw)
		}
		for _, secret := range []string{"DE89370400440532013000", "hush", "jane@example.com"} {
			if strings.Contains(string(raw), secret) || strings.Contains(logs.String(), secret) {
				t.Errorf("POST %q: the answer or the log quotes %q: %s", body, secret, raw)
			}
		}
	}
}

// TestGetRunsQueriesOnly: GET answers queries as POST does, and a mutation with 405 (GraphQL
// over HTTP), before it runs.
func TestGetRunsQueriesOnly(t *testing.T) {
	up := newTestUpstream(t, func(w http.ResponseWriter, r *http.Request, id string) {
		w.Write(historyWithSibling(id, "x"))
	})
	api, _ := newTestAPIWith(t, up, 0, Options{AdminToken: "admin", Invalidator: noInvalidator{}})
	for _, tt := range []struct {
		query, token string
		status       int
		want         string
	}{
		{`{ contract(id: "1") { id } }`, "token", http.StatusOK, `"contract":{"id":"1"}`},
		{`mutation { invalidateContractHistory(contractId: "1") }`, "admin", http.StatusMethodNotAllowed, "only queries"},
		{`{ nope }`, "token", http.StatusOK, "GRAPHQL_VALIDATION_FAILED"},
	} {
		req, _ := http.NewRequest(http.MethodGet, api.URL+"?query="+url.QueryEscape(tt.query), nil)
		req.Header.Set("Authorization", "Bearer "+tt.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.status || !strings.Contains(string(raw), tt.want) {
			t.Errorf("GET %s: %d %s, want %d with %s", tt.query, resp.StatusCode, raw, tt.status, tt.want)
		}
	}
}

type noInvalidator struct{}

func (noInvalidator) Invalidate(context.Context, string) error { return nil }

// TestQueriesOverEventStream: a client that takes only server-sent events (graphql-sse's, in
// distinct connections mode) gets every answer as one next event and a complete event, over
// POST and GET, errors before execution included.
func TestQueriesOverEventStream(t *testing.T) {
	api, _ := newTestAPI(t, newTestUpstream(t, func(w http.ResponseWriter, r *http.Request, id string) {
		w.Write(historyWithSibling(id, "x"))
	}), 0)
	for _, tt := range []struct {
		name, method, query, want string
	}{
		{"a query", "POST", `{ contract(id: "1") { id } }`, `{"data":{"contract":{"id":"1"}}`},
		{"over GET", "GET", `{ contract(id: "1") { id } }`, `{"data":{"contract":{"id":"1"}}`},
		{"a validation error", "POST", `{ nope }`, `"code":"GRAPHQL_VALIDATION_FAILED"`},
		{"a parse error", "GET", `{ contract(`, `"code":"GRAPHQL_PARSE_FAILED"`},
	} {
		var req *http.Request
		if tt.method == "GET" {
			req, _ = http.NewRequest(http.MethodGet, api.URL+"?query="+url.QueryEscape(tt.query), nil)
		} else {
			body, _ := json.Marshal(map[string]string{"query": tt.query})
			req, _ = http.NewRequest(http.MethodPost, api.URL, bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
		}
		req.Header.Set("Accept", "text/event-stream")
		req.Header.Set("Authorization", "Bearer token")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream; charset=utf-8" {
			t.Errorf("%s: %d %s, want 200 text/event-stream", tt.name, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		payloads := mustEvents(t, resp.Body)
		resp.Body.Close()
		if len(payloads) != 1 || !strings.Contains(string(payloads[0]), tt.want) {
			t.Errorf("%s: %q, want one next event with %s", tt.name, payloads, tt.want)
		}
	}
}
