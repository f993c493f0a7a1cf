package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/big"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// sampleIDs returns n contract ids of the kinds the upstream uses: numeric ones (100000 ...)
// and prefixed ones (C-1000 ...), half each.
func sampleIDs(n int) []string {
	ids := make([]string, 0, n)
	for i := range n {
		if i%2 == 0 {
			ids = append(ids, strconv.Itoa(100000+i/2))
		} else {
			ids = append(ids, fmt.Sprintf("C-%d", 1000+i/2))
		}
	}
	return ids
}

// serve sends one request to h and returns the recorded response.
func serve(t *testing.T, h http.Handler, method, path, auth string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// histories memoises History across tests, which look at the same few hundred ids.
var histories sync.Map // id -> []byte

// mustHistory returns the body served for id, failing the test if it is not a 200.
func mustHistory(t *testing.T, id string) []byte {
	t.Helper()
	if b, ok := histories.Load(id); ok {
		return b.([]byte)
	}
	b, ok := History(id)
	if !ok {
		t.Fatalf("History(%q) reported no history", id)
	}
	histories.Store(id, b)
	return b
}

// decoded memoises ticketsOf; the tests only read what it returns.
var decoded sync.Map // id -> []map[string]any

// ticketsOf returns the decoded tickets of id's history.
func ticketsOf(t *testing.T, id string) []map[string]any {
	t.Helper()
	if v, ok := decoded.Load(id); ok {
		return v.([]map[string]any)
	}
	tickets := mustTickets(t, mustHistory(t, id))
	decoded.Store(id, tickets)
	return tickets
}

// decodeAny decodes b keeping numbers as json.Number, so tests can tell 746839 from "746839"
// and see the digits of large numbers.
func decodeAny(t *testing.T, b []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decode: %v", err)
	}
	return v
}

// mustTickets decodes a history body into its tickets.
func mustTickets(t *testing.T, b []byte) []map[string]any {
	t.Helper()
	h, ok := decodeAny(t, b).(map[string]any)
	if !ok {
		t.Fatalf("history is not an object: %.80s", b)
	}
	list, ok := h["tickets"].([]any)
	if !ok {
		t.Fatalf("tickets is not an array: %.80s", b)
	}
	out := make([]map[string]any, len(list))
	for i, v := range list {
		if out[i], ok = v.(map[string]any); !ok {
			t.Fatalf("ticket %d is not an object", i)
		}
	}
	return out
}

// exampleTicket is the ticket of example.json, decoded like mustTickets does.
func exampleTicket(t *testing.T) map[string]any {
	t.Helper()
	return mustTickets(t, ExampleHistory())[0]
}

func TestHistoryIsDeterministic(t *testing.T) {
	ids := append(sampleIDs(20), ExampleContractID, EmptyID, SlowID, "0", "007", "Z_9-x", "a")
	h1, h2 := NewHandler(), NewHandler()
	for _, id := range ids {
		first, _ := History(id)
		if again, _ := History(id); !bytes.Equal(first, again) {
			t.Errorf("History(%q) differs between two calls", id)
		}
		if id == SlowID {
			continue // its delay is tested elsewhere
		}
		for i, h := range []http.Handler{h1, h2, h1} { // h1 twice: once generated, once memoised
			rec := serve(t, h, http.MethodGet, "/contract/"+id+"/history", "Bearer t")
			if rec.Code != http.StatusOK {
				t.Fatalf("Get(%q) = %d, want 200", id, rec.Code)
			}
			if !bytes.Equal(rec.Body.Bytes(), first) {
				t.Errorf("Get(%q) via handler %d differs from History(%q)", id, i, id)
			}
		}
	}
}

func TestExampleTicketIsServedUnchanged(t *testing.T) {
	want := exampleTicket(t)
	tickets := ticketsOf(t, ExampleContractID)
	if len(tickets) < 2 {
		t.Fatalf("Get(%q) has %d tickets, want the example among generated ones", ExampleContractID, len(tickets))
	}
	found := 0
	for i, tk := range tickets {
		if tk["id"] == want["id"] {
			found++
			if !reflect.DeepEqual(tk, want) {
				t.Errorf("Get(%q) ticket %d = %v, want the example ticket %v", ExampleContractID, i, tk, want)
			}
			if i == 0 || i == len(tickets)-1 {
				t.Errorf("Get(%q) has the example ticket at %d of %d, want generated tickets before and after it", ExampleContractID, i, len(tickets))
			}
		}
		if tk["contractId"] != ExampleContractID {
			t.Errorf("Get(%q) ticket %d contractId = %v, want %q", ExampleContractID, i, tk["contractId"], ExampleContractID)
		}
		if !reflect.DeepEqual(tk["customer"], want["customer"]) {
			t.Errorf("Get(%q) ticket %d customer = %v, want the example's customer", ExampleContractID, i, tk["customer"])
		}
		if tk["customerId"] != want["customerId"] {
			t.Errorf("Get(%q) ticket %d customerId = %v, want %v", ExampleContractID, i, tk["customerId"], want["customerId"])
		}
	}
	if found != 1 {
		t.Errorf("Get(%q) holds the example ticket %d times, want 1", ExampleContractID, found)
	}
}

func TestExampleHistoryIsACopy(t *testing.T) {
	b := ExampleHistory()
	b[0] = 'x'
	if ExampleHistory()[0] != '{' {
		t.Fatal("ExampleHistory returned the embedded bytes, want a copy")
	}
	if !json.Valid(ExampleHistory()) {
		t.Fatal("ExampleHistory is not valid JSON")
	}
}

// TestTypesCoverTheExample proves the wire types model every field of the example: decoding it
// with unknown fields disallowed and encoding it again gives back the same value.
func TestTypesCoverTheExample(t *testing.T) {
	raw, _ := json.Marshal(exampleTicket(t))
	var tk ticket
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&tk); err != nil {
		t.Fatalf("decode the example into ticket: %v", err)
	}
	again, err := json.Marshal(&tk)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := decodeAny(t, again), decodeAny(t, raw); !reflect.DeepEqual(got, want) {
		t.Errorf("example after a round trip through ticket = %v, want %v", got, want)
	}
	if parsedExample().customer.ID != 83771 {
		t.Errorf("parsedExample().customer.ID = %d, want 83771", parsedExample().customer.ID)
	}
}

var (
	naiveTime = regexp.MustCompile(`^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$`)
	ibanShape = regexp.MustCompile(`^DE\d{20}$`)
)

// checkNaive reports a value that is not null and not in the "YYYY-MM-DD HH:MM:SS" format.
func checkNaive(t *testing.T, where string, v any, nullable bool) {
	t.Helper()
	if v == nil && nullable {
		return
	}
	if s, ok := v.(string); !ok || !naiveTime.MatchString(s) {
		t.Errorf("%s = %v, want YYYY-MM-DD HH:MM:SS", where, v)
	}
}

// checkUnix reports a value that is not null and not unix seconds as a JSON integer.
func checkUnix(t *testing.T, where string, v any, nullable bool) {
	t.Helper()
	if v == nil && nullable {
		return
	}
	n, ok := v.(json.Number)
	sec, err := strconv.ParseInt(string(n), 10, 64)
	if !ok || err != nil || sec < 1e9 || sec > 2e9 {
		t.Errorf("%s = %v, want unix seconds", where, v)
	}
}

// validIBAN checks an IBAN with math/big, independently of the generator's mod97.
func validIBAN(iban string) bool {
	s := iban[4:] + iban[:4]
	var digits strings.Builder
	for _, c := range s {
		if c >= 'A' && c <= 'Z' {
			digits.WriteString(strconv.Itoa(int(c-'A') + 10))
		} else {
			digits.WriteRune(c)
		}
	}
	n, ok := new(big.Int).SetString(digits.String(), 10)
	return ok && new(big.Int).Mod(n, big.NewInt(97)).Int64() == 1
}

func TestValidIBANChecker(t *testing.T) {
	tests := []struct {
		iban string
		want bool
	}{
		{"DE89370400440532013000", true}, // the example's, a published test IBAN
		{"DE88370400440532013000", false},
		{"DE89370400440532013001", false},
	}
	for _, tt := range tests {
		if got := validIBAN(tt.iban); got != tt.want {
			t.Errorf("validIBAN(%q) = %v, want %v", tt.iban, got, tt.want)
		}
	}
}

// TestGeneratedTickets checks the invariants every generated history keeps.
func TestGeneratedTickets(t *testing.T) {
	for _, id := range append(sampleIDs(120), ExampleContractID, SlowID, "007", "x") {
		tickets := ticketsOf(t, id)
		var firstCustomer any
		for i, tk := range tickets {
			where := fmt.Sprintf("Get(%q) ticket %d", id, i)
			if tk["contractId"] != id {
				t.Errorf("%s contractId = %v, want %q", where, tk["contractId"], id)
			}
			if i > 0 && tk["createdAt"].(string) < tickets[i-1]["createdAt"].(string) {
				t.Errorf("%s createdAt = %v, before the previous %v: want oldest first", where, tk["createdAt"], tickets[i-1]["createdAt"])
			}
			status := tk["status"]
			if closed := status == "closed" || status == "resolved"; closed != (tk["closedAt"] != nil) {
				t.Errorf("%s status %v with closedAt %v: want closedAt exactly for closed and resolved", where, status, tk["closedAt"])
			}
			for _, k := range []string{"createdAt", "firstResponseDueBy", "dueBy"} {
				checkNaive(t, where+" "+k, tk[k], false)
			}
			checkNaive(t, where+" modifiedAt", tk["modifiedAt"], true)
			checkNaive(t, where+" closedAt", tk["closedAt"], true)
			if v := tk["autoExecuteAt"]; v != nil {
				if _, err := time.Parse(time.RFC3339, v.(string)); err != nil {
					t.Errorf("%s autoExecuteAt = %v, want ISO 8601 with a zone", where, v)
				}
			}
			if id, ok := tk["customerId"].(string); !ok || id == "" {
				t.Errorf("%s customerId = %v, want a non-empty string", where, tk["customerId"])
			}
			if i == 0 {
				firstCustomer = tk["customer"]
			} else if !reflect.DeepEqual(tk["customer"], firstCustomer) {
				t.Errorf("%s customer differs from ticket 0's: want one customer per contract", where)
			}
			checkCustomer(t, where, id, tk["customer"].(map[string]any))
			agents := []any{tk["agent"]}
			agents = append(agents, tk["assignedAgents"].([]any)...)
			agents = append(agents, tk["workedOnBy"].([]any)...)
			for _, a := range agents {
				if a != nil {
					checkNaive(t, where+" agent lastSeen", a.(map[string]any)["lastSeen"], false)
				}
			}
			for _, tg := range tk["tags"].([]any) {
				checkNaive(t, where+" tag modifiedAt", tg.(map[string]any)["modifiedAt"], false)
			}
			for _, it := range tk["intents"].([]any) {
				if o := it.(map[string]any)["outcome"]; o != nil {
					checkNaive(t, where+" outcome executedAt", o.(map[string]any)["executedAt"], false)
				}
			}
		}
	}
}

// checkCustomer checks the customer of a ticket of contract id: numeric ids and phones,
// contract dates, IBANs, and that its contracts include id with the right JSON kind.
func checkCustomer(t *testing.T, where, id string, c map[string]any) {
	t.Helper()
	if _, ok := c["id"].(json.Number); !ok {
		t.Errorf("%s customer.id = %v, want a number", where, c["id"])
	}
	if n, ok := c["phone"].(json.Number); !ok || len(n) < 10 {
		t.Errorf("%s customer.phone = %v, want a number above 2^31", where, c["phone"])
	}
	found := false
	for _, v := range c["contracts"].([]any) {
		k := v.(map[string]any)
		cid := fmt.Sprint(k["id"])
		if cid == id {
			found = true
			_, isNum := k["id"].(json.Number)
			if _, wantNum := contractIDValue(id).(json.Number); isNum != wantNum {
				t.Errorf("%s contract id %#v: want a number exactly for canonical numeric ids", where, k["id"])
			}
		}
		checkUnix(t, where+" signupDate", k["signupDate"], false)
		checkUnix(t, where+" startDate", k["startDate"], false)
		checkUnix(t, where+" endDate", k["endDate"], true)
		if iban, _ := k["iban"].(string); !ibanShape.MatchString(iban) || !validIBAN(iban) {
			t.Errorf("%s iban = %q, want a valid German IBAN", where, iban)
		}
		if n, ok := k["gridOperatorCode"].(json.Number); !ok || len(n) != 13 {
			t.Errorf("%s gridOperatorCode = %v, want a 13-digit number", where, k["gridOperatorCode"])
		}
		if n, ok := k["phone"].(json.Number); !ok || len(n) < 10 {
			t.Errorf("%s contract phone = %v, want a number above 2^31", where, k["phone"])
		}
	}
	if !found {
		t.Errorf("%s customer.contracts = %v, want one with id %s", where, c["contracts"], id)
	}
}

func TestTicketCountSpread(t *testing.T) {
	counts := map[string]int{}
	lo, hi, mid := 1000, 0, 0
	for _, id := range sampleIDs(300) {
		n := len(ticketsOf(t, id))
		counts[id] = n
		lo, hi = min(lo, n), max(hi, n)
		if n >= 3 && n <= 15 {
			mid++
		}
	}
	if lo != 0 {
		t.Errorf("fewest tickets over 300 ids = %d, want 0", lo)
	}
	if hi < 30 || hi > 40 {
		t.Errorf("most tickets over 300 ids = %d, want 30 to 40", hi)
	}
	if mid < 150 {
		t.Errorf("ids with 3 to 15 tickets = %d of 300, want most", mid)
	}
}

// TestValueCoverage checks that the ids together show every documented value and both sides of
// every hazard, so clients tested against the demo meet them all.
func TestValueCoverage(t *testing.T) {
	seen := map[string]bool{}
	see := func(field string, v any) {
		switch v := v.(type) {
		case nil:
			seen[field+"=null"] = true
		case json.Number:
			seen[field+":number"] = true
		case bool:
			seen[field+":bool"] = true
		case string:
			seen[field+"="+v] = true
			seen[field+":string"] = true
		case []any:
			seen[field+":array"] = true
		case map[string]any:
			seen[field+":object"] = true
		}
		if v != nil {
			seen[field+"!=null"] = true
		}
	}
	for _, id := range sampleIDs(300) {
		for _, tk := range ticketsOf(t, id) {
			for _, k := range []string{"status", "channel", "direction", "priority", "spamStatus", "sentiment", "from", "replyRecipients", "closedAt", "modifiedAt", "agent", "autoExecuteAt", "responderId", "additionalData", "rawData"} {
				see(k, tk[k])
			}
			seen[fmt.Sprint("customerLegitimation=", tk["customerLegitimation"])] = true
			c := tk["customer"].(map[string]any)
			see("company", c["company"])
			for _, k := range c["contracts"].([]any) {
				k := k.(map[string]any)
				see("contract.id", k["id"])
				see("billingAddress", k["billingAddress"])
				see("endDate", k["endDate"])
				see("tenant", k["tenant"])
			}
			for _, a := range tk["assignedAgents"].([]any) {
				see("isSsoOnly", a.(map[string]any)["isSsoOnly"])
			}
			for _, tg := range tk["tags"].([]any) {
				tg := tg.(map[string]any)
				see("tag.properties", tg["properties"])
				see("tag.id", tg["id"])
			}
			for _, a := range tk["attachments"].([]any) {
				see("attachment.width", a.(map[string]any)["width"])
			}
			for _, it := range tk["intents"].([]any) {
				it := it.(map[string]any)
				see("intent.tags", it["tags"])
				see("intent.contractId", it["contractId"])
				see("intent.extraInfo", it["extraInfo"])
			}
		}
	}
	want := []string{
		"status=open", "status=pending", "status=resolved", "status=closed", "status=waitingOnCustomer", "status=waitingOnThirdParty",
		"channel=email", "channel=portal", "channel=phone", "channel=letter", "channel=system", "channel=chat", "channel=walkIn",
		"direction=in", "direction=out", "direction=internal",
		"priority=low", "priority=medium", "priority=high", "priority=urgent",
		"spamStatus=auto_clean", "spamStatus=auto_spam", "spamStatus=auto_programmatic", "spamStatus=manual_spam", "spamStatus=manual_clean", "spamStatus=null",
		"sentiment=positive", "sentiment=neutral", "sentiment=negative",
		"from=null", "from!=null", "replyRecipients=null", "replyRecipients!=null", "closedAt=null", "closedAt!=null",
		"modifiedAt=null", "modifiedAt!=null", "agent=null", "agent!=null", "autoExecuteAt=null", "autoExecuteAt!=null",
		"responderId=null", "responderId!=null", "additionalData=null", "additionalData:object", "rawData=null", "rawData:object",
		"company=null", "company!=null", "billingAddress=null", "billingAddress!=null", "endDate=null", "endDate!=null",
		"tenant=null", "tenant!=null", "contract.id:number", "contract.id:string",
		"isSsoOnly:number", "isSsoOnly:bool", "tag.properties:array", "tag.properties:object", "tag.id=null", "tag.id!=null",
		"attachment.width=null", "attachment.width:number", "intent.tags:string", "intent.tags:array",
		"intent.contractId:string", "intent.contractId:number", "intent.extraInfo=null", "intent.extraInfo!=null",
	}
	for _, w := range want {
		if !seen[w] {
			t.Errorf("no ticket over 300 ids has %s", w)
		}
	}
	for _, lvl := range []string{"0", "10", "15", "20", "30"} {
		if !seen["customerLegitimation="+lvl] {
			t.Errorf("no ticket over 300 ids has customerLegitimation %s", lvl)
		}
	}
}

// freeForm are fields passed through as free-form JSON (docs/upstream.md, "Type hazards"):
// their keys are not compared.
var freeForm = map[string]bool{
	"rawData": true, "registers": true, "additionalData": true, "context": true, "data": true,
	"internalData": true, "extractionData": true, "extractedData": true, "detectionDetails": true,
	"testCase": true, "workitem": true, "properties": true, "tenant": true,
}

// scalarHazards are the fields whose JSON kind documentedly varies: see docs/upstream.md,
// "Type hazards".
var scalarHazards = map[string]bool{"isSsoOnly": true, "id": true, "contractId": true}

// extraKeys are documented fields that the example lacks.
var extraKeys = map[string]bool{"intents[].tags": true}

// kind names the JSON kind of a decoded value.
func kind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case bool:
		return "bool"
	}
	return "number"
}

// compareKeys reports where got lacks a key of want, has an undocumented extra key, or has
// another JSON kind, recursively; arrays are compared element-wise with want's first element.
func compareKeys(t *testing.T, where, path string, want, got any) {
	t.Helper()
	key := path[strings.LastIndexByte(path, '.')+1:]
	kw, kg := kind(want), kind(got)
	if kw == "null" || kg == "null" || freeForm[strings.TrimSuffix(key, "[]")] {
		return
	}
	if kw != kg {
		if !scalarHazards[key] || kw == "object" || kw == "array" || kg == "object" || kg == "array" {
			t.Errorf("%s %s is a JSON %s, want a %s as in the example", where, path, kg, kw)
		}
		return
	}
	switch want := want.(type) {
	case map[string]any:
		got := got.(map[string]any)
		for k, v := range want {
			sub := strings.TrimPrefix(path+"."+k, ".")
			g, ok := got[k]
			if !ok {
				t.Errorf("%s lacks %s", where, sub)
				continue
			}
			compareKeys(t, where, sub, v, g)
		}
		for k := range got {
			if _, ok := want[k]; !ok && !extraKeys[strings.TrimPrefix(path+"."+k, ".")] {
				t.Errorf("%s has %s, which the example lacks", where, strings.TrimPrefix(path+"."+k, "."))
			}
		}
	case []any:
		if len(want) == 0 {
			return
		}
		for _, g := range got.([]any) {
			compareKeys(t, where, path+"[]", want[0], g)
		}
	}
}

func TestTicketsHaveEveryKeyOfTheExample(t *testing.T) {
	want := exampleTicket(t)
	objects := map[string]bool{}
	for _, id := range append(sampleIDs(200), ExampleContractID) {
		for i, tk := range ticketsOf(t, id) {
			compareKeys(t, fmt.Sprintf("Get(%q) ticket %d", id, i), "", want, tk)
			for _, k := range []string{"agent", "replyRecipients"} {
				if tk[k] != nil {
					objects[k] = true
				}
			}
			for _, k := range []string{"assignedAgents", "workedOnBy", "attachments", "tags", "intents"} {
				if len(tk[k].([]any)) > 0 {
					objects[k] = true
				}
			}
			for _, it := range tk["intents"].([]any) {
				it := it.(map[string]any)
				o, _ := it["outcome"].(map[string]any)
				if sources, _ := o["sources"].([]any); len(sources) > 0 {
					objects["sources"] = true
				}
				if infos, _ := it["infos"].([]any); len(infos) > 0 {
					objects["infos"] = true
				}
			}
		}
	}
	// The comparison only means something if every nested object kind was met.
	for _, k := range []string{"agent", "replyRecipients", "assignedAgents", "workedOnBy", "attachments", "tags", "intents", "sources", "infos"} {
		if !objects[k] {
			t.Errorf("no generated ticket has a non-empty %s to compare", k)
		}
	}
}

// TestGeneratedJSONDecodes decodes every body strictly into the wire types: no unknown field,
// no value of a kind they do not accept.
func TestGeneratedJSONDecodes(t *testing.T) {
	for _, id := range append(sampleIDs(60), ExampleContractID, EmptyID, SlowID) {
		b := mustHistory(t, id)
		var h struct {
			Tickets []*ticket `json:"tickets"`
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&h); err != nil {
			t.Errorf("decode Get(%q): %v", id, err)
		}
		if h.Tickets == nil {
			t.Errorf("Get(%q) tickets = null, want an array", id)
		}
	}
}

func TestSecondContractAnswersWithTheSameCustomer(t *testing.T) {
	pairs := 0
	for _, id := range sampleIDs(200) {
		tickets := ticketsOf(t, id)
		if len(tickets) == 0 {
			continue
		}
		c := tickets[0]["customer"].(map[string]any)
		contracts := c["contracts"].([]any)
		if len(contracts) < 2 {
			continue
		}
		for _, k := range contracts {
			other := fmt.Sprint(k.(map[string]any)["id"])
			if other == id {
				continue
			}
			b, ok := History(other)
			if !ok {
				t.Fatalf("Get(%q), the second contract of %q's customer: no history", other, id)
			}
			theirs := mustTickets(t, b)
			if len(theirs) == 0 {
				continue // the customer has not written about that contract yet
			}
			pairs++
			if got := theirs[0]["customer"]; !reflect.DeepEqual(got, c) {
				t.Errorf("Get(%q) customer = %v, want the customer of %q: %v", other, got, id, c)
			}
		}
	}
	if pairs == 0 {
		t.Error("no customer with two contracts that both have tickets among 200 ids")
	}
}

// idKinds names the object an id stands for at each path of a history, by its GraphQL type:
// clients such as Apollo Client normalise objects by type and id, so an Agent is one object
// whether it is a ticket's agent or one of its assignedAgents, and a customer's tag and a
// ticket's tag with the same id are one Tag. Paths not listed are their own kind.
var idKinds = map[string]string{
	"tickets[]":                             "Ticket",
	"tickets[].customer":                    "Customer",
	"tickets[].customer.contracts[]":        "Contract",
	"tickets[].customer.tags[]":             "Tag",
	"tickets[].tags[]":                      "Tag",
	"tickets[].agent":                       "Agent",
	"tickets[].assignedAgents[]":            "Agent",
	"tickets[].workedOnBy[]":                "Agent",
	"tickets[].attachments[]":               "Attachment",
	"tickets[].intents[]":                   "Intent",
	"tickets[].intents[].outcome.sources[]": "OutcomeSource",
}

// idText is the text of a decoded id, so 746839 and "746839" are one id, as they are to the
// facade; "" for null and for values that are not ids.
func idText(v any) string {
	switch v := v.(type) {
	case json.Number:
		return v.String()
	case string:
		return v
	}
	return ""
}

// idSighting is where an object with an id was met, and what it held there.
type idSighting struct {
	contract, path string
	obj            map[string]any
}

// idIndex collects every object with an id, by kind and id, and reports an id that stands for
// two different things.
type idIndex struct {
	t         *testing.T
	seen      map[[2]string]idSighting // kind, id -> the first sighting
	owners    map[[2]string]string     // field, value -> the thing that value identifies
	conflicts map[string][]string      // kind or field -> what is wrong with it
}

// conflict records what is wrong with an id of kind (a type or a field name).
func (x *idIndex) conflict(kind, format string, args ...any) {
	x.conflicts[kind] = append(x.conflicts[kind], fmt.Sprintf(format, args...))
}

// report fails the test with a few conflicts of each kind and their number.
func (x *idIndex) report() {
	x.t.Helper()
	for _, kind := range slices.Sorted(maps.Keys(x.conflicts)) {
		list := x.conflicts[kind]
		for _, c := range list[:min(3, len(list))] {
			x.t.Error(c)
		}
		if len(list) > 3 {
			x.t.Errorf("... %d conflicts of %s in all", len(list), kind)
		}
	}
}

// walk visits v, found at path in the history of contract, and every value inside it.
func (x *idIndex) walk(contract, path string, v any) {
	switch v := v.(type) {
	case []any:
		for _, e := range v {
			x.walk(contract, path+"[]", e)
		}
	case map[string]any:
		if id := idText(v["id"]); id != "" {
			x.object(contract, path, id, v)
		}
		for k, e := range v {
			x.walk(contract, strings.TrimPrefix(path+"."+k, "."), e)
		}
	}
}

// object checks one object with an id against the other sightings of its kind and id: at the
// same path it must be identical, at another path of the same type (a customer's tag and a
// ticket's tag) it must agree on the fields both carry. A ticket must be met once only.
func (x *idIndex) object(contract, path, id string, obj map[string]any) {
	kind := idKinds[path]
	if kind == "" {
		kind = path
	}
	key := [2]string{kind, id}
	first, ok := x.seen[key]
	if !ok {
		x.seen[key] = idSighting{contract, path, obj}
		return
	}
	if kind == "Ticket" {
		x.conflict(kind, "ticket id %s is in the history of contract %s (subject %q) and of contract %s (subject %q)",
			id, first.contract, first.obj["subject"], contract, obj["subject"])
		return
	}
	for k, v := range obj {
		w, shared := first.obj[k]
		if !shared && first.path == path {
			x.conflict(kind, "%s %s has %s in contract %s (%s) but not in contract %s (%s)", kind, id, k, contract, path, first.contract, first.path)
			return
		}
		if shared && !reflect.DeepEqual(v, w) {
			x.conflict(kind, "%s %s has %s = %v in contract %s (%s) but %v in contract %s (%s)", kind, id, k, v, contract, path, w, first.contract, first.path)
			return
		}
	}
	if first.path == path && len(obj) != len(first.obj) {
		x.conflict(kind, "%s %s has %d fields in contract %s but %d in contract %s", kind, id, len(obj), contract, len(first.obj), first.contract)
	}
}

// owns records that the value of field identifies thing; another thing with that value
// is a conflict.
func (x *idIndex) owns(field string, value any, thing string) {
	v := idText(value)
	if v == "" {
		return
	}
	key := [2]string{field, v}
	if other, ok := x.owners[key]; !ok {
		x.owners[key] = thing
	} else if other != thing {
		x.conflict(field, "%s %s stands for %s and for %s", field, v, other, thing)
	}
}

// references checks the ...Id fields of a ticket of contract that stand for one thing: a
// ticket's externalTicketId and channelId, an outcome's txId, a contract's orderId, customerId
// (of tickets and contracts) for one customer, productId for one product, energyTypeId for one
// energy, and the contractId and agentId a ticket names. The other ...Id fields (subchannelId,
// partnerId, campaignId, salesChannelId, aiAgentId, the agents' and tags' id lists ...) refer to
// things the histories hold nothing about, so they cannot stand for two different contents.
func (x *idIndex) references(contract string, tk map[string]any) {
	ticket := "ticket " + idText(tk["id"])
	x.owns("externalTicketId", tk["externalTicketId"], ticket)
	x.owns("channelId", tk["channelId"], ticket)
	if got := idText(tk["contractId"]); got != contract {
		x.conflict("contractId", "%s in the history of contract %s has contractId %s", ticket, contract, got)
	}
	if a, ok := tk["agent"].(map[string]any); ok && tk["agentId"] != nil && idText(tk["agentId"]) != idText(a["id"]) {
		x.conflict("agentId", "%s has agentId %v but agent %v", ticket, tk["agentId"], a["id"])
	}
	c, _ := tk["customer"].(map[string]any)
	customer := "customer " + idText(c["id"])
	x.owns("customerId", tk["customerId"], customer)
	contracts, _ := c["contracts"].([]any)
	for _, k := range contracts {
		k := k.(map[string]any)
		x.owns("customerId", k["customerId"], customer)
		x.owns("orderId", k["orderId"], "contract "+idText(k["id"]))
		x.owns("productId", k["productId"], fmt.Sprintf("product %v (%v)", k["productName"], k["productCode"]))
		x.owns("energyTypeId", k["energyTypeId"], "energy "+idText(k["energy"]))
	}
	intents, _ := tk["intents"].([]any)
	for _, it := range intents {
		it := it.(map[string]any)
		if got := idText(it["contractId"]); got != contract {
			x.conflict("contractId", "%s intent %v in the history of contract %s has contractId %s", ticket, it["id"], contract, got)
		}
		if o, ok := it["outcome"].(map[string]any); ok {
			x.owns("txId", o["txId"], "the outcome of intent "+idText(it["id"]))
		}
	}
}

// TestIDsAreUniqueAcrossContracts loads histories over the handler, as a client would, and
// checks that every id stands for one thing across all of them: a ticket id is in one contract's
// history only, and agents, tags, customers, contracts, intents, attachments and sources with
// one id look the same wherever they appear. A client's normalised cache (Apollo Client keys
// objects by type and id) shows wrong data otherwise.
func TestIDsAreUniqueAcrossContracts(t *testing.T) {
	ids := []string{ExampleContractID, "C-1001"}
	for n := 100001; n <= 100100; n++ {
		ids = append(ids, strconv.Itoa(n))
	}
	ids = append(ids, sampleIDs(200)...) // more numeric ids, and prefixed ones C-1000 to C-1099
	h := NewHandler()
	x := &idIndex{t: t, seen: map[[2]string]idSighting{}, owners: map[[2]string]string{}, conflicts: map[string][]string{}}
	loaded := map[string]bool{}
	tickets := 0
	for i := 0; i < len(ids); i++ { // grows: a customer's other contracts are loaded too
		id := ids[i]
		if loaded[id] {
			continue
		}
		loaded[id] = true
		rec := serve(t, h, http.MethodGet, "/contract/"+id+"/history", "Bearer t")
		if rec.Code != http.StatusOK {
			t.Fatalf("Get(%q) = %d, want 200", id, rec.Code)
		}
		for _, tk := range mustTickets(t, rec.Body.Bytes()) {
			tickets++
			x.walk(id, "tickets[]", tk)
			x.references(id, tk)
			c, _ := tk["customer"].(map[string]any)
			contracts, _ := c["contracts"].([]any)
			for _, k := range contracts {
				ids = append(ids, idText(k.(map[string]any)["id"]))
			}
		}
	}
	if tickets < 1000 {
		t.Fatalf("%d tickets in %d histories, want at least 1000 to compare", tickets, len(loaded))
	}
	x.report()
}

func TestAuth(t *testing.T) {
	h := NewHandler()
	tests := []struct {
		auth string
		want int
	}{
		{"", http.StatusUnauthorized},
		{"Bearer", http.StatusUnauthorized},
		{"Bearer ", http.StatusUnauthorized},
		{"Bearer    ", http.StatusUnauthorized},
		{"Basic dXNlcjpwYXNz", http.StatusUnauthorized},
		{"Bearer demo-token", http.StatusOK},
		{"bearer demo-token", http.StatusOK},
	}
	for _, tt := range tests {
		for _, id := range []string{"100001", NotFoundID, ForbiddenID} {
			rec := serve(t, h, http.MethodGet, "/contract/"+id+"/history", tt.auth)
			want := tt.want
			if want == http.StatusOK {
				want = map[string]int{NotFoundID: http.StatusNotFound, ForbiddenID: http.StatusForbidden}[id]
				if want == 0 {
					want = http.StatusOK
				}
			}
			if rec.Code != want {
				t.Errorf("Get(%q) with Authorization %q = %d, want %d", id, tt.auth, rec.Code, want)
			}
			if want == http.StatusUnauthorized {
				if got := rec.Body.String(); got != "{\"error\":\"Unauthorized\"}\n" {
					t.Errorf("Get(%q) with Authorization %q body = %q, want {\"error\":\"Unauthorized\"}", id, tt.auth, got)
				}
				if got := rec.Header().Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
					t.Errorf("Get(%q) with Authorization %q WWW-Authenticate = %q, want Bearer", id, tt.auth, got)
				}
			}
		}
	}
}

func TestSpecialIDsAndErrors(t *testing.T) {
	h := NewHandlerWith(Options{SlowDelay: time.Millisecond})
	isJSONError := func(want string) func(*testing.T, []byte) {
		return func(t *testing.T, b []byte) {
			var e struct{ Error string }
			if err := json.Unmarshal(b, &e); err != nil || (want != "" && e.Error != want) || e.Error == "" {
				t.Errorf("body = %q, want a JSON error %q", b, want)
			}
		}
	}
	tests := []struct {
		method, path string
		want         int
		header       map[string]string
		body         func(*testing.T, []byte)
	}{
		{"GET", "/contract/not-found/history", 404, map[string]string{"Content-Type": jsonType}, func(t *testing.T, b []byte) {
			if string(b) != "{\"error\":\"Contract not found\"}\n" {
				t.Errorf("body = %q, want {\"error\":\"Contract not found\"}", b)
			}
		}},
		{"GET", "/contract/forbidden/history", 403, nil, func(t *testing.T, b []byte) {
			if len(b) != 0 {
				t.Errorf("body = %q, want none", b)
			}
		}},
		{"GET", "/contract/server-error/history", 500, map[string]string{"Content-Type": jsonType}, isJSONError("")},
		{"GET", "/contract/rate-limited/history", 429, map[string]string{"Retry-After": "30", "Content-Type": jsonType}, isJSONError("")},
		{"GET", "/contract/malformed/history", 200, map[string]string{"Content-Type": jsonType}, func(t *testing.T, b []byte) {
			if len(b) == 0 || json.Valid(b) {
				t.Errorf("body = %.60q, want non-empty invalid JSON", b)
			}
		}},
		{"GET", "/contract/html/history", 200, map[string]string{"Content-Type": "text/html; charset=utf-8"}, func(t *testing.T, b []byte) {
			if !bytes.Contains(b, []byte("<html")) {
				t.Errorf("body = %.60q, want an HTML page", b)
			}
		}},
		{"GET", "/contract/empty/history", 200, map[string]string{"Content-Type": jsonType}, func(t *testing.T, b []byte) {
			if string(b) != "{\"tickets\":[]}\n" {
				t.Errorf("body = %q, want {\"tickets\":[]}", b)
			}
		}},
		{"GET", "/contract/slow/history", 200, map[string]string{"Content-Type": jsonType}, func(t *testing.T, b []byte) {
			if n := len(mustTickets(t, b)); n == 0 {
				t.Errorf("tickets = %d, want a small history", n)
			}
		}},
		{"GET", "/contract/C-1001/history", 200, map[string]string{"Content-Type": jsonType}, nil},
		{"GET", "/contract/a.b/history", 404, nil, isJSONError("Contract not found")},
		{"GET", "/contract/%C3%A4/history", 404, nil, isJSONError("Contract not found")},
		{"GET", "/contract/a%2Fb/history", 404, nil, isJSONError("")},
		{"GET", "/contract/" + strings.Repeat("9", 65) + "/history", 404, nil, isJSONError("Contract not found")},
		{"GET", "/contract//history", 404, map[string]string{"Content-Type": jsonType}, isJSONError("")},
		{"GET", "/contract/100001/history/", 404, map[string]string{"Content-Type": jsonType}, isJSONError("")},
		{"GET", "/contract/100001", 200, map[string]string{"Content-Type": jsonType}, func(t *testing.T, b []byte) {
			if c, ok := decodeAny(t, b).(map[string]any); !ok || fmt.Sprint(c["id"]) != "100001" || c["productName"] == nil {
				t.Errorf("body = %.80q, want contract 100001's record", b)
			}
		}},
		{"GET", "/contract/empty", 200, map[string]string{"Content-Type": jsonType}, nil},
		{"GET", "/contract/not-found", 404, map[string]string{"Content-Type": jsonType}, isJSONError("Contract not found")},
		{"GET", "/contract/forbidden", 403, nil, nil},
		{"GET", "/contract/server-error", 500, map[string]string{"Content-Type": jsonType}, isJSONError("")},
		{"GET", "/contract/rate-limited", 429, map[string]string{"Retry-After": "30"}, isJSONError("")},
		{"GET", "/contract/malformed", 200, map[string]string{"Content-Type": jsonType}, func(t *testing.T, b []byte) {
			if len(b) == 0 || json.Valid(b) {
				t.Errorf("body = %.60q, want non-empty invalid JSON", b)
			}
		}},
		{"GET", "/contract/a.b", 404, nil, isJSONError("Contract not found")},
		{"POST", "/contract/100001", 405, map[string]string{"Allow": "GET, HEAD"}, isJSONError("")},
		{"GET", "/", 404, map[string]string{"Content-Type": jsonType}, isJSONError("")},
		{"POST", "/contract/100001/history", 405, map[string]string{"Allow": "GET, HEAD", "Content-Type": jsonType}, isJSONError("")},
		{"DELETE", "/contract/100001/history", 405, map[string]string{"Allow": "GET, HEAD"}, isJSONError("")},
		{"HEAD", "/contract/100001/history", 200, map[string]string{"Content-Type": jsonType, "Content-Length": strconv.Itoa(len(mustHistory(t, "100001")))}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			rec := serve(t, h, tt.method, tt.path, "Bearer demo")
			if rec.Code != tt.want {
				t.Errorf("%s %s = %d, want %d", tt.method, tt.path, rec.Code, tt.want)
			}
			for k, v := range tt.header {
				if got := rec.Header().Get(k); got != v {
					t.Errorf("%s %s header %s = %q, want %q", tt.method, tt.path, k, got, v)
				}
			}
			if tt.body != nil {
				tt.body(t, rec.Body.Bytes())
			}
		})
	}
}

func TestHistoryFunc(t *testing.T) {
	tests := []struct {
		id   string
		want bool
	}{
		{"100001", true}, {"C-1001", true}, {ExampleContractID, true}, {EmptyID, true}, {SlowID, true},
		{NotFoundID, false}, {ForbiddenID, false}, {ServerErrorID, false}, {RateLimitedID, false},
		{MalformedID, false}, {HTMLID, false}, {HangID, false}, {"", false}, {"a b", false}, {"ä", false},
	}
	for _, tt := range tests {
		if _, got := History(tt.id); got != tt.want {
			t.Errorf("History(%q) ok = %v, want %v", tt.id, got, tt.want)
		}
	}
}

// TestSlowAndHangStopWithTheRequest runs the handlers with a context that is already cancelled
// and with one cancelled while they wait: a handler that ignored it would never return, and the
// test would time out.
func TestSlowAndHangStopWithTheRequest(t *testing.T) {
	h := NewHandlerWith(Options{SlowDelay: time.Hour})
	for _, id := range []string{SlowID, HangID} {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		req := httptest.NewRequestWithContext(ctx, http.MethodGet, "/contract/"+id+"/history", nil)
		req.Header.Set("Authorization", "Bearer t")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Body.Len() != 0 {
			t.Errorf("Get(%q) with a cancelled context wrote %q, want nothing", id, rec.Body.Bytes())
		}

		entered := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			close(entered)
			h.ServeHTTP(w, r)
		}))
		ctx, cancel = context.WithCancel(context.Background())
		req, _ = http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/contract/"+id+"/history", nil)
		req.Header.Set("Authorization", "Bearer t")
		errc := make(chan error, 1)
		go func() {
			resp, err := srv.Client().Do(req)
			if err == nil {
				resp.Body.Close()
			}
			errc <- err
		}()
		<-entered
		cancel()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Errorf("Get(%q) cancelled by the client: error %v, want context.Canceled", id, err)
		}
		srv.Close() // blocks until the handler has returned
	}
}

func TestHangLimit(t *testing.T) {
	h := NewHandlerWith(Options{HangLimit: time.Millisecond})
	rec := serve(t, h, http.MethodGet, "/contract/hang/history", "Bearer t")
	if rec.Code != http.StatusGatewayTimeout {
		t.Errorf("Get(%q) with HangLimit = %d, want %d", HangID, rec.Code, http.StatusGatewayTimeout)
	}
}

// TestOverHTTP uses the handler as the facade does: as the root of a server, with a base URL.
func TestOverHTTP(t *testing.T) {
	srv := httptest.NewServer(NewHandler())
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/contract/"+ExampleContractID+"/history", nil)
	req.Header.Set("Authorization", "Bearer demo")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != jsonType {
		t.Errorf("Get(%q) = %d %q, want 200 %q", ExampleContractID, resp.StatusCode, resp.Header.Get("Content-Type"), jsonType)
	}
	if !bytes.Equal(b, mustHistory(t, ExampleContractID)) {
		t.Errorf("Get(%q) over HTTP differs from History", ExampleContractID)
	}
}

func TestConcurrentRequests(t *testing.T) {
	h := NewHandler()
	ids := append(sampleIDs(16), ExampleContractID)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for _, id := range ids {
				rec := serve(t, h, http.MethodGet, "/contract/"+id+"/history", "Bearer t")
				if b, _ := History(id); !bytes.Equal(rec.Body.Bytes(), b) {
					t.Errorf("concurrent Get(%q) differs from History", id)
				}
			}
		})
	}
	wg.Wait()
}

func TestMemoIsBounded(t *testing.T) {
	s := &server{bodies: map[string][]byte{}, limit: 8}
	for i := range 20 {
		id := "m" + strconv.Itoa(i)
		b, ok := s.body(id)
		if want, _ := History(id); !ok || !bytes.Equal(b, want) {
			t.Fatalf("body(%q) differs from History", id)
		}
	}
	if len(s.bodies) > s.limit {
		t.Errorf("memo holds %d bodies, want at most %d", len(s.bodies), s.limit)
	}
}

func TestHousehold(t *testing.T) {
	tests := []struct {
		id   string
		want []string // the possible partner, or none
	}{
		{"100000", []string{"100001"}},
		{"100001", []string{"100000"}},
		{"C-1001", []string{"C-1000"}},
		{"007", []string{"006"}},
		{ExampleContractID, nil},
		{"746838", nil}, // the example's neighbour: the example customer has one contract
		{"abc", nil},
	}
	for _, tt := range tests {
		_, ids := household(tt.id)
		if !slices.Contains(ids, tt.id) {
			t.Errorf("household(%q) = %v, want it to contain %q", tt.id, ids, tt.id)
		}
		for _, other := range ids {
			if other != tt.id && !slices.Contains(tt.want, other) {
				t.Errorf("household(%q) = %v, want no partner but %v", tt.id, ids, tt.want)
			}
		}
		if len(ids) == 2 {
			key, back := household(ids[0])
			key2, back2 := household(ids[1])
			if key != key2 || !slices.Equal(back, back2) {
				t.Errorf("household(%q) = %v, household(%q) = %v: want the same", ids[0], back, ids[1], back2)
			}
		}
	}
}

// BenchmarkGenerate40 measures the generation of a history of at least 30 tickets, the largest
// the demo serves, without the memo.
func BenchmarkGenerate40(b *testing.B) {
	id := ""
	for _, c := range sampleIDs(300) {
		if body, _ := History(c); bytes.Count(body, []byte(`"direction":`)) >= 38 {
			id = c
			break
		}
	}
	if id == "" {
		b.Fatal("no id with at least 38 tickets")
	}
	b.ReportAllocs()
	for b.Loop() {
		encode(generate(id, -1))
	}
}

// TestContractIsTheEmbeddedRecord: GET /contract/{id} answers with the record every ticket of
// its customer embeds, the newest ticket's included, and a contract without tickets has one
// too, the one its partner's tickets embed.
func TestContractIsTheEmbeddedRecord(t *testing.T) {
	h := NewHandler()
	ids := append(sampleIDs(100), ExampleContractID, "C-1001")
	withoutTickets := 0
	for _, id := range ids {
		rec := serve(t, h, "GET", "/contract/"+id, "Bearer demo")
		if rec.Code != http.StatusOK {
			t.Fatalf("%s: %d", id, rec.Code)
		}
		record := decodeAny(t, rec.Body.Bytes())
		for _, owner := range []string{id, partnerOf(id)} {
			tickets := ticketsOf(t, owner)
			for i, ticket := range tickets {
				customer, _ := ticket["customer"].(map[string]any)
				contracts, _ := customer["contracts"].([]any)
				for _, c := range contracts {
					if c := c.(map[string]any); fmt.Sprint(c["id"]) == id && !reflect.DeepEqual(c, record) {
						t.Errorf("%s: ticket %d of %s embeds another record than GET /contract/%s", id, i, owner, id)
					}
				}
			}
			if owner == id && len(tickets) == 0 {
				withoutTickets++
			}
		}
	}
	if withoutTickets == 0 {
		t.Error("no sampled contract without tickets: the case the endpoint is for is not covered")
	}
}

// partnerOf is the other contract of id's customer, or id.
func partnerOf(id string) string {
	_, ids := household(id)
	return ids[len(ids)-1-slices.Index(ids, id)]
}
