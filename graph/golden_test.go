package graph

import (
	"encoding/json"
	"net/http"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/vektah/gqlparser/v2/ast"

	"github.com/enneo-facade/facade/graph/queries"
	"github.com/enneo-facade/facade/upstream/demo"
)

// berlin is where the upstream's zoneless timestamps are read by default.
var berlin, _ = time.LoadLocation("Europe/Berlin")

var naiveTime = regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$`)

// normalise turns an upstream JSON value of GraphQL type typ into what the API documents:
// every schema field present (null when the upstream omits it), ids and number-valued strings
// as strings, timestamps in RFC 3339 (zoneless ones in Europe/Berlin, unix seconds in UTC).
// It fails the test for any upstream field the schema lacks.
func normalise(t *testing.T, s *ast.Schema, typ *ast.Type, v any, path string) any {
	if v == nil {
		return nil
	}
	if typ.Elem != nil {
		var out []any
		for _, e := range v.([]any) {
			out = append(out, normalise(t, s, typ.Elem, e, path+"[]"))
		}
		return out
	}
	def := s.Types[typ.Name()]
	switch {
	case def.Kind == ast.Object:
		obj := v.(map[string]any)
		out := map[string]any{}
		for name := range obj {
			if def.Fields.ForName(name) == nil {
				t.Errorf("upstream field %s.%s is missing from the schema", path, name)
			}
		}
		for _, f := range def.Fields {
			if strings.HasPrefix(f.Name, "__") || def.Name == "Contract" && f.Name == "history" {
				continue
			}
			out[f.Name] = normalise(t, s, f.Type, obj[f.Name], path+"."+f.Name)
		}
		return out
	case def.Name == "ID" || def.Name == "String":
		if n, ok := v.(json.Number); ok {
			return n.String()
		}
	case def.Name == "DateTime":
		if n, ok := v.(json.Number); ok {
			sec, _ := n.Int64()
			return time.Unix(sec, 0).UTC().Format(time.RFC3339)
		}
		if s := v.(string); naiveTime.MatchString(s) {
			tm, _ := time.ParseInLocation(time.DateTime, s, berlin)
			return tm.Format(time.RFC3339)
		}
	case def.Name == "Boolean":
		if n, ok := v.(json.Number); ok { // the upstream's 0/1 booleans
			return n.String() != "0"
		}
	case def.Name == "Float" || def.Name == "Int":
		f, _ := v.(json.Number).Float64()
		return f
	}
	if n, ok := v.(json.Number); ok { // inside JSON scalars
		f, _ := n.Float64()
		return f
	}
	if m, ok := v.(map[string]any); ok && def.Name == "JSON" {
		for k, e := range m {
			m[k] = normalise(t, s, typ, e, path)
		}
	}
	if l, ok := v.([]any); ok && def.Name == "JSON" {
		for i, e := range l {
			l[i] = normalise(t, s, typ, e, path)
		}
	}
	return v
}

func decodeNumbers(t *testing.T, b []byte) any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// queryFixture serves body for every contract and runs query against it.
func queryFixture(t *testing.T, body []byte, query string) gqlResponse {
	t.Helper()
	up := newTestUpstream(t, func(w http.ResponseWriter, r *http.Request, id string) {
		w.Write(body)
	})
	api, _ := newTestAPI(t, up, 0)
	return mustQuery(t, api, "token", query, nil)
}

// everyTicketField is a query for contract 746839 with every field of its tickets selected.
func everyTicketField(schema *ast.Schema) string {
	return `{ contract(id: "746839") { id history { tickets ` + queries.EveryField(schema, "Ticket") + ` } } }`
}

func TestGoldenEveryField(t *testing.T) {
	example := demo.ExampleHistory()
	schema := NewExecutableSchema(Config{Resolvers: &Resolver{}}).Schema()
	resp := queryFixture(t, example, everyTicketField(schema))
	if len(resp.Errors) > 0 {
		t.Fatalf("errors: %s", resp.raw)
	}
	var got struct {
		History struct{ Tickets []json.RawMessage }
	}
	if err := json.Unmarshal(resp.Data["contract"], &got); err != nil {
		t.Fatal(err)
	}
	if len(got.History.Tickets) != 1 {
		t.Fatalf("tickets = %d, want 1", len(got.History.Tickets))
	}
	ticketType := &ast.Type{NamedType: "Ticket"}
	want := normalise(t, schema, ticketType, decodeNumbers(t, example).(map[string]any)["tickets"].([]any)[0], "Ticket")
	gotTicket := normalise(t, schema, ticketType, decodeNumbers(t, got.History.Tickets[0]), "Ticket")
	if !reflect.DeepEqual(gotTicket, want) {
		g, _ := json.MarshalIndent(gotTicket, "", " ")
		w, _ := json.MarshalIndent(want, "", " ")
		t.Errorf("ticket differs from the example\ngot:  %s\nwant: %s", g, w)
	}
	// Spot checks that the normalisation above cannot hide.
	for _, s := range []string{`"phone":"49123456789"`, `"gridOperatorCode":"1000000000000"`, `"id":"376189"`,
		`"createdAt":"2022-12-13T22:18:06+01:00"`, `"signupDate":"2022-08-22T00:00:00Z"`, `"isSsoOnly":false`} {
		if !strings.Contains(resp.raw, s) {
			t.Errorf("response lacks %s", s)
		}
	}
}

func TestHazardsDecodeWithoutErrors(t *testing.T) {
	schema := NewExecutableSchema(Config{Resolvers: &Resolver{}}).Schema()
	resp := queryFixture(t, mustReadFile(t, "../upstream/testdata/hazards.json"), everyTicketField(schema))
	if len(resp.Errors) > 0 {
		t.Fatalf("errors: %s", resp.raw)
	}
	for _, s := range []string{`"status":"escalatedToLegal"`, `"tags":["prePopulated"]`, `"tags":["prePopulated","writesToErp"]`,
		`"customerId":"123"`, `"id":"C-1001"`, `"size":5368709120`, `"closedAt":null`, `"autoExecuteAt":"2023-11-07T06:31:56.25+01:00"`} {
		if !strings.Contains(resp.raw, s) {
			t.Errorf("response lacks %s", s)
		}
	}
}

func TestUndecodableValueCostsItsField(t *testing.T) {
	resp := queryFixture(t, mustReadFile(t, "../upstream/testdata/undecodable.json"), `{ contract(id: "746839") { id history { tickets {
		id subject createdAt isEscalated agent { id } customer { email phone }
		attachments { name width } intents { outcome { txId executedAt } }
	} } } }`)
	for _, path := range []string{
		"contract.history.tickets.0.createdAt",
		"contract.history.tickets.0.isEscalated",
		"contract.history.tickets.0.agent",
		"contract.history.tickets.0.customer.phone",
		"contract.history.tickets.0.attachments.0.width",
		"contract.history.tickets.0.intents.0.outcome.executedAt",
		"contract.history.tickets.1.id",
	} {
		if ext := resp.errorAt(path); ext == nil || ext["code"] != CodeUpstreamBadResponse {
			t.Errorf("error at %s = %v, want UPSTREAM_BAD_RESPONSE", path, ext)
		}
	}
	if len(resp.Errors) != 7 {
		t.Errorf("got %d errors, want 7: %s", len(resp.Errors), resp.raw)
	}
	for _, s := range []string{`"id":"746839"`, `"id":null,"subject":"second ticket"`, `"subject":"I want to relocate`, `"email":"tom@mustermann.de"`, `"createdAt":null`, `"width":null`, `"txId":"c916167c94"`} {
		if !strings.Contains(resp.raw, s) {
			t.Errorf("response lacks %s: %s", s, resp.raw)
		}
	}
}
