// Package complexity measures a GraphQL operation before it runs: the shape of its text
// (depth, aliases, root fields, directives, repeated names), checked before validation, and
// its estimated cost, with the contracts its root fields name. It knows the schema's lists and
// arguments by name but needs nothing beyond gqlparser, so that it can be read and fuzzed alone.
package complexity

import (
	"fmt"

	"github.com/vektah/gqlparser/v2/ast"
)

// ShapeLimits bound the shape of an operation's text.
type ShapeLimits struct {
	Depth, Aliases, RootFields, Directives int
}

// MaxRepeats bounds how often one response name may be selected in one selection set
// (fragments counted as inlined). Validation compares every pair of fields of one name, so
// 1,000 repeats of one field cost it 50 ms and conflicting ones tens of thousands of errors;
// legitimate queries repeat a name only where fragments overlap.
const MaxRepeats = 10

// Bound names the limit a Violation passes.
type Bound int

const (
	Depth Bound = iota + 1
	Aliases
	RootFields
	Directives
	Repeats
)

// Violation is a limit an operation passes: what was counted against what is allowed, and a
// sentence that says so.
type Violation struct {
	Bound            Bound
	Counted, Allowed int64
	Message          string
}

func violation(b Bound, counted, allowed int64, format string, args ...any) *Violation {
	return &Violation{Bound: b, Counted: counted, Allowed: allowed, Message: fmt.Sprintf(format, args...)}
}

// Saturated is the most any count reaches: counts of fragments spread many times over stop
// there rather than overflow.
const Saturated = 1 << 50

func add(a, b int64) int64 { return min(a+b, Saturated) }

func mul(a, b int64) int64 {
	if a == 0 || b == 0 {
		return 0
	}
	if a > Saturated/b {
		return Saturated
	}
	return a * b
}

// shape is what checkShape counts in a selection set, fragments inlined.
type shape struct {
	depth, aliases, directives int64
	names                      map[string]int64 // response names at the top, with repeats
}

func (s *shape) merge(t shape) {
	s.depth = max(s.depth, t.depth)
	s.aliases = add(s.aliases, t.aliases)
	s.directives = add(s.directives, t.directives)
}

// shapeWalker walks a document that has parsed but is not yet validated: fragments are found by
// name, and a cycle or an unknown name counts as empty (validation reports them).
type shapeWalker struct {
	doc       *ast.QueryDocument
	fragments map[string]*shape // nil while being walked
	repeated  *Violation
}

// CheckShape holds every operation of doc (and every fragment, which validation checks too) to
// the limits on depth, aliases, root fields, directives and repeated fields (MaxRepeats). doc has
// parsed but need not be valid.
func CheckShape(doc *ast.QueryDocument, l ShapeLimits) *Violation {
	w := &shapeWalker{doc: doc, fragments: map[string]*shape{}}
	for _, f := range doc.Fragments {
		w.fragment(f.Name)
	}
	for _, op := range doc.Operations {
		s := w.set(op.SelectionSet)
		if w.repeated != nil {
			return w.repeated
		}
		s.directives = add(s.directives, int64(len(op.Directives)))
		var root int64
		for _, n := range s.names {
			root = add(root, n)
		}
		name := op.Name
		if name == "" {
			name = "the operation"
		}
		switch {
		case s.depth > int64(l.Depth):
			return violation(Depth, s.depth, int64(l.Depth),
				"%s nests fields %d deep, more than the %d allowed", name, s.depth, l.Depth)
		case s.aliases > int64(l.Aliases):
			return violation(Aliases, s.aliases, int64(l.Aliases),
				"%s has %d aliases (fragments counted as inlined), more than the %d allowed", name, s.aliases, l.Aliases)
		case root > int64(l.RootFields):
			return violation(RootFields, root, int64(l.RootFields),
				"%s has %d root fields, more than the %d allowed", name, root, l.RootFields)
		case s.directives > int64(l.Directives):
			return violation(Directives, s.directives, int64(l.Directives),
				"%s has %d directives (fragments counted as inlined), more than the %d allowed", name, s.directives, l.Directives)
		}
	}
	return w.repeated
}

func (w *shapeWalker) fragment(name string) shape {
	if s, ok := w.fragments[name]; ok {
		if s == nil {
			return shape{} // a cycle
		}
		return *s
	}
	def := w.doc.Fragments.ForName(name)
	if def == nil {
		return shape{}
	}
	w.fragments[name] = nil
	s := w.set(def.SelectionSet)
	s.directives = add(s.directives, int64(len(def.Directives)))
	w.fragments[name] = &s
	return s
}

func (w *shapeWalker) set(set ast.SelectionSet) shape {
	s := shape{names: map[string]int64{}}
	count := func(name string, n int64) {
		c := add(s.names[name], n)
		s.names[name] = c
		if c > MaxRepeats && w.repeated == nil {
			w.repeated = violation(Repeats, c, MaxRepeats,
				"%q is selected %d times in one selection set (fragments counted as inlined), more than the %d allowed", name, c, MaxRepeats)
		}
	}
	for _, sel := range set {
		if w.repeated != nil {
			return s
		}
		switch x := sel.(type) {
		case *ast.Field:
			child := w.set(x.SelectionSet)
			child.depth++
			if x.Alias != "" && x.Alias != x.Name {
				child.aliases = add(child.aliases, 1)
			}
			child.directives = add(child.directives, int64(len(x.Directives)))
			s.merge(child)
			name := x.Alias
			if name == "" {
				name = x.Name
			}
			count(name, 1)
		case *ast.InlineFragment:
			child := w.set(x.SelectionSet)
			child.directives = add(child.directives, int64(len(x.Directives)))
			s.merge(child)
			for name, n := range child.names {
				count(name, n)
			}
		case *ast.FragmentSpread:
			child := w.fragment(x.Name)
			child.directives = add(child.directives, int64(len(x.Directives)))
			s.merge(child)
			for name, n := range child.names {
				count(name, n)
			}
		}
	}
	return s
}
