package graph

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"hash"
	"net/http"
	"strings"
	"sync"

	"github.com/enneo-facade/facade/upstream"
)

// Credential is what a request may call the upstream with.
type Credential struct {
	// Upstream is the token sent upstream and its scope, an HMAC of the token under the
	// server's secret: everything cached or shared is keyed by the scope, so one caller never
	// receives what was fetched with another caller's token, and no raw token is part of a key.
	Upstream upstream.Credential
	// Bearer is the caller's own bearer token, even when a service token replaces it upstream;
	// the admin check compares it.
	Bearer string
	// Err is why the request has no usable credential, if it has none.
	Err error
}

// Authenticator derives a request's Credential.
type Authenticator struct {
	serviceToken string
	macs         sync.Pool // of hash.Hash: HMAC-SHA-256 keyed with the secret, ready to reuse
}

// NewAuthenticator returns an Authenticator. With a service token every request uses it;
// otherwise each caller's own bearer token is forwarded. secret keys the scope HMAC.
func NewAuthenticator(serviceToken string, secret []byte) *Authenticator {
	a := &Authenticator{serviceToken: serviceToken}
	secret = bytes.Clone(secret)
	a.macs.New = func() any { return hmac.New(sha256.New, secret) }
	return a
}

var errNotBearer = errors.New("the Authorization header must be \"Bearer <token>\"")

// Credential reads the request's Authorization header.
func (a *Authenticator) Credential(r *http.Request) Credential {
	var c Credential
	if h := strings.TrimSpace(r.Header.Get("Authorization")); h != "" {
		scheme, t, ok := strings.Cut(h, " ")
		c.Bearer = strings.TrimSpace(t)
		if !ok || !strings.EqualFold(scheme, "Bearer") || c.Bearer == "" {
			c.Bearer, c.Err = "", errNotBearer
		}
	}
	token := a.serviceToken
	if token == "" {
		token = c.Bearer
	}
	if token == "" {
		if c.Err == nil {
			c.Err = upstream.ErrNoCredential
		}
		return c
	}
	c.Err = nil // a service token serves callers whatever their header says
	mac := a.macs.Get().(hash.Hash)
	defer a.macs.Put(mac)
	mac.Reset()
	mac.Write([]byte(token))
	var sum [sha256.Size]byte
	c.Upstream = upstream.Credential{Token: token, Scope: hex.EncodeToString(mac.Sum(sum[:0])[:16])}
	return c
}

// rateKey is whose budget the request's operations are paid from: the credential's scope (no
// raw token), or one budget for all requests without a credential, which the upstream answers
// nothing anyway.
func (c Credential) rateKey() string {
	if c.Err != nil || c.Upstream.Scope == "" {
		return "anonymous"
	}
	return c.Upstream.Scope
}

// isAdmin reports whether the caller presented the admin token; never with an empty one.
func (c Credential) isAdmin(adminToken string) bool {
	return adminToken != "" && subtle.ConstantTimeCompare([]byte(c.Bearer), []byte(adminToken)) == 1
}
