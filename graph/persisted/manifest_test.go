package persisted

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sha256Hex is the hash under which APQ clients know query.
func sha256Hex(query string) string {
	sum := sha256.Sum256([]byte(query))
	return hex.EncodeToString(sum[:])
}

// mustReadManifest reads a manifest from testdata.
func mustReadManifest(t *testing.T, name string) *Manifest {
	t.Helper()
	m, err := ReadManifest(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("ReadManifest(%q): %v", name, err)
	}
	return m
}

// testdataOps reads the ids and bodies of a testdata manifest with encoding/json alone, as
// the expectation that the parser is checked against.
func testdataOps(t *testing.T, name string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	ops := map[string]string{}
	if strings.Contains(string(data), `"format"`) {
		var doc struct{ Operations []struct{ ID, Body string } }
		if err := json.Unmarshal(data, &doc); err != nil {
			t.Fatal(err)
		}
		for _, o := range doc.Operations {
			ops[o.ID] = o.Body
		}
	} else if err := json.Unmarshal(data, &ops); err != nil {
		t.Fatal(err)
	}
	if len(ops) == 0 {
		t.Fatalf("testdata/%s has no operations", name)
	}
	return ops
}

func TestReadManifestFormats(t *testing.T) {
	for _, tc := range []struct{ file string }{{"apollo.json"}, {"relay.json"}} {
		t.Run(tc.file, func(t *testing.T) {
			m := mustReadManifest(t, tc.file)
			ops := testdataOps(t, tc.file)
			if got := m.Len(); got != len(ops) {
				t.Errorf("Len() = %d, want %d", got, len(ops))
			}
			for id, body := range ops {
				hash := sha256Hex(body)
				for _, key := range []string{id, hash, "sha256:" + hash} {
					if got, ok := m.Lookup(key); !ok || got != body {
						t.Errorf("Lookup(%q) = %.30q, %v; want %.30q, true", key, got, ok, body)
					}
				}
				if !m.Allows(body) {
					t.Errorf("Allows(body of %q) = false, want true", id)
				}
				for _, other := range []string{body + " ", " " + body, strings.Replace(body, " ", "  ", 1)} {
					if m.Allows(other) {
						t.Errorf("Allows(%.30q) = true, want false: it is not the body byte for byte", other)
					}
				}
			}
			someHash := sha256Hex(ops[firstKey(ops)])
			misses := []string{
				"", "unknown", "sha256:",
				strings.ToUpper(someHash),   // hashes are lower-case hex
				"SHA256:" + someHash,        // the prefix is lower-case
				someHash[:63],               // a truncated hash
				"sha256:sha256:" + someHash, // one prefix only
			}
			if id := firstKey(ops); id != someHash {
				misses = append(misses, "sha256:"+id) // the prefix goes with a hash, not with an id
			}
			for _, key := range misses {
				if got, ok := m.Lookup(key); ok {
					t.Errorf("Lookup(%q) = %.30q, true; want a miss", key, got)
				}
			}
		})
	}
}

// firstKey returns the least key of m, to pick one entry deterministically.
func firstKey(m map[string]string) string {
	first := ""
	for k := range m {
		if first == "" || k < first {
			first = k
		}
	}
	return first
}

func TestParseManifestIDs(t *testing.T) {
	const (
		a = "query A { contract(id: 1) { id } }"
		b = "mutation B { noop }"
	)
	m, err := ParseManifest([]byte(`{"format":"apollo-persisted-query-manifest","version":1,"operations":[
		{"id":"a-v1","name":"A","type":"query","body":"query A { contract(id: 1) { id } }"},
		{"id":"a-v1","name":"A","type":"query","body":"query A { contract(id: 1) { id } }"},
		{"id":"a-v2","name":"A","type":"query","body":"query A { contract(id: 1) { id } }"},
		{"id":"b","name":"B","type":"mutation","body":"mutation B { noop }"}]}`))
	if err != nil {
		t.Fatalf("ParseManifest: %v", err)
	}
	// The same id twice with the same body counts once; two ids of one body count twice.
	if got := m.Len(); got != 3 {
		t.Errorf("Len() = %d, want 3", got)
	}
	for _, tc := range []struct{ key, want string }{
		{"a-v1", a}, {"a-v2", a}, {sha256Hex(a), a}, {"sha256:" + sha256Hex(a), a},
		{"b", b}, {sha256Hex(b), b},
	} {
		if got, ok := m.Lookup(tc.key); !ok || got != tc.want {
			t.Errorf("Lookup(%q) = %q, %v; want %q, true", tc.key, got, ok, tc.want)
		}
	}
}

func TestParseManifestErrors(t *testing.T) {
	// Every body holds "SECRET", and no error may: a body can be long, and an error is logged.
	const (
		a = `"query A { SECRET }"`
		b = `"query B { SECRET }"`
	)
	apollo := func(ops string) string {
		return `{"format":"apollo-persisted-query-manifest","version":1,"operations":[` + ops + `]}`
	}
	for _, tc := range []struct {
		name, data, want string
	}{
		{"empty file", "", "neither an Apollo nor a Relay manifest"},
		{"array", `[` + a + `]`, "neither an Apollo nor a Relay manifest"},
		{"string", a, "neither an Apollo nor a Relay manifest"},
		{"broken JSON", `{"format": "apollo-persisted-query-manifest",`, "not valid JSON"},
		{"neither format", `{"name":"facade","version":2}`, `neither an Apollo manifest (no "format" key) nor a Relay one (the value of "version" is a number`},

		{"unknown format", `{"format":"apollo-persisted-query-manifest-v2","version":1,"operations":[{"id":"a","type":"query","body":` + a + `}]}`,
			`unknown format "apollo-persisted-query-manifest-v2"`},
		{"no format", `{"version":1,"operations":[{"id":"a","type":"query","body":` + a + `}]}`, "no format"},
		{"unsupported version", `{"format":"apollo-persisted-query-manifest","version":2,"operations":[{"id":"a","type":"query","body":` + a + `}]}`,
			"unsupported version 2"},
		{"no version", `{"format":"apollo-persisted-query-manifest","operations":[{"id":"a","type":"query","body":` + a + `}]}`, "no version"},
		{"no operations", `{"format":"apollo-persisted-query-manifest","version":1}`, "empty manifest"},
		{"empty operations", apollo(``), "empty manifest"},
		{"empty body", apollo(`{"id":"a","name":"A","type":"query","body":` + a + `},{"id":"b","name":"ContractTickets","type":"query","body":""}`),
			`operation 2 ("ContractTickets"): empty body`},
		{"empty id", apollo(`{"id":"","name":"A","type":"query","body":` + a + `}`), `operation 1 ("A"): empty id`},
		{"empty id, no name", apollo(`{"type":"query","body":` + a + `}`), `operation 1: empty id`},
		{"unknown type", apollo(`{"id":"a","name":"A","type":"fragment","body":` + a + `}`), `operation 1 ("A"): unknown type "fragment"`},
		{"no type", apollo(`{"id":"a","name":"A","body":` + a + `}`), `operation 1 ("A"): no type`},
		{"body not a string", apollo(`{"id":"a","name":"A","type":"query","body":1}`), "apollo manifest"},
		{"one id, two bodies", apollo(`{"id":"x","name":"A","type":"query","body":` + a + `},{"id":"x","name":"B","type":"query","body":` + b + `}`),
			`operation 2 ("B"): id "x" is already the id of operation 1 ("A"), with a different body`},
		{"id is another body's hash", apollo(`{"id":"a","name":"A","type":"query","body":` + a + `},{"id":"` + sha256Hex("query A { SECRET }") + `","name":"B","type":"query","body":` + b + `}`),
			`operation 2 ("B"): id "` + sha256Hex("query A { SECRET }") + `" is the sha256 of the body of operation 1 ("A"), a different body`},

		{"relay empty", `{}`, "empty manifest"},
		{"relay number", `{"abc":` + a + `,"def":1}`, `the value of "def" is a number, not query text`},
		{"relay object", `{"abc":{"text":` + a + `}}`, `the value of "abc" is an object`},
		{"relay array", `{"abc":[` + a + `]}`, `the value of "abc" is an array`},
		{"relay null", `{"abc":null}`, `the value of "abc" is null`},
		{"relay empty body", `{"abc":` + a + `,"def":""}`, `operation "def": empty body`},
		{"relay empty id", `{"abc":` + a + `,"":` + b + `}`, `operation 2: empty id`},
		{"relay one id, two bodies", `{"x":` + a + `,"y":` + a + `,"x":` + b + `}`,
			`operation 3: id "x" is already the id of operation 1, with a different body`},
		{"trailing comma", `{"abc":` + a + `,}`, "not valid JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := ParseManifest([]byte(tc.data))
			if err == nil {
				t.Fatalf("ParseManifest(%s) = %d operations, want an error containing %q", tc.data, m.Len(), tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ParseManifest(%s) = %v, want an error containing %q", tc.data, err, tc.want)
			}
			if strings.Contains(err.Error(), "SECRET") {
				t.Errorf("ParseManifest(%s) = %v: the error shows a body", tc.data, err)
			}
		})
	}
}

func TestReadManifestErrorsNamePath(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.json")
	if _, err := ReadManifest(missing); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("ReadManifest(%q) = %v, want an error naming the path", missing, err)
	}
	bad := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(bad, []byte(`{"format":"apollo-persisted-query-manifest","version":3}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadManifest(bad); err == nil || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), "version 3") {
		t.Errorf("ReadManifest(%q) = %v, want an error naming the path and the version", bad, err)
	}
}
