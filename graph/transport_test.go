package graph

import (
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
			if l := loadersFrom(ctx); resp != nil && l != nil {
				reportProvenance(resp, l) // extensions, after data
			}
			return resp
		})
		srv := httptest.NewServer(withLoaders(client, NewAuthenticator("", []byte("k")), Options{}, gql))
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
		{"text/html", `{"query":"{ contract(id: \"1\") { id "}`, true},
		{"application/json", `{"variables":{}}`, true},
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
