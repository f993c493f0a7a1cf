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

var _ graphql.Transport = post{}

func (post) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	ctx := r.Context()
	contentType := answerType(r.Header.Get("Accept"))
	w.Header().Set("Content-Type", contentType)
	start := graphql.Now()
	body, err := io.ReadAll(r.Body)
	if err != nil {
		writeRequestError(w, exec.DispatchError(ctx, gqlerror.List{gqlerror.Errorf("could not read request body: %+v", err)}))
		return
	}
	var params graphql.RawParams
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&params); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		// gqlgen quotes the body here; it may hold tokens or personal data in its variables.
		writeRequestError(w, exec.DispatchError(ctx, gqlerror.List{gqlerror.Errorf("%s", bodyError(err))}))
		return
	}
	params.Headers = r.Header
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}
	rc, opErr := exec.CreateOperationContext(ctx, &params)
	if opErr != nil {
		// A query that does not parse or validate, or variables that do not coerce: 400 for
		// application/graphql-response+json, 200 for application/json (GraphQL over HTTP);
		// a request without a query (and without a persisted query's hash) is no GraphQL
		// request at all: 400 for both.
		status := http.StatusOK
		switch {
		case params.Query == "" && params.Extensions["persistedQuery"] == nil:
			status = http.StatusBadRequest
		case contentType == graphqlResponseJSON && errcode.GetErrorKind(opErr) == errcode.KindProtocol:
			status = http.StatusBadRequest
		}
		w.WriteHeader(status)
		writeRequestError(w, exec.DispatchError(graphql.WithOperationContext(ctx, rc), opErr))
		return
	}
	responses, ctx := exec.DispatchOperation(ctx, rc)
	writeResponse(w, responses(ctx))
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

const graphqlResponseJSON = "application/graphql-response+json"

// answerType picks the answer's media type from Accept, as transport.POST does by default.
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
		case graphqlResponseJSON:
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
