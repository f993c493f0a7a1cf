package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// Incremental delivery (@defer). gqlgen executes deferred fragments and hands over what they
// add one part at a time; streamIncremental writes those parts as multipart/mixed, in the form
// the client asked for. A client that takes only whole answers gets the operation without its
// @defer (withoutDefer): the deferred fields inline, one answer, which the response cache and
// ETags may then describe like any other.

// hasDefer reports whether the operation or any fragment of its document holds a @defer.
func hasDefer(doc *ast.QueryDocument, op *ast.OperationDefinition) bool {
	if deferIn(op.SelectionSet) {
		return true
	}
	for _, f := range doc.Fragments {
		if deferIn(f.SelectionSet) {
			return true
		}
	}
	return false
}

func deferIn(set ast.SelectionSet) bool {
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			if deferIn(s.SelectionSet) {
				return true
			}
		case *ast.InlineFragment:
			if s.Directives.ForName("defer") != nil || deferIn(s.SelectionSet) {
				return true
			}
		case *ast.FragmentSpread:
			if s.Directives.ForName("defer") != nil {
				return true
			}
		}
	}
	return false
}

// withoutDefer drops every @defer from rc's operation and fragments, so that gqlgen resolves
// the deferred fields with the others.
func withoutDefer(rc *graphql.OperationContext) {
	rewriteDefers(rc, func(dirs ast.DirectiveList, d *ast.Directive) ast.DirectiveList {
		return slices.DeleteFunc(slices.Clone(dirs), func(x *ast.Directive) bool { return x == d })
	})
}

// labelDefers gives every @defer of rc's operation and fragments a label of its own ("0", "1",
// ...), and returns the label the client gave each (or ""), by the new one. gqlgen waits for
// ever for a field that two @defer of one label (two without any) defer on one object.
func labelDefers(rc *graphql.OperationContext) map[string]string {
	labels := map[string]string{}
	rewriteDefers(rc, func(dirs ast.DirectiveList, d *ast.Directive) ast.DirectiveList {
		own := ""
		if a := d.Arguments.ForName("label"); a != nil {
			if v, err := a.Value.Value(rc.Variables); err == nil {
				own, _ = v.(string)
			}
		}
		id := strconv.Itoa(len(labels))
		labels[id] = own
		c := *d
		c.Arguments = append(slices.DeleteFunc(slices.Clone(d.Arguments), func(a *ast.Argument) bool { return a.Name == "label" }),
			&ast.Argument{Name: "label", Value: &ast.Value{Kind: ast.StringValue, Raw: id}})
		out := slices.Clone(dirs)
		out[slices.Index(out, d)] = &c
		return out
	})
	return labels
}

// rewriteDefers replaces the directives of every fragment that has a @defer, in rc's operation
// and fragments, by what rewrite makes of them. What changes is copied: the parsed document is
// shared by every request that sends the same text (the query cache).
func rewriteDefers(rc *graphql.OperationContext, rewrite func(dirs ast.DirectiveList, d *ast.Directive) ast.DirectiveList) {
	var set func(ast.SelectionSet) (ast.SelectionSet, bool)
	dirs := func(ds ast.DirectiveList) (ast.DirectiveList, bool) {
		if d := ds.ForName("defer"); d != nil {
			return rewrite(ds, d), true
		}
		return ds, false
	}
	set = func(in ast.SelectionSet) (ast.SelectionSet, bool) {
		out := make(ast.SelectionSet, len(in))
		changed := false
		for i, sel := range in {
			out[i] = sel
			switch s := sel.(type) {
			case *ast.Field:
				if sub, ok := set(s.SelectionSet); ok {
					c := *s
					c.SelectionSet = sub
					out[i], changed = &c, true
				}
			case *ast.InlineFragment:
				ds, rewritten := dirs(s.Directives)
				sub, ok := set(s.SelectionSet)
				if rewritten || ok {
					c := *s
					c.Directives, c.SelectionSet = ds, sub
					out[i], changed = &c, true
				}
			case *ast.FragmentSpread:
				if ds, rewritten := dirs(s.Directives); rewritten {
					c := *s
					c.Directives = ds
					out[i], changed = &c, true
				}
			}
		}
		if !changed {
			return in, false
		}
		return out, true
	}
	doc := *rc.Doc
	op := *rc.Operation
	op.SelectionSet, _ = set(op.SelectionSet)
	doc.Operations = slices.Clone(doc.Operations)
	for i, o := range doc.Operations {
		if o == rc.Operation {
			doc.Operations[i] = &op
		}
	}
	doc.Fragments = slices.Clone(doc.Fragments)
	for i, f := range doc.Fragments {
		if sub, changed := set(f.SelectionSet); changed {
			c := *f
			c.SelectionSet = sub
			doc.Fragments[i] = &c
		}
	}
	rc.Doc, rc.Operation = &doc, &op
}

// partBoundary separates the parts of a multipart answer (as the incremental delivery RFC's
// examples and gqlgen have it).
const partBoundary = "-"

// framing is how a streamed answer's payloads go over HTTP.
type framing struct {
	contentType func(spec string) string
	part        func(w io.Writer, payload []byte) error
	end         string
}

var (
	// multipartParts: each payload a part of multipart/mixed.
	multipartParts = framing{
		contentType: func(spec string) string { return `multipart/mixed; boundary="` + partBoundary + `"; ` + spec },
		part: func(w io.Writer, payload []byte) error {
			_, err := fmt.Fprintf(w, "\r\n--%s\r\nContent-Type: application/json; charset=utf-8\r\n\r\n%s", partBoundary, payload)
			return err
		},
		end: "\r\n--" + partBoundary + "--\r\n",
	}
	// serverSentEvents: each payload a next event, then complete (GraphQL over SSE,
	// graphql-sse's distinct connections mode). complete carries an empty data field, without
	// which a browser's EventSource does not dispatch it.
	serverSentEvents = framing{
		contentType: func(string) string { return textEventStream + "; charset=utf-8" },
		part: func(w io.Writer, payload []byte) error {
			_, err := fmt.Fprintf(w, "event: next\ndata: %s\n\n", payload)
			return err
		},
		end: "event: complete\ndata: \n\n",
	}
)

// writeEvents writes resp, a request error, as a whole stream of server-sent events.
func writeEvents(w http.ResponseWriter, resp *graphql.Response) {
	w.Header().Set("Content-Type", textEventStream+"; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	serverSentEvents.part(w, appendResponse(nil, resp, false))
	io.WriteString(w, serverSentEvents.end)
}

// streamIncremental runs rc and writes its answer in parts framed by fr (multipart/mixed or
// server-sent events): a first part with what is not deferred, then one part for each deferred
// fragment as it completes, in form (see negotiateAccept). An operation without a deferred
// fragment is one part.
func streamIncremental(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor, rc *graphql.OperationContext, form string, fr framing) {
	h := w.Header()
	spec := "deferSpec=" + deferSpec20220824
	if form == incrementalV02 {
		spec = "incrementalSpec=" + incrementalV02
	}
	h.Set("Content-Type", fr.contentType(spec))
	h.Set("Cache-Control", "no-store")
	h.Del("Content-Length")
	w.WriteHeader(http.StatusOK)
	rw := http.NewResponseController(w)
	labels := labelDefers(rc)
	responses, ctx := exec.DispatchOperation(r.Context(), rc)
	// The parts resolve on a context the operation's deadline does not end: gqlgen drops the
	// result of a deferred fragment whose context has ended, and then waits for it for ever.
	// The deadline still stops the operation (operation.stopAtDeadline) and its upstream calls
	// (loaders.batch), so every part arrives, cut short, and all are read to the end.
	ctx = context.WithoutCancel(ctx)
	parts := make(chan *graphql.Response)
	go func() {
		defer close(parts)
		for resp := responses(ctx); resp != nil; resp = responses(ctx) {
			parts <- resp
		}
	}()
	d := newDeliveries(rc, form, labels)
	var (
		failed error // the client went away: the rest is read, not written
		ended  = r.Context().Done()
		grace  <-chan time.Time
	)
	write := func(part []byte) {
		if part == nil || failed != nil {
			return
		}
		if failed = fr.part(w, part); failed == nil {
			failed = rw.Flush()
		}
	}
	for {
		select {
		case resp, ok := <-parts:
			if !ok {
				if failed == nil {
					io.WriteString(w, fr.end)
				}
				return
			}
			write(d.part(resp))
		case <-ended:
			// Cut short at its deadline, the operation's parts follow at once.
			ended, grace = nil, time.After(time.Second)
		case <-grace:
			// A part gqlgen never delivers: end the answer rather than keep the client
			// waiting, and let whatever still comes go unread.
			go func() {
				for range parts {
				}
			}()
			write(d.abandon())
			if failed == nil {
				io.WriteString(w, fr.end)
			}
			return
		}
	}
}

// deliveries turns the responses gqlgen hands over for one operation into the payloads of
// form: it finds the deferred fragments each payload starts (announced as pending in
// incrementalSpec=v0.2), drops the nulls gqlgen writes where deferred fields will go (they are
// absent until delivered), and matches each deferred result to its fragment.
type deliveries struct {
	rc      *graphql.OperationContext
	form    string
	labels  map[string]string // the client's label of each @defer, by gqlgen's (labelDefers)
	first   bool
	nextID  int
	pending map[string]*deferredFragment // by path and label
	early   map[string]*graphql.Response // results of fragments not yet announced
	found   []*deferredFragment          // announced by the payload being built
}

// deferredFragment is the fragments of one label on one object: gqlgen resolves them as one.
type deferredFragment struct {
	id    string
	path  ast.Path
	label string
	typ   *ast.Definition
	sel   ast.SelectionSet // of the object
}

func newDeliveries(rc *graphql.OperationContext, form string, labels map[string]string) *deliveries {
	return &deliveries{rc: rc, form: form, labels: labels, first: true, pending: map[string]*deferredFragment{}, early: map[string]*graphql.Response{}}
}

func deferKey(path ast.Path, label string) string { return path.String() + "\x00" + label }

// part returns the payload of resp, or nil when it has nothing to say (the result of a
// fragment under an object that was nulled after it started).
func (d *deliveries) part(resp *graphql.Response) []byte {
	hasNext := resp.HasNext != nil && *resp.HasNext
	if d.first {
		d.first = false
		data := resp.Data
		if resp.HasNext != nil { // gqlgen deferred something
			data = d.walkRoot(data)
		}
		p := payload{Errors: resp.Errors, Data: rawOrNull(data), Extensions: resp.Extensions}
		if resp.HasNext != nil {
			p.HasNext = &hasNext
		}
		if p.Pending = d.announced(); d.form != incrementalV02 {
			p.Pending = nil
		}
		return d.finish(&p, hasNext)
	}
	p := payload{HasNext: &hasNext, Extensions: resp.Extensions}
	if _, ok := d.pending[deferKey(resp.Path, resp.Label)]; !ok {
		// A fragment inside a deferred one may complete before it: it waits until its parent
		// is delivered and announces it. Under an object nulled after it started, it waits
		// for nothing and is dropped at the end.
		d.early[deferKey(resp.Path, resp.Label)] = resp
		if hasNext && len(resp.Extensions) == 0 {
			return nil
		}
		return d.finish(&p, hasNext)
	}
	for queue := []*graphql.Response{resp}; len(queue) > 0; queue = queue[1:] {
		r := queue[0]
		key := deferKey(r.Path, r.Label)
		f := d.pending[key]
		delete(d.pending, key)
		found := len(d.found)
		data := d.walkDelivered(f, r.Data)
		switch {
		case d.form != incrementalV02:
			p.Incremental = append(p.Incremental, incremental{Data: rawOrNull(data), Path: nonNilPath(f.path), Label: d.labels[f.label], Errors: r.Errors})
		case isNull(data):
			p.Completed = append(p.Completed, completed{ID: f.id, Errors: r.Errors})
		default:
			p.Incremental = append(p.Incremental, incremental{ID: f.id, Data: data, Errors: r.Errors})
			p.Completed = append(p.Completed, completed{ID: f.id})
		}
		for _, nf := range d.found[found:] {
			if e, ok := d.early[deferKey(nf.path, nf.label)]; ok {
				delete(d.early, deferKey(nf.path, nf.label))
				queue = append(queue, e)
			}
		}
	}
	if p.Pending = d.announced(); d.form != incrementalV02 {
		p.Pending = nil
	}
	return d.finish(&p, hasNext)
}

// finish encodes p; the last payload also ends whatever fragment was announced and never
// delivered, with an error, rather than leaving the client waiting for it.
func (d *deliveries) finish(p *payload, hasNext bool) []byte {
	if !hasNext && len(d.pending) > 0 {
		lost := &gqlerror.Error{Message: "a deferred fragment could not be delivered", Extensions: map[string]any{"code": CodeInternal}}
		for _, f := range d.pending {
			if d.form == incrementalV02 {
				p.Completed = append(p.Completed, completed{ID: f.id, Errors: gqlerror.List{lost}})
			} else {
				p.Incremental = append(p.Incremental, incremental{Path: nonNilPath(f.path), Label: d.labels[f.label], Errors: gqlerror.List{lost}})
			}
		}
		clear(d.pending)
	}
	b, err := marshalJSON(p)
	if err != nil {
		last := false
		b, _ = marshalJSON(payload{Errors: gqlerror.List{{Message: "the answer could not be encoded", Extensions: map[string]any{"code": CodeInternal}}}, HasNext: &last})
	}
	return b
}

// abandon returns the last payload of an answer whose remaining parts will not come: every
// fragment still pending ends with an error.
func (d *deliveries) abandon() []byte {
	hasNext := false
	if d.first { // not even the first part came
		return d.finish(&payload{Errors: gqlerror.List{{Message: "the operation could not be completed", Extensions: map[string]any{"code": CodeInternal}}}, Data: json.RawMessage("null")}, false)
	}
	return d.finish(&payload{HasNext: &hasNext}, false)
}

// announced returns the fragments found since the last call, as pending entries.
func (d *deliveries) announced() []pending {
	var out []pending
	for _, f := range d.found {
		out = append(out, pending{ID: f.id, Path: nonNilPath(f.path), Label: d.labels[f.label]})
	}
	d.found = nil
	return out
}

// walkRoot walks the first payload's data from the root.
func (d *deliveries) walkRoot(data []byte) []byte {
	root := parsedSchema.Types[rootType(d.rc.Operation.Operation)]
	if root == nil {
		return data
	}
	return d.walkObject(data, root, d.rc.Operation.SelectionSet, nil)
}

// walkDelivered walks the data a deferred fragment delivered: the fields of its label on the
// object at its path.
func (d *deliveries) walkDelivered(f *deferredFragment, data []byte) []byte {
	ms, ok := jsonMembers(data)
	if !ok {
		return data
	}
	fields := graphql.CollectFields(d.rc, f.sel, implementors(f.typ))
	for i, m := range ms {
		for _, cf := range fields {
			if cf.Alias == m.key {
				ms[i].value = d.walkValue(m.value, cf, appendPath(f.path, ast.PathName(m.key)))
				break
			}
		}
	}
	return joinMembers(ms)
}

// walkObject walks an object of type typ selected by sel at path: the fields gqlgen deferred
// are dropped (it writes null in their place) and their fragments noted; the others are walked.
func (d *deliveries) walkObject(data []byte, typ *ast.Definition, sel ast.SelectionSet, path ast.Path) []byte {
	ms, ok := jsonMembers(data)
	if !ok {
		return data
	}
	fields := graphql.CollectFields(d.rc, sel, implementors(typ))
	var labels []string
	for _, cf := range fields {
		i := slices.IndexFunc(ms, func(m member) bool { return m.key == cf.Alias })
		if cf.IsDeferred() && deferredByGqlgen(typ.Name, cf.Name) {
			for _, df := range cf.Deferrables {
				if !slices.Contains(labels, df.Label) {
					labels = append(labels, df.Label)
				}
			}
			if i >= 0 {
				ms = slices.Delete(ms, i, i+1)
			}
			continue
		}
		if i >= 0 {
			ms[i].value = d.walkValue(ms[i].value, cf, appendPath(path, ast.PathName(cf.Alias)))
		}
	}
	slices.Sort(labels)
	for _, label := range labels {
		f := &deferredFragment{id: strconv.Itoa(d.nextID), path: path, label: label, typ: typ, sel: sel}
		d.nextID++
		d.pending[deferKey(path, label)] = f
		d.found = append(d.found, f)
	}
	return joinMembers(ms)
}

// walkValue walks the value of field cf at path: objects, and lists of them at any depth.
func (d *deliveries) walkValue(data []byte, cf graphql.CollectedField, path ast.Path) []byte {
	if cf.Definition == nil || isNull(data) {
		return data
	}
	typ := cf.Definition.Type
	named := parsedSchema.Types[typ.Name()]
	if named == nil || (named.Kind != ast.Object && named.Kind != ast.Interface && named.Kind != ast.Union) {
		return data
	}
	var walk func(data []byte, t *ast.Type, path ast.Path) []byte
	walk = func(data []byte, t *ast.Type, path ast.Path) []byte {
		if isNull(data) {
			return data
		}
		if t.Elem == nil {
			obj := named
			if named.Kind != ast.Object {
				obj = concreteType(data)
				if obj == nil {
					return data
				}
			}
			return d.walkObject(data, obj, cf.Selections, path)
		}
		elems, ok := jsonElements(data)
		if !ok {
			return data
		}
		for i, e := range elems {
			elems[i] = walk(e, t.Elem, appendPath(path, ast.PathIndex(i)))
		}
		return joinElements(elems)
	}
	return walk(data, typ, path)
}

// appendPath returns path with e added, never sharing path's array.
func appendPath(path ast.Path, e ast.PathElement) ast.Path {
	return append(slices.Clip(path), e)
}

func nonNilPath(p ast.Path) ast.Path {
	if p == nil {
		return ast.Path{}
	}
	return p
}

func isNull(data []byte) bool { return len(data) == 0 || string(data) == "null" }

func rawOrNull(data []byte) json.RawMessage {
	if len(data) == 0 {
		return json.RawMessage("null")
	}
	return data
}

// The payloads of both forms: the first holds data (and in v0.2 the fragments pending), the
// later ones what fragments add.
type payload struct {
	Errors      gqlerror.List   `json:"errors,omitempty"`
	Data        json.RawMessage `json:"data,omitempty"`
	Pending     []pending       `json:"pending,omitempty"`
	Incremental []incremental   `json:"incremental,omitempty"`
	Completed   []completed     `json:"completed,omitempty"`
	HasNext     *bool           `json:"hasNext,omitempty"`
	Extensions  map[string]any  `json:"extensions,omitempty"`
}

type pending struct {
	ID    string   `json:"id"`
	Path  ast.Path `json:"path"`
	Label string   `json:"label,omitempty"`
}

// incremental is one fragment's delivery: by id in v0.2, by path and label in 20220824.
type incremental struct {
	ID     string          `json:"id,omitempty"`
	Data   json.RawMessage `json:"data,omitempty"`
	Path   ast.Path        `json:"path,omitempty"`
	Label  string          `json:"label,omitempty"`
	Errors gqlerror.List   `json:"errors,omitempty"`
}

type completed struct {
	ID     string        `json:"id"`
	Errors gqlerror.List `json:"errors,omitempty"`
}

// member is one member of a JSON object, in the order written.
type member struct {
	key   string
	value json.RawMessage
}

// jsonMembers reads a JSON object's members in order; false if data is no object.
func jsonMembers(data []byte) ([]member, bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, false
	}
	var ms []member
	for dec.More() {
		tok, err := dec.Token()
		key, ok := tok.(string)
		if err != nil || !ok {
			return nil, false
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, false
		}
		ms = append(ms, member{key, v})
	}
	return ms, true
}

func joinMembers(ms []member) []byte {
	b := []byte{'{'}
	for i, m := range ms {
		if i > 0 {
			b = append(b, ',')
		}
		k, _ := json.Marshal(m.key)
		b = append(append(append(b, k...), ':'), m.value...)
	}
	return append(b, '}')
}

// jsonElements reads a JSON array's elements; false if data is no array.
func jsonElements(data []byte) ([]json.RawMessage, bool) {
	var es []json.RawMessage
	if err := json.Unmarshal(data, &es); err != nil {
		return nil, false
	}
	return es, true
}

func joinElements(es []json.RawMessage) []byte {
	b := []byte{'['}
	for i, e := range es {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, e...)
	}
	return append(b, ']')
}

// implementors is what CollectFields takes for an object of type t, as gqlgen's generated
// code passes it: the type and its interfaces.
func implementors(t *ast.Definition) []string {
	return append([]string{t.Name}, t.Interfaces...)
}

// concreteType reads the type of an object of an abstract type from its __typename, if it
// was selected; without it the object is not walked (a deferred fragment in it stays null).
func concreteType(data []byte) *ast.Definition {
	var v struct {
		Typename string `json:"__typename"`
	}
	if json.Unmarshal(data, &v) != nil || v.Typename == "" {
		return nil
	}
	return parsedSchema.Types[v.Typename]
}

// deferredByGqlgen reports whether gqlgen defers field of typ when a @defer asks it to: it
// defers only the fields it resolves concurrently, those with resolvers, and resolves the
// others of a deferred fragment at once, in the payload of their object.
func deferredByGqlgen(typ, field string) bool { return concurrentFields[typ+"."+field] }

// concurrentFields are the fields of ResolverRoot's resolvers but for the root types' (root
// fields are never deferred): "Contract.history" for ContractResolver.History.
var concurrentFields = func() map[string]bool {
	out := map[string]bool{}
	root := reflect.TypeFor[ResolverRoot]()
	for i := range root.NumMethod() {
		m := root.Method(i)
		def := parsedSchema.Types[m.Name]
		if def == nil || def == parsedSchema.Query || def == parsedSchema.Mutation || def == parsedSchema.Subscription {
			continue
		}
		resolver := m.Type.Out(0)
		for j := range resolver.NumMethod() {
			for _, f := range def.Fields {
				if strings.EqualFold(f.Name, resolver.Method(j).Name) {
					out[def.Name+"."+f.Name] = true
				}
			}
		}
	}
	return out
}()
