package playgroundtest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// outcomeTB records how chromiumPath ended a test instead of ending it.
type outcomeTB struct {
	testing.TB
	outcome string // "skip: ...", "fatal: ..." or ""
}

// stop unwinds chromiumPath as runtime.Goexit would for a real test.
type stop struct{}

func (tb *outcomeTB) Helper()           {}
func (tb *outcomeTB) Skip(args ...any)  { tb.end("skip", args...) }
func (tb *outcomeTB) Fatal(args ...any) { tb.end("fatal", args...) }
func (tb *outcomeTB) Fatalf(f string, args ...any) {
	tb.outcome = "fatal: " + f
	panic(stop{})
}

func (tb *outcomeTB) end(kind string, args ...any) {
	var b strings.Builder
	for _, a := range args {
		b.WriteString(a.(string))
	}
	tb.outcome = kind + ": " + b.String()
	panic(stop{})
}

func runChromiumPath(t *testing.T, env map[string]string, candidates []string) (path, outcome string) {
	tb := &outcomeTB{TB: t}
	func() {
		defer func() {
			if r := recover(); r != nil {
				if _, ok := r.(stop); !ok {
					panic(r)
				}
			}
		}()
		path = chromiumPath(tb, func(k string) string { return env[k] }, candidates)
	}()
	return path, tb.outcome
}

func TestChromiumPath(t *testing.T) {
	dir := t.TempDir()
	fake := filepath.Join(dir, "chromium")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing")

	for _, tt := range []struct {
		name        string
		env         map[string]string
		candidates  []string
		wantPath    string
		wantOutcome string // prefix
	}{
		{"first candidate found", nil, []string{missing, fake}, fake, ""},
		{"CHROMIUM wins", map[string]string{"CHROMIUM": fake}, []string{missing}, fake, ""},
		{"CHROMIUM wrong fails", map[string]string{"CHROMIUM": missing}, []string{fake}, "", "fatal: CHROMIUM="},
		{"absent skips", nil, []string{missing}, "", "skip: no Chromium found: run `apt-get install chromium`"},
		{"absent under CI fails", map[string]string{"CI": "true"}, []string{missing}, "", "fatal: no Chromium found: run `apt-get install chromium`"},
		{"CI=false still skips", map[string]string{"CI": "false"}, []string{missing}, "", "skip: "},
	} {
		path, outcome := runChromiumPath(t, tt.env, tt.candidates)
		if path != tt.wantPath || !strings.HasPrefix(outcome, tt.wantOutcome) || (tt.wantOutcome == "") != (outcome == "") {
			t.Errorf("%s: chromiumPath = %q, %q; want %q, %q...", tt.name, path, outcome, tt.wantPath, tt.wantOutcome)
		}
	}
}
