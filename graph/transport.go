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

// request is a GraphQL request's body (or a GET's parameters): gqlgen's, and documentId, the
// id of a persisted operation (GraphQL over HTTP's persisted documents), which stands for the
// query as the hash of automatic persisted queries does.
type request struct {
	graphql.RawParams
	DocumentID string `json:"documentId"`
}

// params returns the request as gqlgen takes it.
func (q *request) params(r *http.Request) *graphql.RawParams {
	p := &q.RawParams
	if q.DocumentID != "" && p.Query == "" && p.Extensions["persistedQuery"] == nil {
		if p.Extensions == nil {
			p.Extensions = map[string]any{}
		}
		p.Extensions["persistedQuery"] = map[string]any{"version": 1, "sha256Hash": q.DocumentID}
	}
	p.Headers = r.Header
	return p
}

func (post) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	ctx := r.Context()
	contentType, ok := negotiate(w, r, exec)
	if !ok {
		return
	}
	start := graphql.Now()
	body, err := readRequestBody(r)
	if err != nil {
		writeRequestError(w, exec.DispatchError(ctx, gqlerror.List{gqlerror.Errorf("could not read request body: %+v", err)}))
		return
	}
	var req request
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&req); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		// gqlgen quotes the body here; it may hold tokens or personal data in its variables.
		writeRequestError(w, exec.DispatchError(ctx, gqlerror.List{gqlerror.Errorf("%s", bodyError(err))}))
		return
	}
	params := req.params(r)
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}
	execute(w, r, exec, params, contentType, false)
}

func (get) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	// Until an answer says how long it is fresh, it is not to be kept: refusals and errors.
	w.Header().Set("Cache-Control", "no-store")
	contentType, ok := negotiate(w, r, exec)
	if !ok {
		return
	}
	start := graphql.Now()
	v := r.URL.Query()
	req := request{RawParams: graphql.RawParams{Query: v.Get("query"), OperationName: v.Get("operationName")}, DocumentID: v.Get("documentId")}
	for name, into := range map[string]*map[string]any{"variables": &req.Variables, "extensions": &req.Extensions} {
		if s := v.Get(name); s != "" {
			dec := json.NewDecoder(strings.NewReader(s))
			dec.UseNumber()
			if err := dec.Decode(into); err != nil {
				w.WriteHeader(http.StatusBadRequest)
				writeRequestError(w, exec.DispatchError(r.Context(), gqlerror.List{gqlerror.Errorf("the %s parameter must be a JSON object", name)}))
				return
			}
		}
	}
	params := req.params(r)
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}
	execute(w, r, exec, params, contentType, true)
}

// execute runs a request and writes its answer. A request that fails before execution gets a
// status as GraphQL over HTTP has it: 400 for application/graphql-response+json and 200 for
// application/json when the query does not parse or validate (or a limit refuses it); 400 for
// both without any query (or persisted query); 429 with Retry-After when the caller's rate
// limit refuses it; and over GET, 405 for a mutation.
func execute(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor, params *graphql.RawParams, contentType string, queriesOnly bool) {
	ctx := r.Context()
	rc, opErr := exec.CreateOperationContext(ctx, params)
	if opErr != nil {
		status := http.StatusOK
		switch {
		case params.Query == "" && params.Extensions["persistedQuery"] == nil:
			status = http.StatusBadRequest
		case opErr[0].Extensions["code"] == CodeRateLimited:
			status = http.StatusTooManyRequests
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
	if queriesOnly && rc.Operation.Operation != ast.Query {
		w.Header().Set("Allow", "POST")
		w.WriteHeader(http.StatusMethodNotAllowed)
		writeRequestError(w, exec.DispatchError(graphql.WithOperationContext(ctx, rc), gqlerror.List{gqlerror.Errorf("only queries may be sent with GET; send a %s with POST", rc.Operation.Operation)}))
		return
	}
	if rc.Operation.Operation != ast.Query {
		w.Header().Set("Cache-Control", "no-store")
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
		writeCSV(w, r, resp, table, loadersFrom(ctx))
		return
	}
	if queriesOnly && notModified(w, r, contentType, resp, loadersFrom(ctx)) {
		return
	}
	writeResponse(w, resp)
}

// negotiate picks the answer's media type from the request's Accept header and, over GET, its
// format parameter (csv or json), and sets the Content-Type of anything but a CSV table. An
// unknown format is refused.
func negotiate(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) (string, bool) {
	contentType := answerType(r.Header.Get("Accept"))
	if r.Method == http.MethodGet {
		switch f := r.URL.Query().Get("format"); f {
		case "":
		case "csv":
			contentType = textCSV
		case "json":
			contentType = "application/json"
		default:
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			writeRequestError(w, exec.DispatchError(r.Context(), gqlerror.List{badInput("the format parameter must be csv or json")}))
			return "", false
		}
	}
	if contentType == textCSV {
		w.Header().Set("Content-Type", "application/json") // until the table is written
	} else {
		w.Header().Set("Content-Type", contentType)
	}
	return contentType, true
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

const (
	graphqlResponseJSON = "application/graphql-response+json"
	textCSV             = "text/csv"
)

// answerType picks the answer's media type from Accept, as transport.POST does by default, or
// text/csv (see csvTable).
func answerType(accept string) string {
	if accept == "" {
		return "application/json"
	}
	for part := range strings.SplitSeq(accept, ",") {
		media, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch media {
		case "*/*", "application/*", "application/json":
			return "application/json"
		case graphqlResponseJSON, textCSV:
			return media
		}
	}
	return graphqlResponseJSON
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
		errs, err := json.Marshal(r.Errors)
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
	tail, err := json.Marshal(responseTail{Label: r.Label, Path: r.Path, HasNext: r.HasNext, Extensions: r.Extensions})
	if err == nil && len(tail) > 2 { // more than {}
		if sep {
			b = append(b, ',')
		}
		b = append(b, tail[1:len(tail)-1]...)
	}
	return append(b, '}')
}

// responseTail is what follows data in a graphql.Response.
type responseTail struct {
	Label      string         `json:"label,omitempty"`
	Path       ast.Path       `json:"path,omitempty"`
	HasNext    *bool          `json:"hasNext,omitempty"`
	Extensions map[string]any `json:"extensions,omitempty"`
}
