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

func bearer(token string) *http.Request {
	r, _ := http.NewRequest(http.MethodPost, "/", nil)
	r.Header.Set("Authorization", "Bearer "+token)
	return r
}

func TestParseAPIKeys(t *testing.T) {
	const h1, h2 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752"
	keys, err := ParseAPIKeys([]byte("# comment\n\npowerbi sha256:" + h1 + "\n  grafana " + h2 + "  \n"))
	if err != nil || len(keys) != 2 {
		t.Fatalf("ParseAPIKeys = %v, %v; want 2 keys", keys, err)
	}
	for _, tt := range []struct{ file, want string }{
		{"", "no keys"},
		{"powerbi", "line 1"},
		{"power bi " + h1, "line 1"},
		{"powerbi sha256:abc", "64 hex digits"},
		{"p/bi " + h1, "line 1"},
		{"a " + h1 + "\na " + h2, "given twice"},
		{"a " + h1 + "\nb " + h1, "the same key as a"},
	} {
		if _, err := ParseAPIKeys([]byte(tt.file)); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseAPIKeys(%q) = %v, want an error with %q", tt.file, err, tt.want)
		}
	}
}
