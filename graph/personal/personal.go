// Package personal is what personal data is in the schema and what a caller may see of it: the
// kinds fields are marked with (@personal in schema.graphqls), the policies callers read them
// under, and the pseudonyms masked values become (docs/personal-data.md).
package personal

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"regexp"
	"strings"
	"sync"
	"unicode"

	"github.com/vektah/gqlparser/v2/ast"
)

// Kind is the kind of personal data a field holds; None for a field that holds none.
type Kind uint8

const (
	None Kind = iota
	Name
	Email
	Phone
	Address
	IBAN
	FreeText
)

var kindNames = [...]string{None: "", Name: "NAME", Email: "EMAIL", Phone: "PHONE", Address: "ADDRESS", IBAN: "IBAN", FreeText: "FREE_TEXT"}

// String is the kind's name in the schema's PersonalKind enum.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return ""
}

// KindOf returns the kind def is marked with, @personal(kind: ...), or None.
func KindOf(def *ast.FieldDefinition) Kind {
	if def == nil || len(def.Directives) == 0 { // most fields: no directive to look through
		return None
	}
	d := def.Directives.ForName("personal")
	if d == nil {
		return None
	}
	if a := d.Arguments.ForName("kind"); a != nil && a.Value != nil {
		for k, n := range kindNames {
			if k > 0 && n == a.Value.Raw {
				return Kind(k)
			}
		}
	}
	return FreeText // marked, of a kind this build does not know: shown to no one as it is
}

// Kinds is a set of kinds.
type Kinds uint8

// With returns s with k in it.
func (s Kinds) With(k Kind) Kinds { return s | 1<<k }

// Names are the names of the kinds in s, in the enum's order.
func (s Kinds) Names() []string {
	names := []string{}
	for k := Name; k <= FreeText; k++ {
		if s&(1<<k) != 0 {
			names = append(names, k.String())
		}
	}
	return names
}

// Policy is what a caller sees of personal data.
type Policy uint8

const (
	// Allow shows personal data as it is.
	Allow Policy = iota
	// Mask shows identifiers as pseudonyms, addresses as their postal code and city, and
	// free text as null.
	Mask
	// Deny refuses operations that select personal data.
	Deny
)

var policyNames = [...]string{Allow: "allow", Mask: "mask", Deny: "deny"}

func (p Policy) String() string { return policyNames[p] }

// ParsePolicy reads allow, mask or deny.
func ParsePolicy(s string) (Policy, error) {
	for p, n := range policyNames {
		if s == n {
			return Policy(p), nil
		}
	}
	return Allow, fmt.Errorf("%q: want allow, mask or deny", s)
}

// Masker masks values: the same value gives the same pseudonym under the same secret, on every
// replica and in every request, so that masked answers can still be counted and joined.
type Masker struct {
	macs sync.Pool // of hash.Hash: HMAC-SHA-256 under the secret
}

// NewMasker returns a Masker whose pseudonyms are keyed by secret.
func NewMasker(secret []byte) *Masker {
	secret = append([]byte(nil), secret...)
	m := &Masker{}
	m.macs.New = func() any { return hmac.New(sha256.New, secret) }
	return m
}

// Mask returns what a masking caller sees of s, a value of kind k, and false where that is
// null: a pseudonym for an identifier, the postal code and city of an address, nothing of free
// text.
func (m *Masker) Mask(k Kind, s string) (string, bool) {
	switch k {
	case Name, Email, Phone, IBAN:
		n := Normalise(k, s)
		if n == "" {
			return "", s == "" // an empty value stays empty; one of only separators, null
		}
		return m.Pseudonym(n), true
	case Address:
		return PostalCodeAndCity(s)
	}
	return "", false
}

// Pseudonym is masked: and the first 16 hex digits of the HMAC-SHA-256 of normalised under the
// secret.
func (m *Masker) Pseudonym(normalised string) string {
	mac := m.macs.Get().(hash.Hash)
	defer m.macs.Put(mac)
	mac.Reset()
	mac.Write([]byte(normalised))
	var sum [sha256.Size]byte
	b := make([]byte, 0, len("masked:")+16)
	b = append(b, "masked:"...)
	return string(hex.AppendEncode(b, mac.Sum(sum[:0])[:8]))
}

// Normalise writes one identifier one way, so that its spellings share a pseudonym: an e-mail
// address in lower case, without a display name ("Tom <TOM@x.de>" is tom@x.de); a phone number
// as its digits, without the international prefix 00 ("+49 171 2345", "0049 1712345" and
// "491712345" are one); an IBAN without spaces, in upper case; a name with single spaces, in
// lower case.
func Normalise(k Kind, s string) string {
	switch k {
	case Email:
		if i, j := strings.LastIndexByte(s, '<'), strings.LastIndexByte(s, '>'); i >= 0 && j > i {
			s = s[i+1 : j]
		}
		return strings.ToLower(strings.TrimSpace(s))
	case Phone:
		digits := strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' {
				return r
			}
			return -1
		}, s)
		return strings.TrimPrefix(digits, "00")
	case IBAN:
		return strings.ToUpper(strings.Join(strings.Fields(s), ""))
	}
	return strings.ToLower(strings.Join(strings.FieldsFunc(s, unicode.IsSpace), " "))
}

// postalCity is a postal code of 4 or 5 digits and the place after it, as German, Austrian and
// Swiss addresses end ("Hugo-Junkers-Str. 5, 82031 Grünwald"), perhaps followed by a country.
var postalCity = regexp.MustCompile(`(?:^|[\s,])(\d{4,5})\s+([^\d,]*[^\d\s,])\s*(?:,[^\d]*)?$`)

// PostalCodeAndCity returns what an address keeps when masked, its postal code and city, and
// false when it has none to keep (a street alone).
func PostalCodeAndCity(s string) (string, bool) {
	m := postalCity.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return "", false
	}
	return m[1] + " " + m[2], true
}
