package graph

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// post is gqlgen's POST transport (transport.POST, whose Do it follows step by step) but for how
// it writes the answer: gqlgen's re-encodes the whole response with encoding/json, which
// validates and compacts the data gqlgen has just encoded (13% of the CPU of a 37 KB answer);
// post writes that data as it is. Where a request fails before execution, it answers as the
// GraphQL-over-HTTP spec asks and gqlgen does not: no data entry at all, and for
// application/json status 200 (gqlgen: 422); and a body that is not JSON is not quoted back.
type post struct{ transport.POST }

// get is gqlgen's GET transport (transport.GET) answering as post does, for queries only.
type get struct{ transport.GET }

var (
	_ graphql.Transport = post{}
	_ graphql.Transport = get{}
)

// refusal answers every request no other transport takes, as GraphQL over HTTP has it: a JSON
// body with one coded error (gqlgen answers "transport not supported" in plain text).
type refusal struct{}

var _ graphql.Transport = refusal{}

func (refusal) Supports(*http.Request) bool { return true }

func (refusal) Do(w http.ResponseWriter, r *http.Request, _ graphql.GraphExecutor) {
	switch {
	case r.Header.Get("Upgrade") != "":
		refuse(w, http.StatusBadRequest, CodeBadRequest, "the only upgrade this endpoint takes is a WebSocket (GET, Upgrade: websocket, subprotocol graphql-transport-ws)")
	case r.Method == http.MethodPost:
		media, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if media == "" {
			media = "none"
		}
		refuse(w, http.StatusUnsupportedMediaType, CodeUnsupportedMedia,
			fmt.Sprintf("send the request body as Content-Type: application/json (GraphQL over HTTP), not %.64s", media))
	default:
		w.Header().Set("Allow", "GET, POST, OPTIONS")
		refuse(w, http.StatusMethodNotAllowed, CodeMethodNotAllowed, "send GraphQL requests with POST, or queries with GET")
	}
}

// refuse answers a request that is refused before it reaches GraphQL: status, and one error
// with its code.
func refuse(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", applicationJSON)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	writeRequestError(w, &graphql.Response{Errors: gqlerror.List{{Message: msg, Extensions: map[string]any{"code": code}}}})
}

// requestBody is a GraphQL request's body (or a GET's parameters): gqlgen's, and the id of a
// persisted operation, which stands for the query as the hash of automatic persisted queries
// does: documentId (GraphQL over HTTP's persisted documents) or doc_id (Relay's).
type requestBody struct {
	graphql.RawParams
	DocumentID string `json:"documentId"`
	DocID      string `json:"doc_id"`
}

// params returns the request as gqlgen takes it.
func (q *requestBody) params(r *http.Request) (*graphql.RawParams, error) {
	p := &q.RawParams
	id := q.DocumentID
	switch {
	case id == "":
		id = q.DocID
	case q.DocID != "" && q.DocID != id:
		return nil, errors.New("documentId and doc_id name different documents: send one of them")
	}
	if id != "" && p.Query == "" && p.Extensions["persistedQuery"] == nil {
		if p.Extensions == nil {
			p.Extensions = map[string]any{}
		}
		p.Extensions["persistedQuery"] = map[string]any{"version": 1, "sha256Hash": id}
	}
	p.Headers = r.Header
	return p, nil
}

func (post) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	form, ok := negotiate(w, r)
	if !ok {
		return
	}
	start := graphql.Now()
	body, err := readRequestBody(r)
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge): // sent without a Content-Length that told so at once
		refuse(w, http.StatusRequestEntityTooLarge, CodeRequestTooLarge, fmt.Sprintf("request body larger than %d bytes", tooLarge.Limit))
		return
	case err != nil:
		refuse(w, http.StatusBadRequest, CodeBadRequest, "the request body could not be read")
		return
	}
	if b := bytes.TrimLeft(body, " \t\r\n"); len(b) > 0 && b[0] == '[' {
		refuse(w, http.StatusBadRequest, CodeBadRequest, "the request body is a JSON array, a batch of operations: batches are not supported; send one operation per request")
		return
	}
	var req requestBody
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&req); err != nil {
		// gqlgen quotes the body here; it may hold tokens or personal data in its variables.
		refuse(w, http.StatusBadRequest, CodeBadRequest, bodyError(err))
		return
	}
	params, err := req.params(r)
	if err != nil {
		refuse(w, http.StatusBadRequest, CodeBadRequest, err.Error())
		return
	}
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}
	execute(w, r, exec, params, form, false)
}

func (get) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	// Until an answer says how long it is fresh, it is not to be kept: refusals and errors.
	w.Header().Set("Cache-Control", "no-store")
	form, ok := negotiate(w, r)
	if !ok {
		return
	}
	start := graphql.Now()
	v := r.URL.Query()
	req := requestBody{RawParams: graphql.RawParams{Query: v.Get("query"), OperationName: v.Get("operationName")}, DocumentID: v.Get("documentId"), DocID: v.Get("doc_id")}
	for name, into := range map[string]*map[string]any{"variables": &req.Variables, "extensions": &req.Extensions} {
		if s := v.Get(name); s != "" {
			dec := json.NewDecoder(strings.NewReader(s))
			dec.UseNumber()
			if err := dec.Decode(into); err != nil {
				refuse(w, http.StatusBadRequest, CodeBadRequest, fmt.Sprintf("the %s parameter must be a JSON object", name))
				return
			}
		}
	}
	params, err := req.params(r)
	if err != nil {
		refuse(w, http.StatusBadRequest, CodeBadRequest, err.Error())
		return
	}
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}
	execute(w, r, exec, params, form, true)
}

// execute runs a request and writes its answer. A request that fails before execution gets a
// status as GraphQL over HTTP has it: 400 for application/graphql-response+json and 200 for
// application/json when the query does not parse or validate (or a limit refuses it); 400 for
// both without any query (or persisted query); 429 with Retry-After when the caller's rate
// limit refuses it, 503 with Retry-After when a heavy operation finds no turn; and over GET,
// 405 for a mutation.
//
// An operation with @defer is answered in parts (multipart/mixed) when the client takes them,
// and otherwise whole, its deferred fields inline.
func execute(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor, params *graphql.RawParams, form answerForm, queriesOnly bool) {
	ctx := r.Context()
	if params.Query == "" && params.Extensions["persistedQuery"] == nil {
		refuse(w, http.StatusBadRequest, CodeBadRequest, "the request has no query: send {\"query\": \"...\"}, or a persisted operation's documentId")
		return
	}
	contentType := form.media
	if contentType == "" {
		contentType = applicationJSON // what errors before execution are written as
	}
	rc, opErr := exec.CreateOperationContext(ctx, params)
	if opErr != nil {
		code := opErr[0].Extensions["code"]
		if form.eventsOnly() && code != CodeRateLimited && code != CodeOverloaded {
			// GraphQL over SSE: errors before execution go through the stream, since a
			// browser's EventSource shows nothing of a 400's body.
			writeEvents(w, exec.DispatchError(graphql.WithOperationContext(ctx, rc), opErr))
			return
		}
		status := http.StatusOK
		switch {
		case code == CodeRateLimited, code == CodeOverloaded:
			status = http.StatusTooManyRequests
			if code == CodeOverloaded {
				status = http.StatusServiceUnavailable // the server's state, not the caller's
			}
			if secs, ok := opErr[0].Extensions["retryAfter"].(int64); ok {
				w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
			}
		case (contentType == graphqlResponseJSON || contentType == textCSV) && errcode.GetErrorKind(opErr) == errcode.KindProtocol:
			// A BI tool that asked for a table sees a failure as one, whatever it parses.
			status = http.StatusBadRequest
		}
		w.WriteHeader(status)
		writeRequestError(w, exec.DispatchError(graphql.WithOperationContext(ctx, rc), opErr))
		return
	}
	if queriesOnly && rc.Operation.Operation == ast.Mutation { // a subscription's stream may be an EventSource's GET
		w.Header().Set("Allow", "POST")
		refuse(w, http.StatusMethodNotAllowed, CodeMethodNotAllowed, fmt.Sprintf("only queries may be sent with GET; send a %s with POST", rc.Operation.Operation))
		return
	}
	if rc.Operation.Operation != ast.Query {
		w.Header().Set("Cache-Control", "no-store")
	}
	if rc.Operation.Operation == ast.Subscription {
		if form.events == "" {
			refuse(w, http.StatusNotAcceptable, CodeNotAcceptable, "a subscription is answered as server-sent events: send Accept: text/event-stream")
			return
		}
		streamSubscription(w, r, exec, rc)
		return
	}
	switch deferring := hasDefer(rc.Doc, rc.Operation); {
	case deferring && form.incremental != "", form.media == "" && form.incremental != "":
		streamIncremental(w, r, exec, rc, form.incremental, multipartParts)
		return
	case deferring && form.events != "", form.eventsOnly():
		streamIncremental(w, r, exec, rc, form.events, serverSentEvents)
		return
	case deferring:
		withoutDefer(rc)
	}
	var table *csvTable
	if contentType == textCSV {
		var err error
		if table, err = newCSVTable(rc); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			writeRequestError(w, exec.DispatchError(graphql.WithOperationContext(ctx, rc), gqlerror.List{badInput(err.Error())}))
			return
		}
	}
	responses, ctx := exec.DispatchOperation(ctx, rc)
	resp := responses(ctx)
	if table != nil {
		writeCSV(w, r, resp, table, requestFrom(ctx))
		return
	}
	if queriesOnly && notModified(w, r, contentType, resp, requestFrom(ctx)) {
		return
	}
	writeResponse(w, resp)
}

// negotiate picks the answer's form from the request's Accept header and, over GET, its
// format parameter (csv or json), and sets the Content-Type of a JSON answer. A request whose
// Accept names nothing the facade writes is refused with 406, as is an unknown format.
func negotiate(w http.ResponseWriter, r *http.Request) (answerForm, bool) {
	form := requestForm(r)
	if r.Method == http.MethodGet {
		switch f := r.URL.Query().Get("format"); f {
		case "", "csv", "json":
		default:
			refuse(w, http.StatusBadRequest, CodeBadUserInput, "the format parameter must be csv or json")
			return form, false
		}
	}
	if !form.acceptable() {
		refuse(w, http.StatusNotAcceptable, CodeNotAcceptable,
			"the Accept header names no type this API writes: ask for application/json, application/graphql-response+json, text/csv, or multipart/mixed or text/event-stream (for @defer)")
		return form, false
	}
	if form.media != "" && form.media != textCSV {
		w.Header().Set("Content-Type", form.media)
	} else {
		w.Header().Set("Content-Type", applicationJSON) // until a table or parts are written
	}
	return form, true
}

// requestForm is the answer form a request asks for: by its Accept header, unless a GET's
// format parameter names one (csv or json, for tools that cannot set headers).
func requestForm(r *http.Request) answerForm {
	if r.Method == http.MethodGet {
		switch r.URL.Query().Get("format") {
		case "csv":
			return answerForm{media: textCSV}
		case "json":
			return answerForm{media: applicationJSON}
		}
	}
	return negotiateAccept(r.Header.Get("Accept"))
}

// badInput is a request error with the code BAD_USER_INPUT.
func badInput(msg string) *gqlerror.Error {
	return &gqlerror.Error{Message: msg, Extensions: map[string]any{"code": CodeBadUserInput}}
}

// bodyError says what is wrong with a request body that does not decode, in JSON's terms.
func bodyError(err error) string {
	var (
		syntax *json.SyntaxError
		typ    *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &syntax):
		return fmt.Sprintf("the request body is not JSON (invalid at byte %d)", syntax.Offset)
	case errors.As(err, &typ) && typ.Field != "":
		want := map[reflect.Kind]string{reflect.String: "a string", reflect.Map: "an object"}[typ.Type.Kind()]
		if want == "" {
			want = typ.Type.String()
		}
		return fmt.Sprintf("the request body's %s must be %s", typ.Field, want)
	}
	return "the request body must be a JSON object with a query"
}

// writeResponse writes r as encoding/json would, in the same field order, with its data as
// gqlgen encoded it.
func writeResponse(w io.Writer, r *graphql.Response) { w.Write(appendResponse(nil, r, true)) }

// writeRequestError writes the answer to a request that failed before execution: without a
// data entry, as the GraphQL spec has it ("data": null would say execution began).
func writeRequestError(w io.Writer, r *graphql.Response) { w.Write(appendResponse(nil, r, false)) }

func appendResponse(b []byte, r *graphql.Response, withData bool) []byte {
	b = append(b, '{')
	sep := false
	if len(r.Errors) > 0 {
		errs, err := marshalJSON(r.Errors)
		if err != nil {
			errs = []byte(`[{"message":"the errors could not be encoded"}]`)
		}
		b = append(append(b, `"errors":`...), errs...)
		sep = true
	}
	if withData {
		if sep {
			b = append(b, ',')
		}
		b = append(b, `"data":`...)
		if r.Data == nil {
			b = append(b, "null"...)
		} else {
			b = append(b, r.Data...)
		}
		sep = true
	}
	tail, err := marshalJSON(responseTail{Label: r.Label, Path: r.Path, HasNext: r.HasNext, Extensions: r.Extensions})
	if err == nil && len(tail) > 2 { // more than {}
		if sep {
			b = append(b, ',')
		}
		b = append(b, tail[1:len(tail)-1]...)
	}
	return append(b, '}')
}

// marshalJSON is json.Marshal but for HTML: messages such as "Bearer <token>" stay readable
// (json.Marshal writes \u003ctoken\u003e), and an answer is never HTML.
func marshalJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// responseTail is what follows data in a graphql.Response.
type responseTail struct {
	Label      string         `json:"label,omitempty"`
	Path       ast.Path       `json:"path,omitempty"`
	HasNext    *bool          `json:"hasNext,omitempty"`
	Extensions map[string]any `json:"extensions,omitempty"`
}
