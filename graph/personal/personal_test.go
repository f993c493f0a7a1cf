package personal

import (
	"regexp"
	"testing"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
)

var pseudonym = regexp.MustCompile(`^masked:[0-9a-f]{16}$`)

func TestMaskIdentifiers(t *testing.T) {
	m := NewMasker([]byte("one secret"))
	same := []struct {
		kind Kind
		a, b string
	}{
		{Email, "Tom@Mustermann.de", " tom@mustermann.de"},
		{Email, "Tom Mustermann <tom@mustermann.de>", "tom@mustermann.de"},
		{Phone, "+49 123 456789", "49123456789"},
		{Phone, "0049 (123) 456-789", "49123456789"},
		{IBAN, "DE89 3704 0044 0532 0130 00", "de89370400440532013000"},
		{Name, "Max  Mustermann", "max mustermann"},
	}
	for _, c := range same {
		a, okA := m.Mask(c.kind, c.a)
		b, okB := m.Mask(c.kind, c.b)
		if !okA || !okB || a != b || !pseudonym.MatchString(a) {
			t.Errorf("%s %q -> %q, %q -> %q: want one pseudonym masked:<16 hex>", c.kind, c.a, a, c.b, b)
		}
	}
	a, _ := m.Mask(Email, "tom@mustermann.de")
	b, _ := m.Mask(Email, "anna@mustermann.de")
	other, _ := NewMasker([]byte("another secret")).Mask(Email, "tom@mustermann.de")
	if a == b || a == other {
		t.Errorf("pseudonyms %q (tom), %q (anna), %q (tom, another secret): want all different", a, b, other)
	}
	if s, ok := m.Mask(Email, ""); !ok || s != "" {
		t.Errorf("an empty address masks to %q, %v; want it empty", s, ok)
	}
}

func TestMaskAddressesAndFreeText(t *testing.T) {
	m := NewMasker([]byte("s"))
	for in, want := range map[string]string{
		"Hugo-Junkers-Str. 5, 82031 Grünwald":     "82031 Grünwald",
		"Rechnungssstraße 24, 10587 Berlin":       "10587 Berlin",
		"Am Markt 1, 1010 Wien, Österreich":       "1010 Wien",
		"Hauptstr. 3 , 60311  Frankfurt am Main ": "60311 Frankfurt am Main",
		"Hugo-Junkers-Str. 5":                     "",
		"Postfach 1234":                           "",
	} {
		got, ok := m.Mask(Address, in)
		if got != want || ok != (want != "") {
			t.Errorf("address %q masks to %q, %v; want %q", in, got, ok, want)
		}
	}
	if s, ok := m.Mask(FreeText, "Sehr geehrte Damen und Herren"); ok || s != "" {
		t.Errorf("free text masks to %q, %v; want null", s, ok)
	}
}

func TestKindOf(t *testing.T) {
	schema := gqlparser.MustLoadSchema(&ast.Source{Input: `
		directive @personal(kind: PersonalKind!) on FIELD_DEFINITION
		enum PersonalKind { NAME EMAIL PHONE ADDRESS IBAN FREE_TEXT }
		type Query {
			email: String @deprecated @personal(kind: EMAIL)
			iban: String @personal(kind: IBAN)
			status: String
		}`})
	q := schema.Types["Query"]
	for name, want := range map[string]Kind{"email": Email, "iban": IBAN, "status": None} {
		if got := KindOf(q.Fields.ForName(name)); got != want {
			t.Errorf("KindOf(%s) = %v, want %v", name, got, want)
		}
	}
	if got := Kinds(0).With(IBAN).With(Email).With(Email).Names(); len(got) != 2 || got[0] != "EMAIL" || got[1] != "IBAN" {
		t.Errorf("Names = %v, want [EMAIL IBAN]", got)
	}
}

func TestParsePolicy(t *testing.T) {
	for _, s := range []string{"allow", "mask", "deny"} {
		if p, err := ParsePolicy(s); err != nil || p.String() != s {
			t.Errorf("ParsePolicy(%q) = %v, %v", s, p, err)
		}
	}
	if _, err := ParsePolicy("Mask"); err == nil {
		t.Error("ParsePolicy(Mask): want an error")
	}
}
