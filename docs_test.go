package main

import (
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"
)

// TestCommentsCiteFilesThatExist: a comment that sends the reader to a document must name one in
// the repository (six cited the upstream's description, which lived outside it). A path is read
// from the root; a bare name must be some file of that name in the repository, but for the
// tables benchmarks write (written, not cited).
func TestCommentsCiteFilesThatExist(t *testing.T) {
	var docs []string
	filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".md") {
			docs = append(docs, path)
		}
		if d != nil && d.IsDir() && (d.Name() == "node_modules" || strings.HasPrefix(d.Name(), ".git")) {
			return filepath.SkipDir
		}
		return err
	})
	cited := regexp.MustCompile(`(?:^|[\s("'\x60])((?:[\w.-]+/)*[\w-]+\.md)\b`)
	filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(b), "\n") {
			_, comment, ok := strings.Cut(line, "//")
			if !ok {
				continue
			}
			for _, m := range cited.FindAllStringSubmatch(comment, -1) {
				name := m[1]
				found := slices.Contains(docs, filepath.Clean(name))
				if !strings.Contains(name, "/") {
					found = slices.ContainsFunc(docs, func(d string) bool { return filepath.Base(d) == name })
				}
				if !found && name != "SCALE.md" { // bench/fleet scale's table, written where asked
					t.Errorf("%s:%d cites %s, which is not in the repository", path, i+1, name)
				}
			}
		}
		return nil
	})
}

// TestReadmeIsTrueToTheMachine: the Go the README names is the one go.mod asks for, the README
// links to every file in docs/, and the relative links of README.md and docs/*.md lead to files
// that exist (and, with a fragment, to a heading of that file).
func TestReadmeIsTrueToTheMachine(t *testing.T) {
	mod, err := os.ReadFile("go.mod")
	if err != nil {
		t.Fatal(err)
	}
	goLine := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(mod)
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	if goLine == nil || !strings.Contains(string(readme), "Go "+string(goLine[1])) {
		t.Errorf("README.md does not name the Go go.mod asks for (%s)", goLine)
	}
	if strings.Contains(string(readme), "Go 1.26 is all it needs") {
		t.Error("README.md still says Go 1.26 is all it needs")
	}
	files, err := filepath.Glob("docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	link := regexp.MustCompile(`\]\(([^)#:]*)(?:#([^)]*))?\)`)
	for _, file := range files {
		if !strings.Contains(string(readme), "]("+filepath.ToSlash(file)+")") {
			t.Errorf("README.md does not link to %s", file)
		}
	}
	for _, file := range append([]string{"README.md"}, files...) {
		doc, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range link.FindAllStringSubmatch(string(doc), -1) {
			target := file
			if m[1] != "" {
				target = filepath.Join(filepath.Dir(file), m[1])
			}
			if _, err := os.Stat(target); err != nil {
				t.Errorf("%s links to %s: %v", file, m[1], err)
				continue
			}
			if m[2] != "" && !slices.Contains(headingAnchors(t, target), m[2]) {
				t.Errorf("%s links to %s#%s: %s has no such heading", file, m[1], m[2], target)
			}
		}
	}
}

// headingAnchors are the fragments GitHub gives a Markdown file's headings: lower case, spaces
// as hyphens, punctuation but hyphens and underscores dropped.
func headingAnchors(t *testing.T, file string) []string {
	t.Helper()
	doc, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var anchors []string
	for _, m := range regexp.MustCompile(`(?m)^#+ (.*)$`).FindAllStringSubmatch(string(doc), -1) {
		anchor := strings.Map(func(r rune) rune {
			switch {
			case r == ' ':
				return '-'
			case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
				return unicode.ToLower(r)
			}
			return -1
		}, m[1])
		anchors = append(anchors, anchor)
	}
	return anchors
}

// documentedLogLine is the example request line docs/logs.md shows, decoded in order.
func documentedLogLine(t *testing.T) []string {
	t.Helper()
	doc, err := os.ReadFile("docs/logs.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(doc), "\n") {
		if strings.HasPrefix(line, `{"time":`) && strings.Contains(line, `"msg":"request"`) {
			return jsonKeys(t, line)
		}
	}
	t.Fatal("docs/logs.md shows no request log line")
	return nil
}

// jsonKeys returns the keys of a JSON object's top level, in order.
func jsonKeys(t *testing.T, line string) []string {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(line))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("%q is not a JSON object", line)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

// TestImportRules holds every package of the module to its row of docs/architecture.md's
// table: what it imports (go list) must be in "may import", and nothing it depends on, directly
// or not (go list -deps), may be in "never depends on". So the drawing is the rule.
func TestImportRules(t *testing.T) {
	doc, err := os.ReadFile("docs/architecture.md")
	if err != nil {
		t.Fatal(err)
	}
	const module = "github.com/enneo-facade/facade"
	type rule struct{ may, never []string }
	rules := map[string]rule{}
	quoted := regexp.MustCompile("`([^`]+)`")
	path := func(s string) string {
		if s == "." {
			return module
		}
		if !strings.Contains(strings.SplitN(s, "/", 2)[0], ".") {
			return module + "/" + s // the module's own
		}
		return s
	}
	for _, line := range strings.Split(string(doc), "\n") {
		cells := strings.Split(line, "|")
		if len(cells) != 6 || !strings.HasPrefix(strings.TrimSpace(cells[1]), "`") {
			continue
		}
		var r rule
		for _, m := range quoted.FindAllStringSubmatch(cells[3], -1) {
			r.may = append(r.may, path(m[1]))
		}
		if strings.Contains(cells[3], "any package of the module") {
			r.may = append(r.may, module)
		}
		for _, m := range quoted.FindAllStringSubmatch(cells[4], -1) {
			r.never = append(r.never, path(m[1]))
		}
		rules[path(quoted.FindStringSubmatch(cells[1])[1])] = r
	}
	within := func(pkg, prefix string) bool { return pkg == prefix || strings.HasPrefix(pkg, prefix+"/") }
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports ","}} {{join .Deps ","}}`, "./...").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Split(line, " ")
		pkg := fields[0]
		r, ok := rules[pkg]
		if !ok {
			t.Errorf("%s has no row in docs/architecture.md", pkg)
			continue
		}
		for _, imp := range strings.Split(fields[1], ",") {
			if imp == "" || !strings.Contains(strings.SplitN(imp, "/", 2)[0], ".") {
				continue // the standard library
			}
			allowed := slices.ContainsFunc(r.may, func(m string) bool {
				if m == module && pkg == module {
					return within(imp, module) // main: any package of the module
				}
				if within(m, module) && m != module {
					return imp == m // the module's packages, one by one
				}
				return within(imp, m)
			})
			if !allowed {
				t.Errorf("%s imports %s, which its row does not allow", pkg, imp)
			}
		}
		for _, dep := range strings.Split(fields[2], ",") {
			for _, never := range r.never {
				if within(dep, never) {
					t.Errorf("%s depends on %s, which its row forbids", pkg, dep)
				}
			}
		}
	}
	if len(rules) < 15 {
		t.Errorf("read %d rows from docs/architecture.md", len(rules))
	}
}
