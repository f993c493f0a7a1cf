package graph

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"

	"github.com/enneo-facade/facade/upstream"
)

// Credential is what a request may call the upstream with.
type Credential struct {
	// Token is the bearer token sent upstream; empty when there is none.
	Token string
	// Scope is an HMAC of the token under the server's secret: everything cached or shared is
	// keyed by it, so one caller never receives what was fetched with another caller's token,
	// and no raw token is ever part of a key.
	Scope string
	// Err is why the request has no usable credential, if it has none.
	Err error
}

// Authenticator derives a request's Credential.
type Authenticator struct {
	serviceToken string
	secret       []byte
}

// NewAuthenticator returns an Authenticator. With a service token every request uses it;
// otherwise each caller's own bearer token is forwarded. secret keys the scope HMAC.
func NewAuthenticator(serviceToken string, secret []byte) *Authenticator {
	return &Authenticator{serviceToken: serviceToken, secret: secret}
}

var errNotBearer = errors.New("the Authorization header must be \"Bearer <token>\"")

// Credential reads the request's Authorization header.
func (a *Authenticator) Credential(r *http.Request) Credential {
	token := a.serviceToken
	if token == "" {
		h := strings.TrimSpace(r.Header.Get("Authorization"))
		if h == "" {
			return Credential{Err: upstream.ErrNoCredential}
		}
		scheme, t, ok := strings.Cut(h, " ")
		token = strings.TrimSpace(t)
		if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
			return Credential{Err: errNotBearer}
		}
	}
	mac := hmac.New(sha256.New, a.secret)
	mac.Write([]byte(token))
	return Credential{Token: token, Scope: hex.EncodeToString(mac.Sum(nil)[:16])}
}
