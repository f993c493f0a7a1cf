package graph

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// A CSV answer flattens the data of an operation's one root field into a table for BI tools:
// the columns are the selected leaves, named by their response keys joined with dots below the
// root field (aliases respected); each list of objects expands into one row per element, which
// carries its parents' columns; a list of scalars is one cell, its values joined with ";"; a
// JSON value that is not a string is its JSON text. The columns come from the operation, not
// the data, so every answer to one query has the same header, whatever its lists hold. A
// parent whose list is empty or null keeps its row, with that list's columns empty.
//
// Two lists of objects side by side (ticket tags and intents, say) would multiply each other's
// rows into a product that means nothing, so such a shape is refused before it runs.

// csvShape is one selected field: a leaf (a column) or an object with fields of its own.
type csvShape struct {
	key    string      // response key
	def    *ast.Type   // the field's type
	fields []*csvShape // of an object; none for a leaf
	list   *csvShape   // the one list of objects among fields, at any depth short of another list
	at     int         // the field's first column within its parent object's columns
	width  int         // its columns
}

func (s *csvShape) leaf() bool { return s.fields == nil }

// isList reports whether the field's value is a list, at any depth of nesting.
func (s *csvShape) isList() bool { return s.def.Elem != nil }

// csvTable is a prepared CSV answer: the root field's shape and the column names.
type csvTable struct {
	root    *csvShape
	columns []string
}

// newCSVTable prepares the CSV answer of the operation in oc, or says why it cannot be one.
func newCSVTable(oc *graphql.OperationContext) (*csvTable, error) {
	roots := graphql.CollectFields(oc, oc.Operation.SelectionSet, []string{rootType(oc.Operation.Operation)})
	if len(roots) != 1 {
		keys := make([]string, len(roots))
		for i, f := range roots {
			keys[i] = f.Alias
		}
		return nil, fmt.Errorf("a CSV answer is one table of one root field, and this operation selects %d (%s): send one request per field", len(roots), strings.Join(keys, ", "))
	}
	root, err := csvShapeOf(oc, roots[0].Field, roots[0].Selections, "")
	if err != nil {
		return nil, err
	}
	t := &csvTable{root: root}
	if root.leaf() {
		t.columns = []string{root.key}
	} else {
		t.columns = root.names(nil, "")
	}
	return t, nil
}

func rootType(op ast.Operation) string {
	switch op {
	case ast.Mutation:
		return "Mutation"
	case ast.Subscription:
		return "Subscription"
	}
	return "Query"
}

// csvShapeOf builds the shape of field f, found at path (its parents' keys joined with dots).
func csvShapeOf(oc *graphql.OperationContext, f *ast.Field, sel ast.SelectionSet, path string) (*csvShape, error) {
	s := &csvShape{key: f.Alias, def: ast.NamedType("String", nil), width: 1}
	if f.Definition != nil {
		s.def = f.Definition.Type
	}
	if len(sel) == 0 {
		return s, nil
	}
	s.fields, s.width = []*csvShape{}, 0
	var listAt string // the path of s.list, for the error
	for _, c := range graphql.CollectFields(oc, sel, []string{f.Definition.Type.Name()}) {
		childPath := c.Alias
		if path != "" {
			childPath = path + "." + c.Alias
		}
		child, err := csvShapeOf(oc, c.Field, c.Selections, childPath)
		if err != nil {
			return nil, err
		}
		child.at = s.width
		s.width += child.width
		s.fields = append(s.fields, child)
		// The list of objects this field brings into its parent's rows: its own, or one its
		// object holds without a list between.
		var list *csvShape
		listPath := childPath
		switch {
		case child.leaf():
		case child.isList():
			list = child
		case child.list != nil:
			list, listPath = child.list, childPath+"."+child.list.key // nearest: enough to name it
		}
		if list == nil {
			continue
		}
		if s.list != nil {
			return nil, fmt.Errorf("a CSV answer cannot hold both %s and %s: each is a list of objects, and side by side they would multiply each other's rows; select one of them per request", listAt, listPath)
		}
		s.list, listAt = list, listPath
	}
	return s, nil
}

// names returns the column names of an object's leaves, each prefixed with prefix.
func (s *csvShape) names(into []string, prefix string) []string {
	for _, f := range s.fields {
		if f.leaf() {
			into = append(into, prefix+f.key)
		} else {
			into = f.names(into, prefix+f.key+".")
		}
	}
	return into
}

// write writes the table of data, the JSON of the operation's data member, to w.
func (t *csvTable) write(w *bytes.Buffer, data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber() // numbers as the answer spells them
	var top map[string]any
	if err := dec.Decode(&top); err != nil {
		return fmt.Errorf("decode the data: %w", err)
	}
	v := top[t.root.key]
	var rows [][]string
	switch {
	case t.root.leaf():
		rows = [][]string{{cell(t.root, v)}}
	case t.root.isList():
		for _, e := range elements(v) {
			rows = append(rows, t.root.rows(e)...)
		}
	default:
		rows = t.root.rows(v)
	}
	out := csv.NewWriter(w)
	for _, rec := range append([][]string{t.columns}, rows...) {
		if err := writeRecord(w, out, rec); err != nil {
			return err
		}
	}
	return nil
}

// writeRecord writes one record through out, which writes to w, and ends it with CR LF as RFC
// 4180 has it, its values' own line breaks kept as they are. (csv.Writer's UseCRLF would also
// turn each LF inside a value into CR LF and drop each CR, so that a text read back from the
// table differs from the JSON answer.)
func writeRecord(w *bytes.Buffer, out *csv.Writer, rec []string) error {
	if err := out.Write(rec); err != nil {
		return err
	}
	out.Flush()
	if err := out.Error(); err != nil {
		return err
	}
	w.Truncate(w.Len() - 1) // the LF that ends the record
	w.WriteString("\r\n")
	return nil
}

// rows returns the rows of one object value (nil: every column empty): one, or one per element
// of its list of objects.
func (s *csvShape) rows(v any) [][]string {
	base := make([]string, s.width)
	obj, _ := v.(map[string]any)
	s.fill(base, obj)
	if s.list == nil {
		return [][]string{base}
	}
	at, list := s.listIn(obj)
	var rows [][]string
	for _, e := range elements(list) {
		for _, sub := range s.list.rows(e) {
			row := append([]string(nil), base...)
			copy(row[at:], sub)
			rows = append(rows, row)
		}
	}
	if len(rows) == 0 {
		return [][]string{base} // the parent stays, with the list's columns empty
	}
	return rows
}

// fill writes the cells of obj's leaves, through its objects but not its lists of objects.
func (s *csvShape) fill(row []string, obj map[string]any) {
	if obj == nil {
		return
	}
	for _, f := range s.fields {
		v := obj[f.key]
		switch {
		case f.leaf():
			row[f.at] = cell(f, v)
		case !f.isList():
			o, _ := v.(map[string]any)
			f.fill(row[f.at:f.at+f.width], o)
		}
	}
}

// listIn finds the value of s.list within obj, and where its columns start in s's.
func (s *csvShape) listIn(obj map[string]any) (at int, v any) {
	for _, f := range s.fields {
		switch {
		case f == s.list:
			return f.at, obj[f.key]
		case !f.leaf() && !f.isList() && f.list == s.list:
			o, _ := obj[f.key].(map[string]any)
			at, v := f.listIn(o)
			return f.at + at, v
		}
	}
	return 0, nil
}

// elements returns a list's values, the lists within it flattened ([[a], [b]] is a, b).
func elements(v any) []any {
	l, ok := v.([]any)
	if !ok {
		return nil
	}
	var out []any
	for _, e := range l {
		if inner, ok := e.([]any); ok {
			out = append(out, elements(inner)...)
		} else {
			out = append(out, e)
		}
	}
	return out
}

// cell is a leaf's value as text: empty for null, a list's values joined with ";".
func cell(f *csvShape, v any) string {
	if f.isList() {
		parts := make([]string, 0, 4)
		for _, e := range elements(v) {
			parts = append(parts, scalar(e))
		}
		return strings.Join(parts, ";")
	}
	return scalar(v)
}

func scalar(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case json.Number:
		return v.String()
	case bool:
		if v {
			return "true"
		}
		return "false"
	}
	b, err := json.Marshal(v) // a JSON scalar's object or list
	if err != nil {
		return ""
	}
	return string(b)
}

// writeCSV answers with resp's data as the table t, or, when the operation met errors, with
// the errors as JSON and an HTTP status that says what went wrong: a BI tool shows a failed
// request, where a partial table would pass for a whole one.
func writeCSV(w http.ResponseWriter, r *http.Request, resp *graphql.Response, t *csvTable, q *request) {
	if len(resp.Errors) > 0 {
		w.Header().Set("Cache-Control", "no-store")
		code, _ := resp.Errors[0].Extensions["code"].(string)
		if secs, ok := resp.Errors[0].Extensions["retryAfter"].(int); ok {
			w.Header().Set("Retry-After", strconv.Itoa(secs))
		}
		w.WriteHeader(errorStatus(code))
		writeResponse(w, resp)
		return
	}
	var body bytes.Buffer
	err := t.write(&body, resp.Data)
	if err == nil && q != nil && int64(body.Len()) > q.op.limits.Bytes {
		err = errTooManyBytes // the parents' columns repeat on every row of their lists
	}
	if err != nil {
		w.Header().Set("Cache-Control", "no-store")
		resp.Data = nil
		resp.Errors = gqlerror.List{csvError(err)}
		w.WriteHeader(errorStatus(resp.Errors[0].Extensions["code"].(string)))
		writeResponse(w, resp)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8; header=present")
	h.Set("Content-Disposition", `attachment; filename="`+t.root.key+`.csv"`)
	if r.Method == http.MethodGet && q != nil && notModified(w, r, textCSV, resp, q) {
		return
	}
	h.Set("Content-Length", strconv.Itoa(body.Len()))
	w.Write(body.Bytes())
}

func csvError(err error) *gqlerror.Error {
	if coded, ok := err.(*codedError); ok {
		return &gqlerror.Error{Message: coded.msg, Extensions: map[string]any{"code": coded.code}}
	}
	return &gqlerror.Error{Message: "the answer could not be written as CSV", Extensions: map[string]any{"code": CodeInternal}}
}

// errorStatus is the HTTP status of an answer in CSV whose first error has code: what a REST
// API would have answered.
func errorStatus(code string) int {
	switch code {
	case CodeUnauthenticated:
		return http.StatusUnauthorized
	case CodeForbidden, CodePersonalForbidden:
		return http.StatusForbidden
	case CodeNotFound:
		return http.StatusNotFound
	case CodeRateLimited:
		return http.StatusTooManyRequests
	case CodeUpstreamRateLimited, CodeOverloaded:
		return http.StatusServiceUnavailable
	case CodeUpstreamTimeout, CodeOperationTime:
		return http.StatusGatewayTimeout
	case CodeUpstreamUnavailable, CodeUpstreamError, CodeUpstreamBadResponse:
		return http.StatusBadGateway
	case CodeInternal, CodeCancelled:
		return http.StatusInternalServerError
	}
	return http.StatusBadRequest // the request's own: bad input, a limit
}
