package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
)

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
