package graph

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/enneo-facade/facade/graph/personal"
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
	// Key is the name of the API key the caller presented, where keys are required.
	Key string
	// Personal is what the caller sees of personal data: its key's policy, or the one of
	// callers without a policy of their own (PERSONAL_DATA).
	Personal personal.Policy
}

// Authenticator derives a request's Credential.
type Authenticator struct {
	serviceToken string
	macs         sync.Pool // of hash.Hash: HMAC-SHA-256 keyed with the secret, ready to reuse
	keys         APIKeys   // nil: callers need none
	personal     personal.Policy
}

// APIKeys are the keys callers of a facade with a service token must present, by the SHA-256
// of each key (the keys themselves are never kept).
type APIKeys map[[sha256.Size]byte]APIKey

// APIKey is one of the APIKeys.
type APIKey struct {
	Name string
	// Personal is what callers with the key see of personal data, where its line says
	// (HasPolicy); otherwise they are callers without a policy of their own.
	Personal  personal.Policy
	HasPolicy bool
}

// ParseAPIKeys reads a file of named API keys, one per line: a name (letters, digits, '.', '_'
// or '-'), the SHA-256 of the key in hex, optionally written sha256:<hex>, and optionally the
// key's policy on personal data, personal=allow, mask or deny; blank lines and lines starting
// with # are skipped. Names and keys must be unique.
func ParseAPIKeys(data []byte) (APIKeys, error) {
	keys := APIKeys{}
	names := map[string]bool{}
	for n, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) < 2 || len(fields) > 3 || !keyName.MatchString(fields[0]) {
			return nil, fmt.Errorf("line %d: want a name, the SHA-256 of its key and optionally personal=allow|mask|deny, e.g. powerbi sha256:9f86d0... personal=mask", n+1)
		}
		sum, err := hex.DecodeString(strings.TrimPrefix(fields[1], "sha256:"))
		if err != nil || len(sum) != sha256.Size {
			return nil, fmt.Errorf("line %d (%s): the key's SHA-256 must be 64 hex digits (printf %%s \"$KEY\" | sha256sum)", n+1, fields[0])
		}
		key := APIKey{Name: fields[0]}
		if len(fields) == 3 {
			policy, ok := strings.CutPrefix(fields[2], "personal=")
			if key.Personal, err = personal.ParsePolicy(policy); !ok || err != nil {
				return nil, fmt.Errorf("line %d (%s): %q: want personal=allow, personal=mask or personal=deny", n+1, fields[0], fields[2])
			}
			key.HasPolicy = true
		}
		h := [sha256.Size]byte(sum)
		switch {
		case names[fields[0]]:
			return nil, fmt.Errorf("line %d: the name %s is given twice", n+1, fields[0])
		case keys[h].Name != "":
			return nil, fmt.Errorf("line %d (%s): the same key as %s", n+1, fields[0], keys[h].Name)
		}
		keys[h], names[fields[0]] = key, true
	}
	if len(keys) == 0 {
		return nil, errors.New("no keys")
	}
	return keys, nil
}

var keyName = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// RequireKeys makes every caller present one of keys as its bearer token; with a service token
// the facade is otherwise open to anyone who reaches it.
func (a *Authenticator) RequireKeys(keys APIKeys) *Authenticator {
	a.keys = keys
	return a
}

// PersonalData sets the policy of callers without one of their own: every caller in
// pass-through mode, and the keys whose lines name none.
func (a *Authenticator) PersonalData(p personal.Policy) *Authenticator {
	a.personal = p
	return a
}

// Masks reports whether some caller's policy masks personal data.
func (a *Authenticator) Masks() bool {
	if a.personal == personal.Mask {
		return true
	}
	for _, k := range a.keys {
		if k.HasPolicy && k.Personal == personal.Mask {
			return true
		}
	}
	return false
}

var errNoKey = errors.New("this API needs a key: send Authorization: Bearer <your API key>")

// Caller is the name of the API key a request presents, "" for none: the access log names
// callers by it, never by the key.
func (a *Authenticator) Caller(r *http.Request) string {
	if a.keys == nil {
		return ""
	}
	return a.Credential(r).Key
}

// refused answers a request without one of the keys that are required, and reports whether it
// did: nothing else runs for it, and no upstream call is made.
func (a *Authenticator) refused(w http.ResponseWriter, c Credential, obs Observer) bool {
	if a.keys == nil || c.Err == nil {
		return false
	}
	obs.Refused(CodeUnauthenticated)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("WWW-Authenticate", `Bearer realm="graphql"`)
	w.WriteHeader(http.StatusUnauthorized)
	writeRequestError(w, &graphql.Response{Errors: gqlerror.List{{Message: errNoKey.Error(), Extensions: map[string]any{"code": CodeUnauthenticated}}}})
	return true
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
	c := Credential{Personal: a.personal}
	if h := strings.TrimSpace(r.Header.Get("Authorization")); h != "" {
		scheme, t, ok := strings.Cut(h, " ")
		c.Bearer = strings.TrimSpace(t)
		if !ok || !strings.EqualFold(scheme, "Bearer") || c.Bearer == "" {
			c.Bearer, c.Err = "", errNotBearer
		}
	}
	if a.keys != nil {
		key := a.keys[sha256.Sum256([]byte(c.Bearer))]
		if c.Key = key.Name; c.Bearer == "" || c.Key == "" {
			c.Err = errNoKey
			return c
		}
		if key.HasPolicy {
			c.Personal = key.Personal
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
	switch {
	case c.Key != "":
		return "key:" + c.Key
	case c.Err != nil || c.Upstream.Scope == "":
		return "anonymous"
	}
	return c.Upstream.Scope
}

// caller is who the audit says read: the API key's name, or the credential's scope where
// callers send their own tokens (or none is required).
func (c Credential) caller() string {
	if c.Key != "" {
		return c.Key
	}
	return c.Upstream.Scope
}

// cacheScope is what the response cache keys the caller's answers by: its credential's scope,
// and its policy, so that an answer kept for one policy is never served under another.
func (c Credential) cacheScope() string {
	if c.Personal == personal.Allow {
		return c.Upstream.Scope
	}
	return c.Upstream.Scope + "/" + c.Personal.String()
}

// isAdmin reports whether the caller presented the admin token; never with an empty one.
func (c Credential) isAdmin(adminToken string) bool {
	return adminToken != "" && subtle.ConstantTimeCompare([]byte(c.Bearer), []byte(adminToken)) == 1
}

// ReadAPIKeys reads an API keys file (see ParseAPIKeys); the admin token, if set, is accepted as a key of its own
// named admin, so that the invalidation mutation can still be sent.
func ReadAPIKeys(path, adminToken string) (APIKeys, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	keys, err := ParseAPIKeys(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if adminToken != "" {
		if h := sha256.Sum256([]byte(adminToken)); keys[h].Name == "" {
			keys[h] = APIKey{Name: "admin"}
		}
	}
	return keys, nil
}
