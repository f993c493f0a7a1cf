package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
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
	"sync/atomic"
	"testing"

	"github.com/enneo-facade/facade/upstream/demo"
)

// The three keys of TestPersonalDataPolicies, one per policy, over the same contracts.
const (
	deskKey = "desk-a2V5IG9mIHRoZSBkZXNr"    // personal=allow
	biKey   = "powerbi-a2V5IG9mIHBvd2VyIGJp" // personal=mask
	opsKey  = "grafana-a2V5IG9mIGdyYWZhbmE"  // personal=deny
)

// everyPersonalField selects personal fields of every kind, at every depth: contracts',
// tickets' senders and recipients, customers (and their contracts), agents, intents,
// attachments, and free text.
const everyPersonalField = `query Everything($ids: [ID!]!) { contracts(ids: $ids) {
	id email firstname lastname iban phone deliveryAddress billingAddress
	history { tickets { id status from fromName to ccEmails replyRecipients { to cc bcc } subject bodyPlain
		customer { id firstname lastname email phone address contracts { id email iban phone firstname lastname } }
		agent { id firstName lastName email phone }
		intents { code recipient messagePreview outcome { recipient message } }
		attachments { name url } } } } }`

// asTable is what a BI tool asks for as CSV: one row per ticket, with its contract's columns.
const asTable = `query Rows($ids: [ID!]!) { contracts(ids: $ids) {
	id email firstname lastname iban phone deliveryAddress
	history { tickets { id from fromName to customer { email phone firstname lastname } agent { email firstName } } } } }`

type personalFacade struct {
	t     *testing.T
	p     *serverProcess
	calls *atomic.Int64 // upstream calls for contracts
	audit string        // the audit log's file
}

// startPersonalFacade runs the facade in service mode over the demo upstream (counting its
// calls) with the three keys, pseudonyms under secret, and an audit log.
func startPersonalFacade(t *testing.T, secret string) *personalFacade {
	calls := &atomic.Int64{}
	demoUp := demo.NewHandler()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/contract/") {
			calls.Add(1)
		}
		demoUp.ServeHTTP(w, r)
	}))
	t.Cleanup(up.Close)
	dir := t.TempDir()
	hash := func(k string) string { return fmt.Sprintf("%x", sha256.Sum256([]byte(k))) }
	keys := filepath.Join(dir, "keys")
	os.WriteFile(keys, []byte("desk sha256:"+hash(deskKey)+"\npowerbi sha256:"+hash(biKey)+" personal=mask\ngrafana sha256:"+hash(opsKey)+" personal=deny\n"), 0o600)
	f := &personalFacade{t: t, calls: calls, audit: filepath.Join(dir, "audit.jsonl")}
	f.p = startProcess(t, map[string]string{
		"UPSTREAM_URL": up.URL, "UPSTREAM_TOKEN": "svc-token", "API_KEYS_FILE": keys,
		"PSEUDONYM_SECRET": secret, "AUDIT_LOG": f.audit, "MAX_CONTRACTS": "1000", "ADMIN_TOKEN": "admin-token",
	})
	return f
}

// post sends query as key and returns the status, the body and its X-Request-Id.
func (f *personalFacade) post(key, accept, query string, vars map[string]any) (int, string, string) {
	f.t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, f.p.base+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Accept", accept)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header.Get("X-Request-Id")
}

// data posts query as key for JSON and returns its data, failing on errors.
func (f *personalFacade) data(key, query string, vars map[string]any) (map[string]any, string) {
	f.t.Helper()
	status, body, id := f.post(key, "application/json", query, vars)
	var out struct {
		Data   map[string]any `json:"data"`
		Errors []any          `json:"errors"`
	}
	if err := json.Unmarshal([]byte(body), &out); err != nil || status != http.StatusOK || out.Errors != nil || out.Data == nil {
		f.t.Fatalf("%d %.600s", status, body)
	}
	return out.Data, id
}

// refusal posts query as key and returns the one error's extensions, failing unless it is
// PERSONAL_DATA_FORBIDDEN without data.
func (f *personalFacade) refusal(key, query string, vars map[string]any) map[string]any {
	f.t.Helper()
	status, body, _ := f.post(key, "application/graphql-response+json", query, vars)
	var out struct {
		Data   any `json:"data"`
		Errors []struct {
			Message    string         `json:"message"`
			Extensions map[string]any `json:"extensions"`
		} `json:"errors"`
	}
	json.Unmarshal([]byte(body), &out)
	if status != http.StatusBadRequest || out.Data != nil || len(out.Errors) != 1 || out.Errors[0].Extensions["code"] != "PERSONAL_DATA_FORBIDDEN" {
		f.t.Fatalf("%s: %d %.600s, want 400 PERSONAL_DATA_FORBIDDEN", key[:4], status, body)
	}
	return out.Errors[0].Extensions
}

// event subscribes as key over server-sent events, has contract id invalidated once subscribed,
// and returns the first event's data and the subscription's request id.
func (f *personalFacade) event(key, subscription, id string) (string, string) {
	f.t.Helper()
	body, _ := json.Marshal(map[string]any{"query": subscription})
	req, _ := http.NewRequestWithContext(f.t.Context(), http.MethodPost, f.p.base+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	lines := bufio.NewScanner(resp.Body)
	for lines.Scan() && lines.Text() != ": subscribed" {
	}
	f.data("admin-token", `mutation Change($id: ID!) { invalidateContractHistory(contractId: $id) }`, map[string]any{"id": id})
	for lines.Scan() {
		if data, ok := strings.CutPrefix(lines.Text(), "data: "); ok && data != "" {
			return data, resp.Header.Get("X-Request-Id")
		}
	}
	f.t.Fatalf("the subscription ended without an event: %v", lines.Err())
	return "", ""
}

// identifier fields and their kinds, by name, as the queries above select them.
var identifierKinds = map[string]string{
	"email": "EMAIL", "from": "EMAIL", "to": "EMAIL", "cc": "EMAIL", "bcc": "EMAIL", "ccEmails": "EMAIL", "recipient": "EMAIL",
	"phone": "PHONE", "iban": "IBAN",
	"firstname": "NAME", "lastname": "NAME", "firstName": "NAME", "lastName": "NAME", "fromName": "NAME",
}

// pair walks an allow answer and a mask answer of the same query side by side and calls f
// with each field's name and its two values (a list's elements one by one).
func pair(allow, mask any, name string, f func(name string, allow, mask any)) {
	switch a := allow.(type) {
	case map[string]any:
		m, _ := mask.(map[string]any)
		for k, v := range a {
			pair(v, m[k], k, f)
		}
	case []any:
		m, _ := mask.([]any)
		for i, v := range a {
			var mv any
			if i < len(m) {
				mv = m[i]
			}
			pair(v, mv, name, f)
		}
	default:
		f(name, allow, mask)
	}
}

var pseudonymRE = regexp.MustCompile(`^masked:[0-9a-f]{16}$`)

// TestPersonalDataPolicies: three API keys read the same contracts, allow, mask and deny. The
// masked answer, as JSON and as CSV, holds none of the e-mail addresses, phone numbers, IBANs
// and names of the allowed one; its pseudonyms are one per value, across contracts and
// requests, and another secret gives others; addresses keep postal code and city, free text is
// null. deny is refused with the fields' paths before any upstream call, as is a text filter
// under mask and deny; the response cache never serves one policy's answer to another; and
// the audit has a line for each operation.
func TestPersonalDataPolicies(t *testing.T) {
	f := startPersonalFacade(t, "first-secret")
	ids := []any{}
	for i := range 12 {
		ids = append(ids, fmt.Sprint(100001+i))
	}
	vars := map[string]any{"ids": ids}

	allowData, allowID := f.data(deskKey, everyPersonalField, vars)
	maskData, maskID := f.data(biKey, everyPersonalField, vars)
	_, maskBody, _ := f.post(biKey, "application/json", everyPersonalField, vars)

	// What the allowed answer holds, and what the masked one made of it.
	raw := map[string]string{}        // raw identifier -> its kind
	pseudonyms := map[string]string{} // raw identifier (normalised by kind) -> its pseudonym
	contractsOf := map[string]map[string]bool{}
	kinds := map[string]int{}
	var freeText, addresses int
	pair(allowData, maskData, "", func(name string, a, m any) {
		s, ok := a.(string)
		if !ok || s == "" {
			return
		}
		switch name {
		case "subject", "bodyPlain", "messagePreview", "message", "url":
			if m != nil {
				t.Errorf("free text %s %.40q is %v under mask, want null", name, s, m)
			}
			freeText++
			return
		case "deliveryAddress", "billingAddress", "address":
			if ms, _ := m.(string); m != nil && (!strings.HasSuffix(s, ms) || !regexp.MustCompile(`^\d{4,5} \S`).MatchString(ms)) {
				t.Errorf("address %q is %v under mask, want its postal code and city", s, m)
			}
			addresses++
			return
		}
		kind, ok := identifierKinds[name]
		if !ok {
			return
		}
		ms, _ := m.(string)
		if !pseudonymRE.MatchString(ms) {
			t.Errorf("%s %q is %v under mask, want masked:<16 hex>", name, s, m)
			return
		}
		key := strings.ToLower(s)
		if kind == "PHONE" {
			key = strings.TrimPrefix(regexp.MustCompile(`\D`).ReplaceAllString(s, ""), "00")
		}
		if p, seen := pseudonyms[key]; seen && p != ms {
			t.Errorf("%s %q is %s here and %s elsewhere: want one pseudonym per value", name, s, ms, p)
		}
		pseudonyms[key], raw[s] = ms, kind
		kinds[kind]++
	})
	for _, kind := range []string{"EMAIL", "PHONE", "IBAN", "NAME"} {
		if kinds[kind] == 0 {
			t.Errorf("no %s was compared: the demo contracts should hold some", kind)
		}
	}
	if freeText == 0 || addresses == 0 {
		t.Errorf("%d free texts, %d addresses compared; want some of each", freeText, addresses)
	}
	// Pseudonyms are one per value: two values never share one.
	byPseudonym := map[string]string{}
	for v, p := range pseudonyms {
		if other, ok := byPseudonym[p]; ok {
			t.Errorf("%q and %q share the pseudonym %s", v, other, p)
		}
		byPseudonym[p] = v
	}
	// Across contracts: agents' addresses recur in several contracts' tickets.
	for _, c := range allowData["contracts"].([]any) {
		k := c.(map[string]any)
		for _, tk := range k["history"].(map[string]any)["tickets"].([]any) {
			if ag, ok := tk.(map[string]any)["agent"].(map[string]any); ok && ag["email"] != nil {
				e := ag["email"].(string)
				if contractsOf[e] == nil {
					contractsOf[e] = map[string]bool{}
				}
				contractsOf[e][k["id"].(string)] = true
			}
		}
	}
	if !slices.ContainsFunc(slices.Collect(func(yield func(int) bool) {
		for _, cs := range contractsOf {
			yield(len(cs))
		}
	}), func(n int) bool { return n > 1 }) {
		t.Error("no agent's address recurs in two contracts: the comparison across contracts tested nothing")
	}

	// No raw identifier of the allowed answer anywhere in the masked one, JSON and CSV.
	_, maskCSV, _ := f.post(biKey, "text/csv", asTable, vars)
	_, allowCSV, _ := f.post(deskKey, "text/csv", asTable, vars)
	leaks := func(what, body string) (found int) {
		for v, kind := range raw {
			re := regexp.QuoteMeta(v)
			if kind == "NAME" {
				re = `\b` + re + `\b` // a name is a word, not part of one
			}
			if regexp.MustCompile(re).MatchString(body) {
				if what != "" {
					t.Errorf("the masked %s holds the %s %q", what, kind, v)
				}
				found++
			}
		}
		return found
	}
	leaks("JSON answer", maskBody)
	leaks("CSV table", maskCSV)
	if !strings.HasPrefix(maskCSV, "id,email,") || strings.Count(maskCSV, "masked:") == 0 {
		t.Errorf("the masked CSV table: %.300s", maskCSV)
	}
	if n := leaks("", allowCSV); n == 0 {
		t.Errorf("the allowed CSV table holds none of the values: the check could not fail\n%.300s", allowCSV)
	}

	// Across requests: one contract asked alone gets the pseudonyms it got among twelve.
	one, _ := f.data(biKey, `query One($id: ID!) { contract(id: $id) { email iban } }`, map[string]any{"id": "100003"})
	all := maskData["contracts"].([]any)[2].(map[string]any)
	if c := one["contract"].(map[string]any); c["email"] != all["email"] || c["iban"] != all["iban"] {
		t.Errorf("contract 100003 alone: %v; among twelve: email %v iban %v", c, all["email"], all["iban"])
	}

	// @defer parts and subscriptions' events are masked as answers are.
	allowOne := allowData["contracts"].([]any)[2].(map[string]any)
	_, deferred, _ := f.post(biKey, "multipart/mixed;deferSpec=20220824", `query Later($id: ID!) { contract(id: $id) { id email ... @defer { history { tickets { from } } } } }`, map[string]any{"id": "100003"})
	var senders []string
	for _, tk := range allowOne["history"].(map[string]any)["tickets"].([]any) {
		if from, ok := tk.(map[string]any)["from"].(string); ok {
			senders = append(senders, from)
		}
	}
	if !strings.Contains(deferred, `"incremental"`) || !strings.Contains(deferred, `"email":"`+all["email"].(string)+`"`) || len(senders) == 0 ||
		slices.ContainsFunc(append(senders, allowOne["email"].(string)), func(s string) bool { return strings.Contains(deferred, s) }) {
		t.Errorf("the deferred parts under mask: %.800s\n(senders %v)", deferred, senders)
	}
	event, subscriptionID := f.event(biKey, `subscription { contractChanged(ids: ["100003"]) { id email iban } }`, "100003")
	if !strings.Contains(event, `"email":"`+all["email"].(string)+`"`) || strings.Contains(event, allowOne["email"].(string)) {
		t.Errorf("the subscription's event under mask: %s (the contract's email %s, masked %s)", event, allowOne["email"], all["email"])
	}

	// deny: refused with the paths, before any upstream call (these contracts were never read).
	fresh := map[string]any{"ids": []any{"100031", "100032"}}
	before := f.calls.Load()
	ext := f.refusal(opsKey, everyPersonalField, fresh)
	paths, _ := ext["paths"].([]any)
	for _, want := range []string{"contracts.email", "contracts.iban", "contracts.history.tickets.from", "contracts.history.tickets.customer.email",
		"contracts.history.tickets.customer.contracts.iban", "contracts.history.tickets.agent.phone", "contracts.history.tickets.subject"} {
		if !slices.Contains(paths, any(want)) {
			t.Errorf("the refusal's paths %v lack %s", paths, want)
		}
	}
	if n := f.calls.Load() - before; n != 0 {
		t.Errorf("the refused operation made %d upstream calls, want 0", n)
	}
	statusOnly := `query Status($ids: [ID!]!) { contracts(ids: $ids) { id status history { tickets { id status agent { id } } } } }`
	denied, deniedID := f.data(opsKey, statusOnly, fresh)
	if n := len(denied["contracts"].([]any)); n != 2 || f.calls.Load() == before {
		t.Errorf("deny's query without personal data: %d contracts, %d upstream calls; want 2 and some", n, f.calls.Load()-before)
	}
	aliased := f.refusal(opsKey, `{ c: contract(id: "100031") { ...who } } fragment who on Contract { status mail: email }`, nil)
	if p, _ := aliased["paths"].([]any); len(p) != 1 || p[0] != "c.mail" {
		t.Errorf("through an alias and a fragment: paths %v, want [c.mail]", p)
	}

	// The text filter tells what free text holds: refused under mask and deny, also as a variable.
	byText := `query ByText($ids: [ID!]!, $f: TicketFilter) { contracts(ids: $ids) { id history { tickets(filter: $f) { id } } } }`
	textFilter := map[string]any{"ids": []any{"100001"}, "f": map[string]any{"text": "Zähler"}}
	for _, key := range []string{biKey, opsKey} {
		ext := f.refusal(key, byText, textFilter)
		if p, _ := ext["paths"].([]any); len(p) != 1 || p[0] != "contracts.history.tickets" {
			t.Errorf("the text filter's refusal names %v, want [contracts.history.tickets]", p)
		}
	}
	f.data(deskKey, byText, textFilter)
	f.data(biKey, byText, map[string]any{"ids": []any{"100001"}, "f": map[string]any{"status": []any{"open"}}})

	// The response cache: an answer kept for allow is never served to mask, nor the reverse.
	cached := `query Holder($id: ID!) { contract(id: $id) { id email iban } }`
	for i, order := range [][]string{{deskKey, biKey}, {biKey, deskKey}} {
		id := map[string]any{"id": fmt.Sprint(100020 + i)}
		first, _ := f.data(order[0], cached, id)
		again, _ := f.data(order[0], cached, id) // from the response cache
		second, _ := f.data(order[1], cached, id)
		a, b := first["contract"].(map[string]any), second["contract"].(map[string]any)
		if fmt.Sprint(again) != fmt.Sprint(first) || a["email"] == b["email"] || a["iban"] == b["iban"] {
			t.Errorf("%s then %s: %v, %v", order[0][:4], order[1][:4], a, b)
		}
		masked := b
		if order[0] == biKey {
			masked = a
		}
		if !pseudonymRE.MatchString(fmt.Sprint(masked["email"])) {
			t.Errorf("the masked holder: %v", masked)
		}
	}

	// Another secret, other pseudonyms for the same values.
	g := startPersonalFacade(t, "second-secret")
	other, _ := g.data(biKey, `query One($id: ID!) { contract(id: $id) { email iban } }`, map[string]any{"id": "100003"})
	if o := other["contract"].(map[string]any); o["email"] == all["email"] || o["iban"] == all["iban"] || !pseudonymRE.MatchString(fmt.Sprint(o["email"])) {
		t.Errorf("under another secret: %v; under the first: email %v iban %v", o, all["email"], all["iban"])
	}

	// The audit: a line per operation that read contracts, with who, which and what unmasked.
	logs := f.p.Logs() // stops the facade: the audit is written out
	lines := auditLines(t, f.audit)
	byRequest := map[string]auditLine{}
	for _, l := range lines {
		byRequest[l.RequestID] = l
	}
	if l := byRequest[allowID]; l.Caller != "desk" || l.Policy != "allow" || l.Operation != "Everything" || len(l.Contracts) < 12 ||
		!slices.Contains(l.Contracts, "100001") || !slices.Equal(l.Personal, []string{"NAME", "EMAIL", "PHONE", "ADDRESS", "IBAN", "FREE_TEXT"}) {
		t.Errorf("the audit line of desk's query: %+v", l)
	}
	if l := byRequest[maskID]; l.Caller != "powerbi" || l.Policy != "mask" || len(l.Contracts) < 12 || len(l.Personal) != 0 {
		t.Errorf("the audit line of powerbi's query: %+v", l)
	}
	if l := byRequest[deniedID]; l.Caller != "grafana" || l.Policy != "deny" || !slices.Equal(l.Contracts, []string{"100031", "100032"}) || len(l.Personal) != 0 {
		t.Errorf("the audit line of grafana's query: %+v", l)
	}
	if l := byRequest[subscriptionID]; l.Caller != "powerbi" || l.Policy != "mask" || !slices.Equal(l.Contracts, []string{"100003"}) {
		t.Errorf("the audit line of powerbi's subscription's event: %+v", l)
	}
	holders := 0
	for _, l := range lines {
		if l.Operation == "Holder" && slices.Equal(l.Contracts, []string{"100020"}) {
			holders++
		}
	}
	if holders != 3 { // desk, desk again from the response cache, powerbi
		t.Errorf("%d audit lines of contract 100020's holder, want 3 (one from the response cache)", holders)
	}
	for _, refused := range []string{"grafana"} {
		for _, l := range lines {
			if l.Caller == refused && l.Operation == "Everything" {
				t.Errorf("a refused operation has an audit line: %+v", l)
			}
		}
	}
	// The request log names no contract; the audit is not in it.
	if strings.Contains(logs, `"msg":"audit"`) || strings.Contains(logs, "100031") {
		t.Errorf("the request log holds audit lines or contract ids:\n%.2000s", logs)
	}
}

type auditLine struct {
	Time, Level, Msg, RequestID, Caller, Policy, Operation string
	Contracts, Personal                                    []string
}

// auditLines reads the audit log at path: every line must be one of its JSON objects.
func auditLines(t *testing.T, path string) []auditLine {
	t.Helper()
	file, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	var lines []auditLine
	s := bufio.NewScanner(file)
	for s.Scan() {
		var l auditLine
		d := json.NewDecoder(strings.NewReader(s.Text()))
		d.DisallowUnknownFields()
		if err := d.Decode(&l); err != nil || l.Msg != "audit" || l.Time == "" || l.RequestID == "" {
			t.Errorf("audit line %q: %v", s.Text(), err)
		}
		lines = append(lines, l)
	}
	return lines
}
