package graph

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/enneo-facade/facade/graph/personal"
)

// TestScopeIsTheTokensHMAC: the scope keys everything cached, so it must be the HMAC of the
// request's own token under the secret, however many requests share the pooled HMACs at once.
func TestScopeIsTheTokensHMAC(t *testing.T) {
	secret := []byte("scope-secret")
	a := NewAuthenticator("", secret)
	want := func(token string) string {
		mac := hmac.New(sha256.New, secret)
		mac.Write([]byte(token))
		return hex.EncodeToString(mac.Sum(nil)[:16])
	}
	var wg sync.WaitGroup
	for i := range 64 {
		wg.Go(func() {
			for j := range 50 {
				token := fmt.Sprintf("token-%d-%d", i%7, j%3)
				c := a.Credential(bearer(token))
				if c.Err != nil || c.Upstream.Token != token || c.Upstream.Scope != want(token) {
					t.Errorf("%s: credential %+v, want scope %s", token, c.Upstream.Scope, want(token))
					return
				}
			}
		})
	}
	wg.Wait()
	if NewAuthenticator("", []byte("other")).Credential(bearer("x")).Upstream.Scope == a.Credential(bearer("x")).Upstream.Scope {
		t.Error("two secrets gave one scope")
	}
}

// TestPersonalPolicyOfCallers: a key's own policy rules; keys without one, and every caller in
// pass-through mode, have PERSONAL_DATA's.
func TestPersonalPolicyOfCallers(t *testing.T) {
	keys, err := ParseAPIKeys([]byte(fmt.Sprintf("bi %x personal=mask\nops %x personal=deny\ndesk %x", sha256.Sum256([]byte("bi-key")), sha256.Sum256([]byte("ops-key")), sha256.Sum256([]byte("desk-key")))))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		auth  *Authenticator
		token string
		want  personal.Policy
	}{
		{NewAuthenticator("svc", nil).RequireKeys(keys), "bi-key", personal.Mask},
		{NewAuthenticator("svc", nil).RequireKeys(keys), "ops-key", personal.Deny},
		{NewAuthenticator("svc", nil).RequireKeys(keys), "desk-key", personal.Allow},
		{NewAuthenticator("svc", nil).RequireKeys(keys).PersonalData(personal.Deny), "desk-key", personal.Deny},
		{NewAuthenticator("svc", nil).RequireKeys(keys).PersonalData(personal.Deny), "bi-key", personal.Mask},
		{NewAuthenticator("", nil), "their-own-token", personal.Allow},
		{NewAuthenticator("", nil).PersonalData(personal.Mask), "their-own-token", personal.Mask},
	} {
		if c := tt.auth.Credential(bearer(tt.token)); c.Err != nil || c.Personal != tt.want {
			t.Errorf("%s: policy %v (err %v), want %v", tt.token, c.Personal, c.Err, tt.want)
		}
	}
}

func bearer(token string) *http.Request {
	r, _ := http.NewRequest(http.MethodPost, "/", nil)
	r.Header.Set("Authorization", "Bearer "+token)
	return r
}

func TestParseAPIKeys(t *testing.T) {
	const h1, h2 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752"
	const h3, h4 = "fd61a03af4f77d870fc21e05e7e80678095c92d808cfb3b5c279ee04c74aca13", "a4e624d686e03ed2767c0abd85c14426b0b1157d2ce81d27bb4fe4f6f01d688a"
	keys, err := ParseAPIKeys([]byte("# comment\n\npowerbi sha256:" + h1 + "\n  grafana " + h2 + "  \n"))
	if err != nil || len(keys) != 2 {
		t.Fatalf("ParseAPIKeys = %v, %v; want 2 keys", keys, err)
	}
	keys, err = ParseAPIKeys([]byte("desk " + h1 + " personal=allow\npowerbi " + h2 + " personal=mask\ngrafana sha256:" + h3 + " personal=deny\nother " + h4))
	if err != nil {
		t.Fatal(err)
	}
	for h, want := range map[string]APIKey{
		h1: {Name: "desk", Personal: personal.Allow, HasPolicy: true}, h2: {Name: "powerbi", Personal: personal.Mask, HasPolicy: true},
		h3: {Name: "grafana", Personal: personal.Deny, HasPolicy: true}, h4: {Name: "other"},
	} {
		sum, _ := hex.DecodeString(h)
		if got := keys[[32]byte(sum)]; got != want {
			t.Errorf("key %s: %+v, want %+v", want.Name, got, want)
		}
	}
	for _, tt := range []struct{ file, want string }{
		{"", "no keys"},
		{"powerbi", "line 1"},
		{"power bi " + h1, "line 1"},
		{"powerbi sha256:abc", "64 hex digits"},
		{"p/bi " + h1, "line 1"},
		{"a " + h1 + "\na " + h2, "given twice"},
		{"a " + h1 + "\nb " + h1, "the same key as a"},
		{"a " + h1 + " personal=hide", "personal=allow, personal=mask or personal=deny"},
		{"a " + h1 + " mask", "personal=allow, personal=mask or personal=deny"},
		{"a " + h1 + " personal=mask x", "line 1"},
	} {
		if _, err := ParseAPIKeys([]byte(tt.file)); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseAPIKeys(%q) = %v, want an error with %q", tt.file, err, tt.want)
		}
	}
}
