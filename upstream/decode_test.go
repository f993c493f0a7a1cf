package upstream

import (
	"encoding/json"
	"os"
	"reflect"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/enneo-facade/facade/upstream/demo"
)

var berlin = mustZone("Europe/Berlin")

func mustZone(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

func mustDecode(t *testing.T, body []byte) *History {
	t.Helper()
	var h History
	if _, err := decodeLenient(body, &h); err != nil {
		t.Fatalf("decode: %v", err)
	}
	h.inZone(berlin)
	return &h
}

func mustRead(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// undecodable walks v and lists the paths of every field an Issues recorded.
func undecodable(v reflect.Value, path string) []string {
	var out []string
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			out = undecodable(v.Elem(), path)
		}
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Pointer {
			for i := range v.Len() {
				out = append(out, undecodable(v.Index(i), path+"["+strconv.Itoa(i)+"]")...)
			}
		}
	case reflect.Struct:
		if f := v.FieldByName("Issues"); f.IsValid() {
			for _, name := range f.Addr().Interface().(*Issues).bad {
				out = append(out, path+"."+name)
			}
		}
		for i := range v.NumField() {
			if name := jsonNames(v.Type())[i]; name != "" {
				out = append(out, undecodable(v.Field(i), path+"."+name)...)
			}
		}
	}
	return out
}

func TestDecodeExample(t *testing.T) {
	h := mustDecode(t, demo.ExampleHistory())
	if got := undecodable(reflect.ValueOf(h), "history"); len(got) > 0 {
		t.Fatalf("undecodable fields in the example: %v", got)
	}
	if len(h.Tickets) != 1 {
		t.Fatalf("len(Tickets) = %d, want 1", len(h.Tickets))
	}
	tk := h.Tickets[0]
	c := tk.Customer.Contracts[0]
	checks := []struct {
		name      string
		got, want any
	}{
		{"id", *tk.ID, ID("376189")},
		{"contractId", *tk.ContractID, ID("746839")},
		{"customer.id", *tk.Customer.ID, ID("83771")},
		{"customer.phone", *tk.Customer.Phone, Text("49123456789")},
		{"contract.phone", *c.Phone, Text("491721041689")},
		{"gridOperatorCode", *c.GridOperatorCode, Text("1000000000000")},
		{"agent.phone", *tk.Agent.Phone, Text("+49 123 456789")},
		{"agent.isSsoOnly", *tk.Agent.IsSsoOnly, Flag(false)},
		{"createdAt", tk.CreatedAt.Format(time.RFC3339), "2022-12-13T22:18:06+01:00"},
		{"lastSeen (summer time)", tk.Agent.LastSeen.Format(time.RFC3339), "2022-08-12T12:21:21+02:00"},
		{"autoExecuteAt", tk.AutoExecuteAt.Format(time.RFC3339), "2023-11-07T05:31:56Z"},
		{"signupDate", c.SignupDate.Format(time.RFC3339), "2022-08-22T00:00:00Z"},
		{"endDate", c.EndDate, (*Time)(nil)},
		{"modifiedAt", tk.ModifiedAt, (*Time)(nil)},
		{"registers", string(c.Registers), "[\n              {}\n            ]"},
		{"rawData", string(tk.RawData), "null"},
		{"subchannels", tk.Tags[0].Subchannels, []ID{"2", "4"}},
		{"attachment id", *tk.Attachments[0].ID, ID("103013960646,")},
		{"intent tags", tk.Intents[0].Tags, StringList(nil)},
		{"outcome executedAt", tk.Intents[0].Outcome.ExecutedAt.Format(time.RFC3339), "2022-12-13T22:18:06+01:00"},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %#v, want %#v", c.name, c.got, c.want)
		}
	}
}

func TestDecodeHazards(t *testing.T) {
	h := mustDecode(t, mustRead(t, "hazards.json"))
	if got := undecodable(reflect.ValueOf(h), "history"); len(got) > 0 {
		t.Fatalf("hazards must all decode, undecodable: %v", got)
	}
	a, b := h.Tickets[0], h.Tickets[1]
	checks := []struct {
		name      string
		got, want any
	}{
		{"string id", *a.ID, ID("376190")},
		{"number id", *b.ID, ID("376191")},
		{"number customerId", *a.CustomerID, ID("123")},
		{"string contract id", *a.Customer.Contracts[0].ID, ID("C-1001")},
		{"isSsoOnly false", *a.Agent.IsSsoOnly, Flag(false)},
		{"isSsoOnly 1", *a.AssignedAgents[0].IsSsoOnly, Flag(true)},
		{"isSsoOnly true", *a.WorkedOnBy[0].IsSsoOnly, Flag(true)},
		{"isCustomerActive 0", *a.IsCustomerActive, Flag(false)},
		{"tags string", a.Intents[0].Tags, StringList{"prePopulated"}},
		{"tags array", b.Intents[0].Tags, StringList{"prePopulated", "writesToErp"}},
		{"unknown status", *a.Status, "escalatedToLegal"},
		{"unix string", a.Customer.Contracts[0].SignupDate.Format(time.RFC3339), "2022-08-22T00:00:00Z"},
		{"iso with millis", a.AutoExecuteAt.Format(time.RFC3339Nano), "2023-11-07T06:31:56.25+01:00"},
		{"php zero date", a.ClosedAt.IsZero(), true},
		{"properties object", string(a.Tags[0].Properties), `{
            "slaMode": "business"
          }`},
		{"null tag id", a.Tags[0].ID, (*ID)(nil)},
		{"5 GiB size", *a.Attachments[0].Size, 5368709120.0},
		{"null status", b.Status, (*string)(nil)},
		{"null customer phone", b.Customer.Phone, (*Text)(nil)},
		{"null createdAt", b.CreatedAt, (*Time)(nil)},
		{"null list", b.To, []string(nil)},
		{"null JSON", string(b.RawData), "null"},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %#v, want %#v", c.name, c.got, c.want)
		}
	}
}

func TestDecodeUndecodableCostsOneField(t *testing.T) {
	h := mustDecode(t, mustRead(t, "undecodable.json"))
	got := undecodable(reflect.ValueOf(h), "history")
	want := []string{
		"history.tickets[0].isEscalated",
		"history.tickets[0].createdAt",
		"history.tickets[0].customerLegitimation",
		"history.tickets[0].agent",
		"history.tickets[0].tagIds",
		"history.tickets[0].customer.phone",
		"history.tickets[0].attachments[0].width",
		"history.tickets[0].intents[0].outcome.executedAt",
		"history.tickets[1].id",
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("undecodable = %v\nwant %v", got, want)
	}
	tk := h.Tickets[0]
	if tk.CreatedAt != nil || tk.Agent != nil || tk.Customer.Phone != nil {
		t.Errorf("undecodable fields must be left empty")
	}
	// Siblings of every bad value survive.
	if *tk.ID != "376189" || *tk.Subject == "" || *tk.Customer.Email != "tom@mustermann.de" ||
		*tk.Attachments[0].Height != 4160 || *tk.Intents[0].Outcome.TxID != "c916167c94" {
		t.Errorf("siblings of undecodable fields were lost: %+v", tk)
	}
}

// TestDecodeLenientFindsKeysAsTheStrictDecoderDoes: once a value is undecodable, fields are
// still found whatever the case of their keys (as goccy/go-json finds them), and a field that
// is absent stays absent, even beside a key that is empty.
func TestDecodeLenientFindsKeysAsTheStrictDecoderDoes(t *testing.T) {
	var h History
	lenient, err := decodeLenient([]byte(`{"tiCkets":[{"":"x","SUBJECT":"s","createdAt":"next Tuesday","intents":[{"outCome":{"TxId":"t"}}]}]}`), &h)
	if err != nil || !lenient || len(h.Tickets) != 1 {
		t.Fatalf("lenient %v, %d tickets, %v; want the lenient decoder and 1 ticket", lenient, len(h.Tickets), err)
	}
	tk := h.Tickets[0]
	if tk.Subject == nil || *tk.Subject != "s" || tk.Intents[0].Outcome.TxID == nil || *tk.Intents[0].Outcome.TxID != "t" {
		t.Errorf("fields under keys of another case were lost: %+v", tk)
	}
	if tk.ID != nil || tk.Undecodable("id") || tk.Status != nil {
		t.Errorf("absent fields took the empty key's value: id %v, status %v", tk.ID, tk.Status)
	}
}

func TestParseTime(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"1661126400", "2022-08-22T00:00:00Z"},
		{"1661126400000", "2022-08-22T00:00:00Z"},
		{"2022-12-13 22:18:06", "2022-12-13T22:18:06+01:00"},
		{"2022-07-13 22:18:06", "2022-07-13T22:18:06+02:00"},
		{"2022-12-13T22:18:06", "2022-12-13T22:18:06+01:00"},
		{"2022-12-13", "2022-12-13T00:00:00+01:00"},
		{"2023-11-07T05:31:56Z", "2023-11-07T05:31:56Z"},
		{"2023-11-07T05:31:56+0530", "2023-11-07T05:31:56+05:30"},
		{"2023-11-07 05:31:56+02:00", "2023-11-07T05:31:56+02:00"},
		{"", "0001-01-01T00:00:00Z"},
	}
	for _, tt := range tests {
		got, err := ParseTime(tt.in)
		if err != nil {
			t.Errorf("ParseTime(%q): %v", tt.in, err)
			continue
		}
		if s := got.In(berlin).Format(time.RFC3339); s != tt.want {
			t.Errorf("ParseTime(%q).In(Berlin) = %s, want %s", tt.in, s, tt.want)
		}
	}
	for _, bad := range []string{"next Tuesday", "13.12.2022", "2022-13-45 99:00:00"} {
		if _, err := ParseTime(bad); err == nil {
			t.Errorf("ParseTime(%q) succeeded, want an error", bad)
		}
	}
}

func TestScalarsRejectWrongKinds(t *testing.T) {
	for _, in := range []string{`{}`, `[]`, `true`, `null`} {
		var id ID
		if err := json.Unmarshal([]byte(in), &id); err == nil {
			t.Errorf("ID from %s succeeded, want an error", in)
		}
	}
	for _, in := range []string{`2`, `"yes"`, `{}`} {
		var f Flag
		if err := json.Unmarshal([]byte(in), &f); err == nil {
			t.Errorf("Flag from %s succeeded, want an error", in)
		}
	}
}
