package upstream

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
)

// A Projection names the parts of a history that one reader needs: for each object type
// (History, Ticket, Customer, ...), the JSON fields to keep. A history decoded through it has
// every other field empty. It serves one operation's reads of what the upstream just sent (with
// caching off, or on a cache miss): a 35 KB history of which a list view reads three fields per
// ticket decodes in a fraction of the time and garbage. What is decoded through a projection
// serves only operations with that projection; what a cache keeps is decoded whole.
type Projection struct {
	root *projNode
}

// projNode is one object type's kept fields: lower-cased JSON name -> the node of the field's
// objects, or nil for a value that is kept as it is (a scalar, a list of scalars, free JSON).
type projNode struct {
	fields map[string]*projNode
}

var historyType = reflect.TypeFor[History]()

// objectTypes maps each object type's name, lower-cased, to its type, for every object type a history holds.
var objectTypes = func() map[string]reflect.Type {
	types := map[string]reflect.Type{}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		if _, seen := types[strings.ToLower(t.Name())]; seen {
			return
		}
		types[strings.ToLower(t.Name())] = t
		for i := range t.NumField() {
			if o := objectOf(t.Field(i).Type); o != nil {
				walk(o)
			}
		}
	}
	walk(historyType)
	return types
}()

// objectOf returns the object type that a field of type t holds (directly, through a pointer
// or as a list), or nil when it holds none.
func objectOf(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		if t == reflect.TypeFor[json.RawMessage]() {
			return nil
		}
		t = t.Elem()
	}
	if isObject(t) {
		return t
	}
	return nil
}

// NewProjection returns the projection that keeps, of each object type named in keep (by its
// name in any case), the JSON fields listed, and of every other object type nothing; nil when that is every field of every
// type a history holds. It fails for a type or field that is not part of a history; callers
// then decode everything.
func NewProjection(keep map[string][]string) (*Projection, error) {
	kept := map[reflect.Type][]string{}
	for name, fields := range keep {
		t, ok := objectTypes[strings.ToLower(name)]
		if !ok {
			return nil, fmt.Errorf("projection: %q is not an object type of a history", name)
		}
		for _, f := range fields {
			if fieldType(t, f) == nil {
				return nil, fmt.Errorf("projection: %s has no JSON field %q", name, f)
			}
		}
		kept[t] = append(kept[t], fields...)
	}
	// Without its tickets a body is not a history (see DecodeHistory): always kept, so that a
	// projection fails a body exactly when decoding it whole does.
	kept[historyType] = append(kept[historyType], "tickets")
	nodes := map[reflect.Type]*projNode{}
	all := true
	var build func(t reflect.Type) *projNode
	build = func(t reflect.Type) *projNode {
		if n, ok := nodes[t]; ok {
			return n
		}
		n := &projNode{fields: map[string]*projNode{}}
		nodes[t] = n // before the fields: types may nest themselves
		for _, f := range kept[t] {
			var child *projNode
			if o := objectOf(fieldType(t, f)); o != nil {
				child = build(o)
			}
			n.fields[strings.ToLower(f)] = child
		}
		if len(n.fields) < countFields(t) {
			all = false
		}
		return n
	}
	root := build(historyType)
	if all {
		return nil, nil
	}
	return &Projection{root: root}, nil
}

func countFields(t reflect.Type) int {
	n := 0
	for _, name := range jsonNames(t) {
		if name != "" {
			n++
		}
	}
	return n
}

// fieldType returns the type of t's field with the JSON name name, or nil.
func fieldType(t reflect.Type, name string) reflect.Type {
	for i, n := range jsonNames(t) {
		if n == name && n != "" {
			return t.Field(i).Type
		}
	}
	return nil
}

var errSyntax = errors.New("projection: not JSON")

// maxDepth bounds nesting, so that a hostile body cannot recurse without end; such a body is
// left to the full decoder.
const maxDepth = 512

// prune appends to dst the JSON body b with only the fields p keeps. Kept values are copied as they
// are, so decoding the result gives every kept field exactly what decoding b gives it. Fields
// are matched by name regardless of case (a superset of what either decoder matches: goccy
// folds case, the lenient fallback does not). It fails when b is not
// well-formed JSON; callers then decode b itself, so that a malformed body fails the same way
// with or without a projection.
func (p *Projection) prune(dst, b []byte) ([]byte, error) {
	pr := pruner{in: b, out: dst}
	if err := pr.value(p.root, true, 0); err != nil {
		return nil, err
	}
	pr.space()
	if pr.pos != len(b) {
		return nil, errSyntax
	}
	return pr.out, nil
}

// pruner copies the kept parts of in to out, checking that everything it skips is JSON.
type pruner struct {
	in  []byte
	pos int
	out []byte
}

// space moves past white space.
func (p *pruner) space() {
	in, i := p.in, p.pos
	for i+8 <= len(in) && binary.LittleEndian.Uint64(in[i:]) == spaces { // indentation
		i += 8
	}
	for i < len(in) && isSpace[in[i]] {
		i++
	}
	p.pos = i
}

// Eight bytes at a time: a word of spaces, and whether a word holds a byte that ends a run of
// plain bytes in a string ('"', '\\' or a control character), after "Bit Twiddling Hacks".
const (
	ones   = 0x0101010101010101
	highs  = 0x8080808080808080
	spaces = ones * ' '
)

func stopsWord(v uint64) bool {
	quote, backslash := v^(ones*'"'), v^(ones*'\\')
	return ((quote-ones)&^quote|(backslash-ones)&^backslash|(v-ones*0x20)&^v)&highs != 0
}

// isSpace holds JSON's white space; stopsString what ends a run of plain bytes in a string.
var isSpace, stopsString = func() (space, stop [256]bool) {
	for _, c := range " \t\n\r" {
		space[c] = true
	}
	for c := range 0x20 {
		stop[c] = true
	}
	stop['"'], stop['\\'] = true, true
	return space, stop
}()

// next returns the next byte after white space and moves past it; 0 at the end.
func (p *pruner) next() byte {
	p.space()
	if p.pos >= len(p.in) {
		return 0
	}
	p.pos++
	return p.in[p.pos-1]
}

// value moves past the value at p.pos, checking its syntax, and with keep copies it to out:
// an object keeps the fields of n, a list applies n to each element, and anything else (or any
// value when n is nil) is copied whole.
func (p *pruner) value(n *projNode, keep bool, depth int) error {
	p.space()
	if p.pos >= len(p.in) || depth > maxDepth {
		return errSyntax
	}
	c := p.in[p.pos]
	filter := keep && n != nil && (c == '{' || c == '[')
	if keep && !filter {
		start := p.pos
		if err := p.value(nil, false, depth); err != nil {
			return err
		}
		p.out = append(p.out, p.in[start:p.pos]...)
		return nil
	}
	switch {
	case c == '{':
		p.pos++
		p.emit(filter, '{')
		if p.space(); p.pos < len(p.in) && p.in[p.pos] == '}' {
			p.pos++
			p.emit(filter, '}')
			return nil
		}
		first := true
		for {
			p.space()
			start := p.pos
			if err := p.str(); err != nil {
				return err
			}
			key := p.in[start:p.pos]
			if p.next() != ':' {
				return errSyntax
			}
			var child *projNode
			kept := false
			if filter {
				child, kept = n.lookup(key[1 : len(key)-1])
			}
			if kept {
				if !first {
					p.out = append(p.out, ',')
				}
				first = false
				p.out = append(append(p.out, key...), ':')
			}
			if err := p.value(child, kept, depth+1); err != nil {
				return err
			}
			switch p.next() {
			case ',':
			case '}':
				p.emit(filter, '}')
				return nil
			default:
				return errSyntax
			}
		}
	case c == '[':
		p.pos++
		p.emit(filter, '[')
		if p.space(); p.pos < len(p.in) && p.in[p.pos] == ']' {
			p.pos++
			p.emit(filter, ']')
			return nil
		}
		for {
			if err := p.value(n, filter, depth+1); err != nil {
				return err
			}
			switch p.next() {
			case ',':
				p.emit(filter, ',')
			case ']':
				p.emit(filter, ']')
				return nil
			default:
				return errSyntax
			}
		}
	case c == '"':
		return p.str()
	case c == 't':
		return p.literal("true")
	case c == 'f':
		return p.literal("false")
	case c == 'n':
		return p.literal("null")
	case c == '-' || '0' <= c && c <= '9':
		return p.number()
	}
	return errSyntax
}

func (p *pruner) emit(on bool, c byte) {
	if on {
		p.out = append(p.out, c)
	}
}

// lookup finds the JSON name key (still escaped) among n's fields. A name with escapes is kept
// whole rather than unescaped: keeping more than asked is always safe.
func (n *projNode) lookup(key []byte) (*projNode, bool) {
	var buf [64]byte
	if len(key) > len(buf) {
		return nil, false // longer than any field name of a history
	}
	for i, c := range key {
		switch {
		case c == '\\':
			return nil, true
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	child, ok := n.fields[string(buf[:len(key)])]
	return child, ok
}

func (p *pruner) literal(s string) error {
	if !strings.HasPrefix(string(p.in[p.pos:min(p.pos+len(s), len(p.in))]), s) {
		return errSyntax
	}
	p.pos += len(s)
	return nil
}

// str moves past a JSON string, checking its escapes and that it holds no control characters.
func (p *pruner) str() error {
	if p.pos >= len(p.in) || p.in[p.pos] != '"' {
		return errSyntax
	}
	in := p.in
	for i := p.pos + 1; i < len(in); i++ {
		for i+8 <= len(in) && !stopsWord(binary.LittleEndian.Uint64(in[i:])) {
			i += 8
		}
		for i < len(in) && !stopsString[in[i]] {
			i++
		}
		if i == len(in) {
			break
		}
		switch c := in[i]; {
		case c == '"':
			p.pos = i + 1
			return nil
		case c < 0x20:
			return errSyntax
		case c == '\\':
			i++
			if i >= len(p.in) {
				return errSyntax
			}
			switch p.in[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(p.in) {
					return errSyntax
				}
				for _, h := range p.in[i+1 : i+5] {
					if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
						return errSyntax
					}
				}
				i += 4
			default:
				return errSyntax
			}
		}
	}
	return errSyntax
}

// number moves past a JSON number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (p *pruner) number() error {
	in, i := p.in, p.pos
	digits := func() bool {
		start := i
		for i < len(in) && '0' <= in[i] && in[i] <= '9' {
			i++
		}
		return i > start
	}
	if i < len(in) && in[i] == '-' {
		i++
	}
	switch {
	case i < len(in) && in[i] == '0':
		i++
	case !digits():
		return errSyntax
	}
	if i < len(in) && in[i] == '.' {
		i++
		if !digits() {
			return errSyntax
		}
	}
	if i < len(in) && (in[i] == 'e' || in[i] == 'E') {
		i++
		if i < len(in) && (in[i] == '+' || in[i] == '-') {
			i++
		}
		if !digits() {
			return errSyntax
		}
	}
	p.pos = i
	return nil
}
