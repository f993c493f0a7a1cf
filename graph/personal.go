package graph

import (
	"context"
	"crypto/rand"
	"log/slog"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/enneo-facade/facade/graph/audit"
	"github.com/enneo-facade/facade/graph/personal"
	"github.com/enneo-facade/facade/upstream"
)

// Personal data by need to know (docs/personal-data.md): fields marked @personal are shown to a
// caller as its policy says. Under deny, an operation that selects one is refused before it
// runs (checkPersonal); under mask, each one's value is masked as it is resolved
// (request.personalField), so that every way out (JSON, CSV, the parts of an @defer, a
// subscription's events) carries the masked value, and the caches below, which hold the raw
// histories, never see a masked one. The response cache keys answers by policy too.

func init() {
	errcode.RegisterErrorType(CodePersonalForbidden, errcode.KindProtocol) // refused before it runs
}

// personalOptions are what the requests of one handler share about personal data.
type personalOptions struct {
	masker *personal.Masker // masks for callers whose policy is mask
	audit  *audit.Log       // nil: no audit
}

// reads is what an operation read, for its audit line: the contracts it returned and the kinds
// of personal data it returned unmasked.
type reads struct {
	kinds     atomic.Uint32 // a personal.Kinds
	mu        sync.Mutex
	contracts map[string]struct{}
}

func (r *reads) contract(k *upstream.Contract) {
	if k == nil || k.ID == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.contracts == nil {
		r.contracts = map[string]struct{}{}
	}
	r.contracts[string(*k.ID)] = struct{}{}
}

func (r *reads) kind(k personal.Kind) { r.kinds.Or(uint32(personal.Kinds(0).With(k))) }

// watchesFields reports whether personalField must see the operation's fields.
func (q *request) watchesFields() bool {
	return q.cred.Personal == personal.Mask || q.personal.audit != nil
}

// personalField is what the caller sees of res, a field's value: masked under mask. With an
// audit, it notes the contracts returned and the kinds of personal data returned unmasked.
func (q *request) personalField(ctx context.Context, res any) any {
	def := graphql.GetFieldContext(ctx).Field.Definition
	if q.personal.audit != nil && def.Type.Name() == "Contract" {
		switch k := res.(type) {
		case *upstream.Contract:
			q.read.contract(k)
		case []*upstream.Contract:
			for _, c := range k {
				q.read.contract(c)
			}
		}
	}
	kind := personal.KindOf(def)
	switch {
	case kind == personal.None:
		return res
	case q.cred.Personal == personal.Mask:
		return masked(q.personal.masker, kind, res)
	case !nullValue(res):
		q.read.kind(kind)
	}
	return res
}

// masked is v, a value of kind k, as a masking caller sees it: a marshaler of the masked text
// (gqlgen writes a marshaler a middleware returns as it is), null, or, for an object whose
// fields are marked themselves (replyRecipients), v.
func masked(m *personal.Masker, k personal.Kind, v any) any {
	if k == personal.FreeText {
		return nil
	}
	r := reflect.ValueOf(v)
	for r.Kind() == reflect.Pointer {
		if r.IsNil() {
			return nil
		}
		r = r.Elem()
	}
	switch {
	case r.Kind() == reflect.String:
		if s, ok := m.Mask(k, r.String()); ok {
			return graphql.MarshalString(s)
		}
		return nil
	case r.Kind() == reflect.Slice && r.Type().Elem().Kind() == reflect.String:
		if r.IsNil() {
			return nil
		}
		list := make(graphql.Array, r.Len())
		for i := range list {
			s, ok := m.Mask(k, r.Index(i).String())
			if !ok { // an address without postal code in a list of non-null strings
				s = ""
			}
			list[i] = graphql.MarshalString(s)
		}
		return list
	case r.Kind() == reflect.Struct: // its fields say what of it is personal
		return v
	}
	return nil // a value masking does not know how to keep part of
}

// nullValue reports whether v resolves to null.
func nullValue(v any) bool {
	if v == nil {
		return true
	}
	switch r := reflect.ValueOf(v); r.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Map, reflect.Interface:
		return r.IsNil()
	}
	return false
}

// checkPersonal refuses, under deny, an operation that selects personal data, and under mask
// or deny one that filters tickets on their text (filter.text), which would tell what the
// caller may not read; nil: it may run. The error names the fields' paths (aliases as the
// answer would have them) and kinds.
func checkPersonal(oc *graphql.OperationContext, policy personal.Policy) *gqlerror.Error {
	if policy == personal.Allow {
		return nil
	}
	var (
		paths, filters []string
		kinds          personal.Kinds
		locs           []gqlerror.Location
	)
	var walk func(sel ast.SelectionSet, typ string, path []string)
	walk = func(sel ast.SelectionSet, typ string, path []string) {
		for _, f := range graphql.CollectFields(oc, sel, []string{typ}) {
			if f.Definition == nil { // __typename
				continue
			}
			at := append(path[:len(path):len(path)], f.Alias)
			if filter, ok := f.ArgumentMap(oc.Variables)["filter"].(map[string]any); ok && filter["text"] != nil {
				filters = append(filters, strings.Join(at, "."))
				locs = append(locs, gqlerror.Location{Line: f.Position.Line, Column: f.Position.Column})
			}
			if k := personal.KindOf(f.Definition); k != personal.None && policy == personal.Deny {
				paths, kinds = append(paths, strings.Join(at, ".")), kinds.With(k)
				locs = append(locs, gqlerror.Location{Line: f.Position.Line, Column: f.Position.Column})
				continue
			}
			if len(f.Selections) > 0 {
				walk(f.Selections, f.Definition.Type.Name(), at)
			}
		}
	}
	walk(oc.Operation.SelectionSet, rootType(oc.Operation.Operation), nil)
	if len(paths) == 0 && len(filters) == 0 {
		return nil
	}
	err := &gqlerror.Error{Locations: locs, Extensions: map[string]any{"code": CodePersonalForbidden, "policy": policy.String()}}
	switch {
	case len(paths) > 0:
		err.Message = "this caller may not read personal data (" + strings.Join(kinds.Names(), ", ") + "), which the operation selects at " + pathList(paths) + ": leave those fields out"
		err.Extensions["paths"], err.Extensions["kinds"] = paths, kinds.Names()
	default:
		err.Message = "this caller may not search tickets' text (filter.text at " + pathList(filters) + "): it would tell what its policy on personal data hides"
		err.Extensions["paths"] = filters
	}
	return err
}

// pathList is paths for a message: the first five, and how many more.
func pathList(paths []string) string {
	if len(paths) <= 5 {
		return strings.Join(paths, ", ")
	}
	return strings.Join(paths[:5], ", ") + " and " + strconv.Itoa(len(paths)-5) + " more"
}

// auditRead is what q's operation, called name, read: nil when it returned no contract data.
func (q *request) auditRead(name string) *audit.Read {
	ids := map[string]struct{}{}
	if id := q.event.pop(); id != "" { // a subscription's event: its contract
		ids[id] = struct{}{}
	}
	q.used.each(func(id string, _ historyUse) { ids[id] = struct{}{} })
	q.read.mu.Lock()
	for id := range q.read.contracts {
		ids[id] = struct{}{}
	}
	q.read.mu.Unlock()
	if len(ids) == 0 {
		return nil
	}
	r := &audit.Read{Policy: q.cred.Personal.String(), Operation: name, Personal: personal.Kinds(q.read.kinds.Load()).Names()}
	for id := range ids {
		r.Contracts = append(r.Contracts, id)
	}
	slices.Sort(r.Contracts)
	return r
}

// writeAudit writes the audit line of q's operation, called name, if it returned contract
// data (returned: its answer has data), and returns the line's tail for an answer the response
// cache keeps.
func (q *request) writeAudit(name string, returned bool) []byte {
	if q.personal.audit == nil {
		return nil
	}
	r := q.auditRead(name)
	if !returned {
		return nil
	}
	if r == nil {
		return nil
	}
	tail := r.Tail()
	q.personal.audit.Write(time.Now(), q.requestID, q.cred.caller(), tail)
	return tail
}

// newMasker returns the masker of pseudonyms under secret, or, unset, under a random secret of
// the process: said with a warning where some caller's policy masks, as pseudonyms then differ
// from one replica or restart to the next.
func newMasker(secret string, auth *Authenticator, log *slog.Logger) *personal.Masker {
	if secret == "" {
		secret = rand.Text()
		if auth != nil && auth.Masks() {
			log.Warn("PSEUDONYM_SECRET is unset: masked values use a random per-process secret, so their pseudonyms differ between replicas and restarts")
		}
	}
	return personal.NewMasker([]byte(secret))
}
