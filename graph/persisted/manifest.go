// Package persisted serves persisted GraphQL operations: a safelist read from a manifest file
// (Apollo's or Relay's format), and a Redis-backed store for gqlgen's automatic persisted queries
// (APQ), so that every replica knows a query once any replica has seen it.
package persisted

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
)

// apolloFormat is the "format" value of Apollo's persisted query manifest
// (@apollo/generate-persisted-query-manifest).
const apolloFormat = "apollo-persisted-query-manifest"

// Manifest is a safelist of operations, each known by its id in the manifest and by the sha256
// of its body. It does not change after parsing and is safe for concurrent use.
type Manifest struct {
	ops    []operation
	byID   map[string]int // the manifest's own ids, to an index into ops
	byHash map[string]int // the lower-case sha256 hex of each body, to an index into ops
}

// operation is one entry of a manifest.
type operation struct {
	id   string
	name string // Apollo's operation name; empty for Relay
	body string
}

// label names the operation at place n (counting from 1) in an error: by place and name in an
// Apollo manifest (numbered), by id in a Relay one. It never holds the body, which may be long.
func (op operation) label(n int, numbered bool) string {
	switch {
	case numbered && op.name != "":
		return fmt.Sprintf("operation %d (%q)", n, op.name)
	case numbered || op.id == "":
		return fmt.Sprintf("operation %d", n)
	default:
		return fmt.Sprintf("operation %q", op.id)
	}
}

// ReadManifest reads and parses the manifest file at path (see ParseManifest).
func ReadManifest(path string) (*Manifest, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read persisted operations manifest: %w", err) // err names path
	}
	m, err := ParseManifest(data)
	if err != nil {
		return nil, fmt.Errorf("persisted operations manifest %s: %w", path, err)
	}
	return m, nil
}

// ParseManifest parses a manifest in either of two formats, told apart by their content:
// Apollo's persisted query manifest, an object with "format", "version" and "operations"
// ({"id", "name", "type", "body"} each); or Relay's (relay-compiler's persisted queries), a
// flat object from id to query text. It fails on an empty manifest, an empty id or body, and
// an id that names two different bodies.
func ParseManifest(data []byte) (*Manifest, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 || data[0] != '{' {
		return nil, errors.New("neither an Apollo nor a Relay manifest: want a JSON object")
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, fmt.Errorf("not valid JSON: %w", err)
	}
	// Relay's ids are hashes, so a Relay manifest never has these keys.
	_, hasFormat := top["format"]
	_, hasOps := top["operations"]
	if hasFormat || hasOps {
		return parseApollo(data)
	}
	return parseRelay(data)
}

// parseApollo parses Apollo's format.
func parseApollo(data []byte) (*Manifest, error) {
	var doc struct {
		Format     string `json:"format"`
		Version    *int   `json:"version"`
		Operations []struct {
			ID   string `json:"id"`
			Name string `json:"name"`
			Type string `json:"type"`
			Body string `json:"body"`
		} `json:"operations"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("apollo manifest: %w", err)
	}
	switch {
	case doc.Format == "":
		return nil, fmt.Errorf("apollo manifest: no format, want %q", apolloFormat)
	case doc.Format != apolloFormat:
		return nil, fmt.Errorf("apollo manifest: unknown format %q, want %q", doc.Format, apolloFormat)
	case doc.Version == nil:
		return nil, errors.New("apollo manifest: no version, want 1")
	case *doc.Version != 1:
		return nil, fmt.Errorf("apollo manifest: unsupported version %d, want 1", *doc.Version)
	case len(doc.Operations) == 0:
		return nil, errors.New("apollo manifest: empty manifest: no operations")
	}
	ops := make([]operation, len(doc.Operations))
	for i, o := range doc.Operations {
		ops[i] = operation{id: o.ID, name: o.Name, body: o.Body}
		switch o.Type {
		case "query", "mutation", "subscription":
		case "":
			return nil, fmt.Errorf("apollo manifest: %s: no type, want query, mutation or subscription", ops[i].label(i+1, true))
		default:
			return nil, fmt.Errorf("apollo manifest: %s: unknown type %q, want query, mutation or subscription",
				ops[i].label(i+1, true), o.Type)
		}
	}
	m, err := index(ops, true)
	if err != nil {
		return nil, fmt.Errorf("apollo manifest: %w", err)
	}
	return m, nil
}

// parseRelay parses Relay's format. It reads the object token by token rather than into a map,
// because a map would silently keep only the last of two entries with the same id.
func parseRelay(data []byte) (*Manifest, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	if _, err := dec.Token(); err != nil { // '{', checked by ParseManifest
		return nil, fmt.Errorf("relay manifest: %w", err)
	}
	var ops []operation
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("relay manifest: %w", err)
		}
		id, _ := tok.(string) // an object's keys are strings, and ParseManifest checked the JSON
		tok, err = dec.Token()
		if err != nil {
			return nil, fmt.Errorf("relay manifest: %w", err)
		}
		body, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("neither an Apollo manifest (no %q key) nor a Relay one (the value of %q is %s, not query text)",
				"format", id, jsonKind(tok))
		}
		ops = append(ops, operation{id: id, body: body})
	}
	if _, err := dec.Token(); err != nil { // '}'
		return nil, fmt.Errorf("relay manifest: %w", err)
	}
	if len(ops) == 0 {
		return nil, errors.New("relay manifest: empty manifest: no operations")
	}
	m, err := index(ops, false)
	if err != nil {
		return nil, fmt.Errorf("relay manifest: %w", err)
	}
	return m, nil
}

// jsonKind names the kind of JSON value that tok starts, for an error.
func jsonKind(tok json.Token) string {
	switch v := tok.(type) {
	case json.Delim:
		if v == '[' {
			return "an array"
		}
		return "an object"
	case bool:
		return "a boolean"
	case float64, json.Number:
		return "a number"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", tok)
}

// index checks ops and builds the maps of a Manifest. Every id and every body's hash must lead
// to one body: otherwise Lookup would depend on the order of the file. The same id given twice
// to the same body is allowed (it is only redundant). numbered says whether errors count
// operations by place (Apollo) or name them by id (Relay); errors that involve two operations
// always count them, since a Relay id would not tell them apart.
func index(ops []operation, numbered bool) (*Manifest, error) {
	m := &Manifest{
		byID:   make(map[string]int, len(ops)),
		byHash: make(map[string]int, len(ops)),
	}
	where := make([]int, 0, len(ops)) // where[k] is the place in the file of m.ops[k], for errors
	for i, op := range ops {
		switch {
		case op.id == "":
			return nil, fmt.Errorf("%s: empty id", op.label(i+1, numbered))
		case op.body == "":
			return nil, fmt.Errorf("%s: empty body", op.label(i+1, numbered))
		}
		if k, ok := m.byID[op.id]; ok {
			if m.ops[k].body != op.body {
				return nil, fmt.Errorf("%s: id %q is already the id of %s, with a different body",
					op.label(i+1, true), op.id, m.ops[k].label(where[k], true))
			}
			continue
		}
		m.byID[op.id] = len(m.ops)
		sum := sha256.Sum256([]byte(op.body))
		h := hex.EncodeToString(sum[:])
		if _, ok := m.byHash[h]; !ok { // another id of the same body came first
			m.byHash[h] = len(m.ops)
		}
		m.ops = append(m.ops, op)
		where = append(where, i+1)
	}
	// An id that is the hash of another operation's body would make Lookup(id) ambiguous.
	for k, op := range m.ops {
		if j, ok := m.byHash[op.id]; ok && m.ops[j].body != op.body {
			return nil, fmt.Errorf("%s: id %q is the sha256 of the body of %s, a different body",
				op.label(where[k], true), op.id, m.ops[j].label(where[j], true))
		}
	}
	return m, nil
}

// find returns the index in m.ops of the operation that Lookup finds for id.
func (m *Manifest) find(id string) (int, bool) {
	if i, ok := m.byID[id]; ok {
		return i, true
	}
	hash, _ := strings.CutPrefix(id, "sha256:")
	i, ok := m.byHash[hash]
	return i, ok
}

// Lookup returns the text of the operation with this id: the manifest's own id, or the
// lower-case sha256 hex of a body, so that the APQ protocol's extensions.persistedQuery.sha256Hash
// finds every entry whatever its id; the hash may also be written "sha256:<hex>", the documentId
// form of GraphQL over HTTP's persisted documents.
func (m *Manifest) Lookup(id string) (string, bool) {
	i, ok := m.find(id)
	if !ok {
		return "", false
	}
	return m.ops[i].body, true
}

// Allows reports whether query is, byte for byte, the body of an operation in the manifest (its
// sha256 is one of theirs), so that a client sending a safelisted operation's full text is served.
// The same text with another space is another operation, as far as a safelist goes.
func (m *Manifest) Allows(query string) bool {
	sum := sha256.Sum256([]byte(query))
	_, ok := m.byHash[hex.EncodeToString(sum[:])]
	return ok
}

// Names returns the names of the manifest's operations that have one (Apollo's manifests do).
func (m *Manifest) Names() []string {
	var names []string
	for _, op := range m.ops {
		if op.name != "" {
			names = append(names, op.name)
		}
	}
	return names
}

// Len returns the number of operations in the manifest, counting an id given twice once; none
// without a manifest (nil).
func (m *Manifest) Len() int {
	if m == nil {
		return 0
	}
	return len(m.ops)
}
