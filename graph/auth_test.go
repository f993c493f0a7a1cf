package graph

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
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
