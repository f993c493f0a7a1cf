// Package demo is a stand-in for Enneo's Mind API: an http.Handler that serves
// GET /contract/{contractId}/history with deterministic, realistic generated tickets. The
// facade's demo mode (no UPSTREAM_URL) and the tests use it instead of the real upstream, which
// is not reachable from our machines.
//
// Every request needs an "Authorization: Bearer <token>" header with any non-empty token;
// without one the answer is 401. Any id of 1 to 64 letters, digits, '-' and '_' (746839,
// 100001, C-1001) answers with its own history: 0 to 40 tickets, oldest first, always the same
// bytes for the same id. The tickets have every field of the upstream's example, filled with
// fake German data (Mustermann, example.de), and show the upstream's type hazards: string
// customerId/contractId beside numeric ids, isSsoOnly as 0/1 or false/true, intent tags as a
// string or an array, tag properties as [] or an object, large numbers for phones and
// gridOperatorCode, and three timestamp formats. About a third of the customers whose contract
// id ends in a digit hold a second contract (the id with its last bit flipped, 100000 and
// 100001), listed in customer.contracts, whose history answers too.
//
// GET /contract/{contractId} answers with the contract's own record, the same object its
// customer's contracts embed in the tickets, also for a contract without tickets. The ids
// below answer it as they answer its history (malformed: half of the record).
//
// Every id stands for one object across all histories, as Enneo's do: a ticket id is in one
// contract's history only, and an agent, tag, customer, contract, intent or attachment id shows
// the same object wherever it appears (ids.go says how ids are made).
//
// Contract 746839 (ExampleContractID) holds the upstream's example ticket unchanged, among
// generated tickets of the same customer.
//
// These ids exercise the error paths:
//
//	empty         200 {"tickets":[]}
//	not-found     404 {"error":"Contract not found"}
//	forbidden     403 with no body
//	server-error  500 with a JSON error object
//	rate-limited  429 with Retry-After: 30
//	malformed     200 application/json with a truncated, invalid body
//	html          200 text/html with a login page
//	slow          200 with a small history after a delay (2 s by default)
//	hang          no answer until the request's context ends
//
// Other paths answer 404, other methods than GET and HEAD 405, always with a small JSON body.
package demo

import (
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ExampleContractID is the contract whose history holds the ticket of the upstream's example
// response (ExampleHistory) unchanged, for customer 83771, Tom Mustermann.
const ExampleContractID = "746839"

// Contract ids with a fixed answer, for showing and testing how clients handle the upstream's
// failures.
const (
	// EmptyID answers 200 with {"tickets":[]}: a contract without tickets.
	EmptyID = "empty"
	// NotFoundID answers 404 with {"error":"Contract not found"}, as the upstream does for a
	// contract it does not know or does not show to the token.
	NotFoundID = "not-found"
	// ForbiddenID answers 403 with no body, as the upstream's docs show for "Unauthorized".
	ForbiddenID = "forbidden"
	// ServerErrorID answers 500 with a JSON error object.
	ServerErrorID = "server-error"
	// RateLimitedID answers 429 with "Retry-After: 30", which the upstream does not document
	// but any API behind a gateway may send.
	RateLimitedID = "rate-limited"
	// MalformedID answers 200 with a JSON content type and a truncated body that does not parse.
	MalformedID = "malformed"
	// HTMLID answers 200 with an HTML login page, which is what a wrong base URL (the web app
	// instead of /api/mind) or a captive proxy returns.
	HTMLID = "html"
	// SlowID answers with a small valid history after Options.SlowDelay, or not at all if the
	// request's context ends first.
	SlowID = "slow"
	// HangID never answers by itself: it waits until the request's context ends (or
	// Options.HangLimit passes), to show how clients time out.
	HangID = "hang"
)

// DefaultSlowDelay is how long SlowID waits unless Options.SlowDelay says otherwise.
const DefaultSlowDelay = 2 * time.Second

// retryAfterSeconds is the Retry-After value of RateLimitedID.
const retryAfterSeconds = 30

// maxCachedBodies bounds the memo of generated bodies, so a client walking through ids cannot
// grow the demo server's memory without limit.
const maxCachedBodies = 1024

// Options configures the handler. The zero value gives the documented defaults.
type Options struct {
	// SlowDelay is how long SlowID waits before answering; zero means DefaultSlowDelay. Tests
	// set it short.
	SlowDelay time.Duration
	// HangLimit, if positive, makes HangID give up after this long with 504, so a server whose
	// client never hangs up can still shut down; zero waits until the request's context ends.
	HangLimit time.Duration
}

// NewHandler returns the demo upstream with default options. It serves
// GET /contract/{contractId}/history at its root, like the upstream below {base}.
func NewHandler() http.Handler { return NewHandlerWith(Options{}) }

// NewHandlerWith returns the demo upstream configured by opts.
func NewHandlerWith(opts Options) http.Handler {
	if opts.SlowDelay <= 0 {
		opts.SlowDelay = DefaultSlowDelay
	}
	s := &server{opts: opts, bodies: make(map[string][]byte), limit: maxCachedBodies}
	mux := http.NewServeMux()
	// No method in the pattern: the mux's own 405 has a text body, ours is JSON.
	mux.HandleFunc("/contract/{id}/history", s.history)
	mux.HandleFunc("/contract/{id}", s.contract)
	mux.HandleFunc("/", notFound)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != path.Clean(r.URL.Path) {
			notFound(w, r) // the mux would redirect to the cleaned path, with an HTML body
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// notFound answers a path the upstream does not serve.
func notFound(w http.ResponseWriter, _ *http.Request) {
	writeError(w, http.StatusNotFound, "Not found")
}

// History returns the body the handler serves with status 200 for contract id, so tests can
// compare it with what a client made of it. It reports false for ids that answer otherwise:
// invalid ids and the special ids other than EmptyID and SlowID. The caller owns the slice.
func History(contractID string) ([]byte, bool) { return render(contractID) }

// Contract returns the body GET /contract/{id} serves with status 200 for contract id, the
// record its customer's contracts embed in its tickets; nil for ids that answer otherwise.
func Contract(contractID string) []byte {
	switch contractID {
	case NotFoundID, ForbiddenID, ServerErrorID, RateLimitedID, HTMLID, HangID:
		return nil
	}
	if !validID(contractID) {
		return nil
	}
	return encode(contractOf(contractID))
}

// render generates the 200 body of id.
func render(id string) ([]byte, bool) {
	switch id {
	case EmptyID:
		return []byte("{\"tickets\":[]}\n"), true
	case SlowID:
		return encode(generate(id, 2)), true
	case NotFoundID, ForbiddenID, ServerErrorID, RateLimitedID, MalformedID, HTMLID, HangID:
		return nil, false
	}
	if !validID(id) {
		return nil, false
	}
	return encode(generate(id, -1)), true
}

// server holds the handler's options and its memo of generated bodies.
type server struct {
	opts   Options
	mu     sync.Mutex
	bodies map[string][]byte // read-only once stored
	limit  int               // the most bodies kept
}

// body returns the memoised 200 body of id.
func (s *server) body(id string) ([]byte, bool) {
	s.mu.Lock()
	b, ok := s.bodies[id]
	s.mu.Unlock()
	if ok {
		return b, true
	}
	b, ok = render(id)
	if !ok {
		return nil, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.bodies) >= s.limit {
		for k := range s.bodies { // evict any one entry: a memo, not an LRU
			delete(s.bodies, k)
			break
		}
	}
	s.bodies[id] = b
	return b, true
}

// history serves GET /contract/{id}/history.
func (s *server) history(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if s.refused(w, r, id, func() []byte { return encode(generate(id, 3)) }) {
		return
	}
	b, ok := s.body(id)
	if !ok {
		writeError(w, http.StatusNotFound, "Contract not found")
		return
	}
	write(w, http.StatusOK, jsonType, b)
}

// contract serves GET /contract/{id}: the contract's own record, which its customer's contracts
// embed in every ticket, and which a contract without tickets has too.
func (s *server) contract(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if s.refused(w, r, id, func() []byte { return Contract(id) }) {
		return
	}
	b := Contract(id)
	if b == nil {
		writeError(w, http.StatusNotFound, "Contract not found")
		return
	}
	write(w, http.StatusOK, jsonType, b)
}

// refused answers the requests the special ids stand for (and those without a token, or with
// another method than GET), as the upstream would, and reports whether it did. SlowID waits
// first, then is not refused; MalformedID gets the first half of whole().
func (s *server) refused(w http.ResponseWriter, r *http.Request, id string, whole func() []byte) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, http.StatusMethodNotAllowed, "Method not allowed")
		return true
	}
	if !hasBearer(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="mind"`)
		writeError(w, http.StatusUnauthorized, "Unauthorized")
		return true
	}
	switch id {
	case NotFoundID:
		writeError(w, http.StatusNotFound, "Contract not found")
	case ForbiddenID:
		w.WriteHeader(http.StatusForbidden)
	case ServerErrorID:
		write(w, http.StatusInternalServerError, jsonType, []byte(serverErrorBody))
	case RateLimitedID:
		w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds))
		writeError(w, http.StatusTooManyRequests, "Too many requests")
	case MalformedID:
		b := whole()
		write(w, http.StatusOK, jsonType, b[:len(b)/2])
	case HTMLID:
		write(w, http.StatusOK, "text/html; charset=utf-8", []byte(loginPage))
	case HangID:
		s.hang(w, r)
	case SlowID:
		t := time.NewTimer(s.opts.SlowDelay)
		defer t.Stop()
		select {
		case <-r.Context().Done():
			return true // the client is gone; nobody reads an answer
		case <-t.C:
		}
		return false
	default:
		return false
	}
	return true
}

// hang waits until the request's context ends or HangLimit passes.
func (s *server) hang(w http.ResponseWriter, r *http.Request) {
	var limit <-chan time.Time
	if s.opts.HangLimit > 0 {
		t := time.NewTimer(s.opts.HangLimit)
		defer t.Stop()
		limit = t.C
	}
	select {
	case <-r.Context().Done():
	case <-limit:
		writeError(w, http.StatusGatewayTimeout, "Gateway timeout")
	}
}

// hasBearer reports whether r carries "Authorization: Bearer <token>" with a non-empty token.
// Any token passes: the demo has no users, only the shape of the upstream's check.
func hasBearer(r *http.Request) bool {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	return ok && strings.EqualFold(scheme, "Bearer") && strings.TrimSpace(token) != ""
}

// jsonType is the content type of every JSON body.
const jsonType = "application/json; charset=utf-8"

// writeError writes a small JSON error body such as {"error":"Unauthorized"}.
func writeError(w http.ResponseWriter, status int, msg string) {
	write(w, status, jsonType, []byte(`{"error":"`+msg+`"}`+"\n")) // msg is a constant without quotes
}

// write writes a complete response with its length.
func write(w http.ResponseWriter, status int, contentType string, body []byte) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write(body) //nolint:errcheck // the client may be gone; nothing to do about it
}

// serverErrorBody is what ServerErrorID serves: an error object, which is all the upstream's
// docs say about its 500s.
const serverErrorBody = `{"error":"Internal server error","message":"An unexpected error occurred while loading the contract history.","status":500}` + "\n"

// loginPage is what HTMLID serves: the web app's login page rather than the API.
const loginPage = `<!DOCTYPE html>
<html lang="de">
<head><meta charset="utf-8"><title>Anmeldung – Musterwerke Service-Desk</title></head>
<body>
<h1>Bitte melden Sie sich an</h1>
<form method="post" action="/login">
<label>E-Mail <input type="email" name="email"></label>
<label>Passwort <input type="password" name="password"></label>
<button type="submit">Anmelden</button>
</form>
</body>
</html>
`
